// tmpfs alone: files in pages, holes, truncation, the size and inode limits (ENOSPC, a
// short write at the edge), POSIX's refusals, and an unlinked file that lives while held.

import { describe, expect, it } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { RamRangePages } from '../lib/pages.js';
import { parseSize } from './size.js';
import { Tmpfs, TMPFS_ROOT } from './tmpfs.js';

const owner = { uid: 0, gid: 0 };
const text = (value: string) => new TextEncoder().encode(value);

function makeTmpfs(sizeBytes = 1024 * 1024, inodeLimit = 100) {
  const ram = Ram.allocate(4 * 1024 * 1024);
  const pages = new RamRangePages(ram, ram.base, ram.end);
  return { tmpfs: new Tmpfs({ pages, sizeBytes, inodeLimit, now: () => 1_700_000_000 }), pages };
}

describe('tmpfs', () => {
  it('keeps what is written, reads holes as zeros and takes pages only for data', async () => {
    const { tmpfs, pages } = makeTmpfs();
    const file = tmpfs.create(TMPFS_ROOT, 'notes', 0o644, owner);
    expect(await tmpfs.write(file.inode, 0, text('hello'))).toBe(5);
    expect(await tmpfs.write(file.inode, 3 * 4096 + 10, text('far'))).toBe(3);
    expect(pages.pagesInUse).toBe(2);
    const all = tmpfs.read(file.inode, 0, 1 << 20);
    expect(all.length).toBe(3 * 4096 + 13);
    expect(new TextDecoder().decode(all.subarray(0, 5))).toBe('hello');
    expect(all.subarray(5, 3 * 4096 + 10).every((byte) => byte === 0)).toBe(true);
    expect(tmpfs.getattr(file.inode)).toMatchObject({ size: 3 * 4096 + 13, sectors: 16, mode: 0o100644, links: 1 });
    expect(tmpfs.readdir(TMPFS_ROOT).map((entry) => entry.name)).toEqual(['.', '..', 'notes']);
  });

  it('truncates: pages past the end go back, and the tail of the last reads as zeros when the file grows again', async () => {
    const { tmpfs, pages } = makeTmpfs();
    const file = tmpfs.create(TMPFS_ROOT, 'cut', 0o644, owner);
    await tmpfs.write(file.inode, 0, new Uint8Array(3 * 4096).fill(7));
    await tmpfs.truncate(file.inode, 100);
    expect(pages.pagesInUse).toBe(1);
    await tmpfs.truncate(file.inode, 4096);
    const data = tmpfs.read(file.inode, 0, 4096);
    expect(data.subarray(0, 100).every((byte) => byte === 7)).toBe(true);
    expect(data.subarray(100).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses past its size with ENOSPC, writing what fits first (a short write)', async () => {
    const { tmpfs } = makeTmpfs(2 * 4096);
    const file = tmpfs.create(TMPFS_ROOT, 'big', 0o644, owner);
    expect(await tmpfs.write(file.inode, 0, new Uint8Array(3 * 4096))).toBe(2 * 4096);
    await expect(tmpfs.write(file.inode, 2 * 4096, new Uint8Array(1))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(tmpfs.statistics()).toMatchObject({ blocks: 2, freeBlocks: 0, blockBytes: 4096 });
    await tmpfs.unlink(TMPFS_ROOT, 'big');
    expect(tmpfs.statistics().freeBlocks).toBe(2);
  });

  it('refuses a new inode past its inode limit with ENOSPC', () => {
    const { tmpfs } = makeTmpfs(1 << 20, 3);
    tmpfs.create(TMPFS_ROOT, 'one', 0o644, owner);
    tmpfs.mkdir(TMPFS_ROOT, 'two', 0o755, owner);
    expect(() => tmpfs.create(TMPFS_ROOT, 'three', 0o644, owner)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
  });

  it("answers POSIX's refusals", async () => {
    const { tmpfs } = makeTmpfs();
    const directory = tmpfs.mkdir(TMPFS_ROOT, 'd', 0o755, owner);
    tmpfs.create(directory.inode, 'f', 0o644, owner);
    expect(() => tmpfs.create(TMPFS_ROOT, 'd', 0o644, owner)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => tmpfs.lookup(TMPFS_ROOT, 'missing')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => tmpfs.lookup(TMPFS_ROOT, 'x'.repeat(256))).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    await expect(tmpfs.rmdir(TMPFS_ROOT, 'd')).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await expect(tmpfs.unlink(TMPFS_ROOT, 'd')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(tmpfs.rename(TMPFS_ROOT, 'd', directory.inode, 'inside')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(() => tmpfs.link(TMPFS_ROOT, 'again', directory.inode)).toThrow(expect.objectContaining({ code: 'EPERM' }));
    expect(() => tmpfs.readlink(directory.inode)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(tmpfs.lookup(directory.inode, '..').inode).toBe(TMPFS_ROOT);
    expect(tmpfs.getattr(TMPFS_ROOT).links).toBe(3);
  });

  it('keeps an unlinked file readable while held, and frees it at the last release', async () => {
    const { tmpfs, pages } = makeTmpfs();
    const file = tmpfs.create(TMPFS_ROOT, 'open', 0o644, owner);
    await tmpfs.write(file.inode, 0, text('still here'));
    tmpfs.hold(file.inode);
    await tmpfs.unlink(TMPFS_ROOT, 'open');
    expect(new TextDecoder().decode(tmpfs.read(file.inode, 0, 100))).toBe('still here');
    await tmpfs.release(file.inode);
    expect(pages.pagesInUse).toBe(0);
    expect(() => tmpfs.getattr(file.inode)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('renames over an existing file, freeing the one replaced', async () => {
    const { tmpfs, pages } = makeTmpfs();
    const first = tmpfs.create(TMPFS_ROOT, 'a', 0o644, owner);
    const second = tmpfs.create(TMPFS_ROOT, 'b', 0o644, owner);
    await tmpfs.write(second.inode, 0, text('replaced'));
    await tmpfs.rename(TMPFS_ROOT, 'a', TMPFS_ROOT, 'b');
    expect(tmpfs.lookup(TMPFS_ROOT, 'b').inode).toBe(first.inode);
    expect(pages.pagesInUse).toBe(0);
  });

  it('reads sizes as Linux tmpfs size= does', () => {
    expect(parseSize('64M')).toBe(64 * 1024 * 1024);
    expect(parseSize('4K')).toBe(4096);
    expect(parseSize(12345)).toBe(12345);
    expect(() => parseSize('lots')).toThrow(/not a size/);
  });
});
