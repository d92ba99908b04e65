// Unpacking an initramfs into the root as Linux's init/initramfs.c does: directories,
// files, symlinks and hard links with their modes and times, "./" prefixes dropped; and
// what GNU `cpio -o -H newc` writes unpacks byte-exact.

import { describe, expect, it } from 'vitest';
import { encodeNewc } from '../../hal/cpio_newc.js';
import { OpenFlags } from '../../ipc/interfaces/fs.js';
import { cpioCreate, cpioMissing } from '../../test/harness/cpio_tool.js';
import { unpackInitramfs } from './initramfs.js';
import { decode, testSystem, text } from './test_support.js';
import { sameBytes } from '../../test/harness/bytes.js';

const me = 'tester';

async function contents(vfs: Awaited<ReturnType<typeof testSystem>>['vfs'], path: string): Promise<Uint8Array> {
  const { description, stat } = await vfs.open(me, { path, flags: OpenFlags.O_RDONLY });
  const { data } = await vfs.read(me, { description, length: stat.size + 1 });
  await vfs.close(me, { description });
  return data;
}

describe('initramfs unpacking', () => {
  it('makes directories, files, symlinks and hard links with their modes, owners and times', async () => {
    const { vfs } = await testSystem(['root']);
    const archive = encodeNewc([
      { name: '.', mode: 0o040755, data: new Uint8Array(0) },
      { name: './etc', mode: 0o040750, modifyTime: 1_600_000_000, data: new Uint8Array(0) },
      { name: './etc/motd', mode: 0o100640, uid: 7, gid: 8, modifyTime: 1_600_000_001, data: text('welcome\n') },
      { name: 'bin', mode: 0o040755, data: new Uint8Array(0) },
      { name: 'bin/tool', mode: 0o100755, links: 2, inode: 40, data: text('#!tool') },
      { name: 'bin/same-tool', mode: 0o100755, links: 2, inode: 40, data: new Uint8Array(0) },
      { name: 'init', mode: 0o120777, data: text('bin/tool') },
    ]);
    expect(await unpackInitramfs(vfs, archive)).toEqual({ directories: 2, files: 3, symlinks: 1, bytes: 14 });
    expect(decode(await contents(vfs, '/etc/motd'))).toBe('welcome\n');
    expect(await vfs.stat(me, { path: '/etc/motd' })).toMatchObject({ mode: 0o100640, uid: 7, gid: 8, modifyTime: 1_600_000_001 });
    expect(await vfs.stat(me, { path: '/etc' })).toMatchObject({ mode: 0o040750, modifyTime: 1_600_000_000 });
    expect(await vfs.readlink(me, { path: '/init' })).toEqual({ target: 'bin/tool' });
    expect(decode(await contents(vfs, '/init'))).toBe('#!tool');
    const tool = await vfs.stat(me, { path: '/bin/tool' });
    expect(await vfs.stat(me, { path: '/bin/same-tool' })).toMatchObject({ inode: tool.inode, links: 2 });
  });

  it('names the member it cannot make', async () => {
    const { vfs } = await testSystem(['root']);
    const archive = encodeNewc([{ name: 'dev/null', mode: 0o020666, data: new Uint8Array(0) }]);
    await expect(unpackInitramfs(vfs, archive)).rejects.toThrow(/initramfs member dev\/null: /);
  });

  it.skipIf(cpioMissing !== undefined)(cpioMissing ? `unpacks what GNU cpio -o -H newc writes (skipped: ${cpioMissing})` : 'unpacks what GNU cpio -o -H newc writes', async () => {
    const { vfs } = await testSystem(['root']);
    const big = Uint8Array.from({ length: 70_000 }, (_, index) => (index * 31) & 0xff);
    await unpackInitramfs(vfs, cpioCreate([{ name: 'a/b/big', content: big }, { name: 'a/small', content: text('small') }]));
    expect(sameBytes(await contents(vfs, '/a/b/big'), big)).toBe(true);
    expect(decode(await contents(vfs, '/a/small'))).toBe('small');
  });
});
