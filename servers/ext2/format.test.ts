// mkfs: the layout mke2fs would choose, an image e2fsck -fn passes, and files written into
// it that debugfs reads back.

import { describe, expect, it } from 'vitest';
import { MemoryBlockStore } from './block_store.js';
import { Ext2Filesystem } from './filesystem.js';
import { chooseGeometry, formatFilesystem } from './format.js';
import { checkImage, debugfs, dumpFile, e2fsprogsMissing, makeImage } from '../../test/harness/ext2_tools.js';

const MiB = 1024 * 1024;
const uuid = Uint8Array.from({ length: 16 }, (_, index) => index + 1);
const title = (text: string) => (e2fsprogsMissing ? `${text} (skipped: ${e2fsprogsMissing})` : text);

function field(dump: string, name: string): string {
  const line = dump.split('\n').find((text) => text.startsWith(`${name}:`));
  if (!line) throw new Error(`debugfs stats has no "${name}"`);
  return line.slice(name.length + 1).trim();
}

describe.skipIf(e2fsprogsMissing)(title('formatFilesystem'), () => {
  for (const [bytes, blockBytes] of [[2 * MiB, undefined], [8 * MiB, undefined], [8 * MiB, 2048], [40 * MiB, 4096]] as const) {
    it(`makes a ${bytes / MiB} MiB filesystem${blockBytes ? ` with ${blockBytes}-byte blocks` : ''} that e2fsck -fn passes, laid out as mke2fs lays it out`, async () => {
      const store = new MemoryBlockStore(new Uint8Array(bytes));
      const geometry = await formatFilesystem(store, { uuid, now: 1_800_000_000, label: 'fresh', ...(blockBytes ? { blockBytes } : {}) });
      const check = checkImage(store.image);
      expect(check.status, check.output).toBe(0);
      const ours = debugfs(store.image, 'stats');
      const theirs = debugfs(makeImage({ bytes, ...(blockBytes ? { blockBytes } : {}) }), 'stats');
      for (const name of ['Block count', 'Block size', 'Inode count', 'Blocks per group', 'Inodes per group', 'Inode size', 'First block']) {
        expect(field(ours, name), name).toBe(field(theirs, name));
      }
      expect(field(ours, 'Filesystem volume name')).toBe('fresh');
      expect(field(ours, 'Filesystem features')).toBe('filetype sparse_super large_file');
      expect(geometry.blocksCount).toBe(Number(field(ours, 'Block count')));
    });
  }

  it('takes files and directories that then read back through debugfs', async () => {
    const store = new MemoryBlockStore(new Uint8Array(16 * MiB));
    await formatFilesystem(store, { uuid, now: 1_800_000_000 });
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
    const directory = await filesystem.mkdir(filesystem.rootInode, 'etc', 0o755, { uid: 0, gid: 0 });
    const file = await filesystem.create(directory, 'motd', 0o644, { uid: 0, gid: 0 });
    await filesystem.write(file, 0, new TextEncoder().encode('welcome to baton\n'));
    await filesystem.unmount();
    expect(checkImage(store.image).status).toBe(0);
    expect(new TextDecoder().decode(dumpFile(store.image, '/etc/motd'))).toBe('welcome to baton\n');
  });

  it('refuses a device too small to hold ext2', async () => {
    await expect(formatFilesystem(new MemoryBlockStore(new Uint8Array(16 * 1024)), { uuid, now: 0 })).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('chooses 1 KiB blocks below 512 MiB and 4 KiB above, as mke2fs.conf does', () => {
    expect(chooseGeometry(100 * MiB).blockBytes).toBe(1024);
    expect(chooseGeometry(1024 * MiB).blockBytes).toBe(4096);
  });
});
