// `npm run mkfs`: the host tool's image passes e2fsck -fn, and debugfs reads back the
// folder it was made from; bad arguments are refused with the usage.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from './main.js';
import { checkImage, debugfs, dumpTree, e2fsprogsMissing, sha256, temporaryDirectory, writeTree } from '../../test/harness/ext2_tools.js';

const title = (text: string) => (e2fsprogsMissing ? `${text} (skipped: ${e2fsprogsMissing})` : text);
const text = (value: string) => new TextEncoder().encode(value);

describe.skipIf(e2fsprogsMissing)(title('mkfs'), () => {
  it('makes an image from a folder that e2fsck -fn passes and debugfs reads back', async () => {
    const work = temporaryDirectory('baton-mkfs-');
    try {
      const source = join(work.path, 'source');
      const payload = Uint8Array.from({ length: 200_000 }, (_, index) => (index * 31) & 0xff);
      writeTree(source, [
        { path: 'etc/motd', kind: 'file', content: text('hello\n') },
        { path: 'bin/payload', kind: 'file', content: payload },
        { path: 'var/empty', kind: 'directory' },
        { path: 'sparse', kind: 'sparse', size: 3 * 1024 * 1024, pieces: [{ offset: 2 * 1024 * 1024, bytes: text('x') }] },
        { path: 'link', kind: 'symlink', target: 'etc/motd' },
      ]);
      const image = join(work.path, 'disk.img');
      expect(await main([image, '16M', '--from', source, '--label', 'baton', '--block-size', '2048'])).toBe(0);
      const bytes = new Uint8Array(readFileSync(image));
      const check = checkImage(bytes);
      expect(check.status, check.output).toBe(0);
      expect(debugfs(bytes, 'stats')).toMatch(/Filesystem volume name:\s+baton/);
      expect(debugfs(bytes, 'stats')).toMatch(/Block size:\s+2048/);
      expect(debugfs(bytes, 'stats')).toMatch(/Mount count:\s+0\b/);
      const tree = dumpTree(bytes);
      expect(tree.get('etc/motd')).toEqual({ kind: 'file', size: 6, sha256: sha256(text('hello\n')) });
      expect(tree.get('bin/payload')).toEqual({ kind: 'file', size: payload.length, sha256: sha256(payload) });
      expect(tree.get('var/empty')).toEqual({ kind: 'directory' });
      expect(tree.get('link')).toEqual({ kind: 'symlink', target: 'etc/motd' });
      expect(tree.get('sparse')).toMatchObject({ kind: 'file', size: 3 * 1024 * 1024 });
      // The sparse file stayed sparse: one data block and the two indirect blocks above it.
      expect(debugfs(bytes, 'stat /sparse')).toMatch(/TOTAL: 3\b/);
    } finally {
      work.remove();
    }
  });

  it('refuses bad arguments with the usage (status 2)', async () => {
    expect(await main([])).toBe(2);
    expect(await main(['x.img', 'banana'])).toBe(2);
    expect(await main(['x.img', '8M', '--block-size', '3000'])).toBe(2);
    expect(await main(['x.img', '8M', '--from', '/nonexistent-folder'])).toBe(2);
  });
});
