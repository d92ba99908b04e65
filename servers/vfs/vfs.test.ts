// The VFS over tmpfs instances in this thread: path resolution (`.`, `..`, symlinks, the
// 40-link limit, name lengths), mounts (crossing in and out, `..` at a mount root, EXDEV,
// EROFS, EBUSY), open-file descriptions shared by dup and share, open's flags, and the page
// cache's write-back (the filesystem sees data at fsync and the last close, not before).

import { describe, expect, it } from 'vitest';
import { OpenFlags, Whence } from '../../ipc/interfaces/fs.js';
import { Ram } from '../../hal/ram.js';
import { RamRangePages } from '../lib/pages.js';
import { tmpfsHandlers } from '../tmpfs/service.js';
import { Tmpfs } from '../tmpfs/tmpfs.js';
import { decode, testSystem, text, type FilesystemHandlers } from './test_support.js';
import { sameBytes } from '../../test/harness/bytes.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW } = OpenFlags;
const me = 'tester';

async function writeFile(vfs: Awaited<ReturnType<typeof testSystem>>['vfs'], path: string, content: string) {
  const { description } = await vfs.open(me, { path, flags: O_WRONLY | O_CREAT | O_TRUNC });
  await vfs.write(me, { description, data: text(content) });
  await vfs.close(me, { description });
}

async function readFile(vfs: Awaited<ReturnType<typeof testSystem>>['vfs'], path: string, at?: number) {
  const { description } = await vfs.open(me, { path, flags: O_RDONLY, ...(at === undefined ? {} : { at }) });
  const { data } = await vfs.read(me, { description, length: 1 << 20 });
  await vfs.close(me, { description });
  return decode(data);
}

describe('path resolution', () => {
  it('walks `.`, `..` and repeated slashes, and stays at / for `..` of the root', async () => {
    const { vfs } = await testSystem(['root']);
    await vfs.mkdir(me, { path: '/a' });
    await vfs.mkdir(me, { path: '/a/b' });
    await writeFile(vfs, '/a/b/file', 'deep');
    expect(await readFile(vfs, '/a/./b/../b//file')).toBe('deep');
    expect(await readFile(vfs, '/../../a/b/file')).toBe('deep');
    expect((await vfs.stat(me, { path: '/..' })).inode).toBe((await vfs.stat(me, { path: '/' })).inode);
  });

  it('follows symlinks, relative to their directory or from the root, and stops at 40', async () => {
    const { vfs } = await testSystem(['root']);
    await vfs.mkdir(me, { path: '/etc' });
    await writeFile(vfs, '/etc/motd', 'welcome');
    await vfs.symlink(me, { target: 'motd', path: '/etc/relative' });
    await vfs.symlink(me, { target: '/etc', path: '/shortcut' });
    await vfs.symlink(me, { target: '../etc/relative', path: '/etc/chain' });
    expect(await readFile(vfs, '/etc/relative')).toBe('welcome');
    expect(await readFile(vfs, '/shortcut/chain')).toBe('welcome');
    expect((await vfs.lstat(me, { path: '/shortcut' })).mode & 0o170000).toBe(0o120000);
    expect((await vfs.stat(me, { path: '/shortcut' })).mode & 0o170000).toBe(0o040000);
    expect(await vfs.readlink(me, { path: '/etc/chain' })).toEqual({ target: '../etc/relative' });

    await vfs.symlink(me, { target: '/loop', path: '/loop' });
    await expect(vfs.stat(me, { path: '/loop' })).rejects.toMatchObject({ code: 'ELOOP' });
    // 40 links in a row resolve; the 41st is ELOOP, as Linux's MAXSYMLINKS.
    for (let index = 1; index <= 41; index++) await vfs.symlink(me, { target: index === 1 ? '/etc/motd' : `/l${index - 1}`, path: `/l${index}` });
    expect(await readFile(vfs, '/l40')).toBe('welcome');
    await expect(vfs.stat(me, { path: '/l41' })).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('refuses what Linux refuses: ENOENT, ENOTDIR, ENAMETOOLONG', async () => {
    const { vfs } = await testSystem(['root']);
    await writeFile(vfs, '/file', 'x');
    await expect(vfs.stat(me, { path: '/missing/thing' })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(vfs.stat(me, { path: '/file/thing' })).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(vfs.stat(me, { path: '/file/' })).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(vfs.stat(me, { path: '' })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(vfs.stat(me, { path: `/${'n'.repeat(256)}` })).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(vfs.stat(me, { path: '/a'.repeat(2048) })).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(vfs.stat(me, { path: `/${'n'.repeat(255)}` })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('resolves relative paths from an open directory (openat)', async () => {
    const { vfs } = await testSystem(['root']);
    await vfs.mkdir(me, { path: '/home' });
    await writeFile(vfs, '/home/note', 'relative');
    const { description: home } = await vfs.open(me, { path: '/home', flags: O_RDONLY | O_DIRECTORY });
    expect(await readFile(vfs, 'note', home)).toBe('relative');
    expect(await readFile(vfs, '/home/note', home)).toBe('relative');
    const { description: file } = await vfs.open(me, { path: 'note', at: home, flags: O_RDONLY });
    await expect(vfs.stat(me, { path: 'x', at: file })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('mounts', () => {
  it('crosses into a mount and back out through `..`, and lists the table', async () => {
    const { vfs } = await testSystem(['root', 'tmp']);
    await vfs.mkdir(me, { path: '/tmp' });
    await writeFile(vfs, '/beside', 'on root');
    const row = await vfs.mount({ path: '/tmp', service: 'tmp' });
    expect(row).toMatchObject({ path: '/tmp', service: 'tmp', type: 'tmpfs', readOnly: false });
    await writeFile(vfs, '/tmp/scratch', 'on tmp');
    expect(await readFile(vfs, '/tmp/../beside')).toBe('on root');
    expect(await readFile(vfs, '/tmp/scratch')).toBe('on tmp');
    const tmp = await vfs.stat(me, { path: '/tmp' });
    const root = await vfs.stat(me, { path: '/' });
    expect(tmp.device).not.toBe(root.device);
    expect((await vfs.stat(me, { path: '/tmp/scratch' })).device).toBe(tmp.device);
    expect(vfs.mountList().mounts.map((mount) => [mount.path, mount.service])).toEqual([['/', 'root'], ['/tmp', 'tmp']]);
    expect(await vfs.statfs(me, { path: '/tmp/scratch' })).toMatchObject({ type: 'tmpfs', service: 'tmp', label: 'tmp', path: '/tmp' });
  });

  it('refuses a rename or link across mounts (EXDEV), and removing a mount point (EBUSY)', async () => {
    const { vfs } = await testSystem(['root', 'tmp']);
    await vfs.mkdir(me, { path: '/tmp' });
    await vfs.mount({ path: '/tmp', service: 'tmp' });
    await writeFile(vfs, '/file', 'x');
    await expect(vfs.rename(me, { from: '/file', to: '/tmp/file' })).rejects.toMatchObject({ code: 'EXDEV' });
    await expect(vfs.link(me, { existing: '/file', path: '/tmp/file' })).rejects.toMatchObject({ code: 'EXDEV' });
    await expect(vfs.rmdir(me, { path: '/tmp' })).rejects.toMatchObject({ code: 'EBUSY' });
    await expect(vfs.rename(me, { from: '/tmp', to: '/elsewhere' })).rejects.toMatchObject({ code: 'EBUSY' });
    await expect(vfs.mount({ path: '/tmp', service: 'root' })).rejects.toMatchObject({ code: 'EBUSY' });
  });

  it('a read-only mount refuses every change with EROFS and still reads', async () => {
    const { vfs } = await testSystem(['root', 'data']);
    await vfs.mkdir(me, { path: '/data' });
    await vfs.mount({ path: '/data', service: 'data' });
    await writeFile(vfs, '/data/kept', 'read me');
    await vfs.umount({ path: '/data' });
    await vfs.mount({ path: '/data', service: 'data', readOnly: true });
    expect(await readFile(vfs, '/data/kept')).toBe('read me');
    await expect(vfs.open(me, { path: '/data/kept', flags: O_WRONLY })).rejects.toMatchObject({ code: 'EROFS' });
    await expect(vfs.open(me, { path: '/data/new', flags: O_WRONLY | O_CREAT })).rejects.toMatchObject({ code: 'EROFS' });
    await expect(vfs.mkdir(me, { path: '/data/dir' })).rejects.toMatchObject({ code: 'EROFS' });
    await expect(vfs.unlink(me, { path: '/data/kept' })).rejects.toMatchObject({ code: 'EROFS' });
    await expect(vfs.truncate(me, { path: '/data/kept', size: 0 })).rejects.toMatchObject({ code: 'EROFS' });
    await expect(vfs.chmod(me, { path: '/data/kept', permissions: 0o600 })).rejects.toMatchObject({ code: 'EROFS' });
    await expect(vfs.mkdir(me, { path: '/data/kept' })).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('umount syncs, refuses while files are open or at the root, and ENODEV names a server that is not there', async () => {
    const { vfs, filesystems } = await testSystem(['root', 'tmp']);
    await vfs.mkdir(me, { path: '/mnt' });
    await vfs.mount({ path: '/mnt', service: 'tmp' });
    const { description } = await vfs.open(me, { path: '/mnt/open', flags: O_RDWR | O_CREAT });
    await expect(vfs.umount({ path: '/mnt' })).rejects.toMatchObject({ code: 'EBUSY' });
    await vfs.close(me, { description });
    await vfs.umount({ path: '/mnt' });
    expect(filesystems.get('tmp')!.calls.get('sync')).toBe(1);
    await expect(vfs.stat(me, { path: '/mnt/open' })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(vfs.umount({ path: '/' })).rejects.toMatchObject({ code: 'EBUSY' });
    await expect(vfs.umount({ path: '/mnt' })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(vfs.mount({ path: '/mnt', service: 'nobody' })).rejects.toMatchObject({ code: 'ENODEV' });
  });
});

describe('a filesystem server that restarts', () => {
  it('a root that came back empty is taken as new, and the mounts on it are put back on their directories', async () => {
    let current: FilesystemHandlers | undefined;
    const { vfs } = await testSystem(['root', 'tmp'], { overrides: { root: (base) => { current = base; return new Proxy({}, { get: (_target, name: string) => (current as Record<string, unknown>)[name] }) as FilesystemHandlers; } } });
    await vfs.mkdir(me, { path: '/var' });
    await vfs.mkdir(me, { path: '/var/tmp' });
    await vfs.mount({ path: '/var/tmp', service: 'tmp' });
    await writeFile(vfs, '/var/tmp/kept', 'on the tmp mount');
    await writeFile(vfs, '/lost', 'on the root');
    expect(await vfs.filesystemRestarted('root')).toBe(true); // the same contents: nothing to do
    current = tmpfsHandlers(new Tmpfs({ pages: new RamRangePages(Ram.allocate(1 << 20), 0x8000_0000, 0x8010_0000), sizeBytes: 1 << 20, inodeLimit: 100 }));
    expect(await vfs.filesystemRestarted('root')).toBe(false);
    await expect(vfs.stat(me, { path: '/lost' })).rejects.toMatchObject({ code: 'ENOENT' });
    await vfs.reattachMounts(vfs.mounts.root!);
    expect(await readFile(vfs, '/var/tmp/kept')).toBe('on the tmp mount');
    expect(await readFile(vfs, '/var/tmp/../tmp/kept')).toBe('on the tmp mount');
  });
});

describe('open-file descriptions', () => {
  it('dup shares the offset; share gives another holder the same description; others get EBADF', async () => {
    const { vfs } = await testSystem(['root']);
    await writeFile(vfs, '/shared', 'abcdef');
    const { description } = await vfs.open(me, { path: '/shared', flags: O_RDONLY });
    expect((await vfs.dup(me, { description })).description).toBe(description);
    expect(decode((await vfs.read(me, { description, length: 2 })).data)).toBe('ab');
    await vfs.share(me, { description, holder: 'child' });
    expect(decode((await vfs.read('child', { description, length: 2 })).data)).toBe('cd');
    await expect(vfs.read('stranger', { description, length: 2 })).rejects.toMatchObject({ code: 'EBADF' });
    await vfs.close(me, { description });
    await vfs.close(me, { description });
    await expect(vfs.read(me, { description, length: 1 })).rejects.toMatchObject({ code: 'EBADF' });
    expect(decode((await vfs.read('child', { description, length: 9 })).data)).toBe('ef');
    expect(await vfs.closeAll('child')).toEqual({ closed: 1 });
    await expect(vfs.fstat('child', { description })).rejects.toMatchObject({ code: 'EBADF' });
  });

  it("open's flags: O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW, access modes", async () => {
    const { vfs } = await testSystem(['root']);
    await writeFile(vfs, '/f', 'hello');
    await vfs.mkdir(me, { path: '/d' });
    await vfs.symlink(me, { target: '/f', path: '/link' });
    await expect(vfs.open(me, { path: '/f', flags: O_WRONLY | O_CREAT | O_EXCL })).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(vfs.open(me, { path: '/link', flags: O_WRONLY | O_CREAT | O_EXCL })).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(vfs.open(me, { path: '/f', flags: O_RDONLY | O_DIRECTORY })).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(vfs.open(me, { path: '/link', flags: O_RDONLY | O_NOFOLLOW })).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(vfs.open(me, { path: '/d', flags: O_WRONLY })).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(vfs.open(me, { path: '/f', flags: 3 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(vfs.open(me, { path: '/f', flags: 0o10000000 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(vfs.open(me, { path: '/missing', flags: O_RDONLY })).rejects.toMatchObject({ code: 'ENOENT' });

    const { description: reader } = await vfs.open(me, { path: '/f', flags: O_RDONLY });
    await expect(vfs.write(me, { description: reader, data: text('x') })).rejects.toMatchObject({ code: 'EBADF' });
    const { description: appender } = await vfs.open(me, { path: '/link', flags: O_WRONLY | O_APPEND });
    await vfs.write(me, { description: appender, data: text(' world') });
    await vfs.pwrite(me, { description: appender, offset: 0, data: text('!') });
    expect(await readFile(vfs, '/f')).toBe('hello world!');
    expect(vfs.getFlags(me, { description: appender }).flags).toBe(O_WRONLY | O_APPEND);
    vfs.setFlags(me, { description: appender, flags: 0 });
    await vfs.lseek(me, { description: appender, offset: 0, whence: Whence.SEEK_SET });
    await vfs.write(me, { description: appender, data: text('J') });
    expect(await readFile(vfs, '/f')).toBe('Jello world!');
    const { description: truncating } = await vfs.open(me, { path: '/f', flags: O_WRONLY | O_TRUNC });
    expect((await vfs.fstat(me, { description: truncating })).size).toBe(0);
  });

  it('lseek moves by SEEK_SET, SEEK_CUR and SEEK_END; past the end a write leaves a hole', async () => {
    const { vfs } = await testSystem(['root']);
    const { description } = await vfs.open(me, { path: '/holes', flags: O_RDWR | O_CREAT });
    await vfs.write(me, { description, data: text('12345') });
    expect(await vfs.lseek(me, { description, offset: -2, whence: Whence.SEEK_END })).toEqual({ offset: 3 });
    expect(await vfs.lseek(me, { description, offset: 1, whence: Whence.SEEK_CUR })).toEqual({ offset: 4 });
    await expect(vfs.lseek(me, { description, offset: -5, whence: Whence.SEEK_CUR })).rejects.toMatchObject({ code: 'EINVAL' });
    await vfs.lseek(me, { description, offset: 10_000, whence: Whence.SEEK_SET });
    await vfs.write(me, { description, data: text('end') });
    const { data } = await vfs.pread(me, { description, offset: 0, length: 20_000 });
    expect(data.length).toBe(10_003);
    expect(data.subarray(5, 10_000).every((byte) => byte === 0)).toBe(true);
  });

  it('an unlinked open file stays readable until its last close', async () => {
    const { vfs, filesystems } = await testSystem(['root']);
    await writeFile(vfs, '/ghost', 'boo');
    const { description } = await vfs.open(me, { path: '/ghost', flags: O_RDONLY });
    await vfs.unlink(me, { path: '/ghost' });
    await expect(vfs.stat(me, { path: '/ghost' })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(decode((await vfs.read(me, { description, length: 10 })).data)).toBe('boo');
    const { inode } = await vfs.fstat(me, { description });
    await vfs.close(me, { description });
    expect(() => filesystems.get('root')!.tmpfs.getattr(inode)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('getdents lists `.`, `..` and the names, in steps, then nothing', async () => {
    const { vfs } = await testSystem(['root']);
    for (const name of ['a', 'b', 'c']) await writeFile(vfs, `/${name}`, name);
    const { description } = await vfs.open(me, { path: '/', flags: O_RDONLY | O_DIRECTORY });
    const first = await vfs.getdents(me, { description, maxEntries: 2 });
    const rest = await vfs.getdents(me, { description });
    expect([...first.entries, ...rest.entries].map((entry) => entry.name)).toEqual(['.', '..', 'a', 'b', 'c']);
    expect((await vfs.getdents(me, { description })).entries).toEqual([]);
    await expect(vfs.read(me, { description, length: 1 })).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('page cache', () => {
  it('holds writes until fsync or the last close, then writes them in one call per run of pages', async () => {
    const { vfs, filesystems } = await testSystem(['root']);
    const calls = filesystems.get('root')!.calls;
    const { description } = await vfs.open(me, { path: '/cached', flags: O_RDWR | O_CREAT });
    for (let chunk = 0; chunk < 16; chunk++) await vfs.write(me, { description, data: new Uint8Array(4096).fill(chunk) });
    expect(calls.get('write') ?? 0).toBe(0);
    expect((await vfs.fstat(me, { description })).size).toBe(16 * 4096);
    expect(filesystems.get('root')!.tmpfs.lookup(1, 'cached').size).toBe(0);
    await vfs.fsync(me, { description });
    expect(calls.get('write')).toBe(1);
    expect(calls.get('sync')).toBe(1);
    expect(filesystems.get('root')!.tmpfs.lookup(1, 'cached').size).toBe(16 * 4096);
    await vfs.pwrite(me, { description, offset: 5, data: text('x') });
    await vfs.close(me, { description });
    expect(calls.get('write')).toBe(2);
    expect(filesystems.get('root')!.tmpfs.read(filesystems.get('root')!.tmpfs.lookup(1, 'cached').inode, 4, 3)).toEqual(Uint8Array.from([0, 120, 0]));
  });

  it('fsync returns only after the filesystem’s sync resolved', async () => {
    let finishSync: (() => void) | undefined;
    const { vfs } = await testSystem(['root'], {
      overrides: { root: (base) => ({ ...base, sync: () => new Promise((resolve) => { finishSync = () => resolve({}); }) }) },
    });
    const { description } = await vfs.open(me, { path: '/durable', flags: O_WRONLY | O_CREAT });
    await vfs.write(me, { description, data: text('must reach the disk') });
    let returned = false;
    const pending = vfs.fsync(me, { description }).then(() => { returned = true; });
    while (!finishSync) await new Promise((resolve) => setImmediate(resolve));
    expect(returned).toBe(false);
    finishSync();
    await pending;
    expect(returned).toBe(true);
  });

  it('reads through the cache: a second read asks the filesystem nothing; eviction keeps the limit', async () => {
    const { vfs, filesystems, pages } = await testSystem(['root'], { cachePages: 256 });
    const calls = filesystems.get('root')!.calls;
    const content = Uint8Array.from({ length: 600 * 4096 }, (_, index) => (index * 7) & 0xff);
    const { description } = await vfs.open(me, { path: '/large', flags: O_RDWR | O_CREAT });
    await vfs.write(me, { description, data: content });
    expect(pages.pagesInUse).toBeLessThanOrEqual(256 + 64);
    const reads = calls.get('read') ?? 0;
    const { data: tail } = await vfs.pread(me, { description, offset: content.length - 8192, length: 8192 });
    expect(sameBytes(tail, content.subarray(content.length - 8192))).toBe(true);
    await vfs.pread(me, { description, offset: content.length - 8192, length: 8192 });
    expect((calls.get('read') ?? 0) - reads).toBeLessThanOrEqual(1);
    const { data: all } = await vfs.pread(me, { description, offset: 0, length: content.length });
    expect(all.length).toBe(content.length);
    expect(sameBytes(all, content)).toBe(true);
    expect(pages.pagesInUse).toBeLessThanOrEqual(256 + 64);
    await vfs.close(me, { description });
  });

  it('a write-back the filesystem refuses (ENOSPC) is reported by the next write, fsync or close', async () => {
    const { vfs } = await testSystem(['root'], { sizeBytes: 8 * 4096 });
    const { description } = await vfs.open(me, { path: '/full', flags: O_WRONLY | O_CREAT });
    await vfs.write(me, { description, data: new Uint8Array(16 * 4096) });
    await expect(vfs.fsync(me, { description })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect((await vfs.fstat(me, { description })).size).toBe(8 * 4096);
    await vfs.close(me, { description });
  });

  it('truncate drops cached pages past the end, and the tail reads as zeros', async () => {
    const { vfs } = await testSystem(['root']);
    const { description } = await vfs.open(me, { path: '/cut', flags: O_RDWR | O_CREAT });
    await vfs.write(me, { description, data: new Uint8Array(3 * 4096).fill(9) });
    await vfs.ftruncate(me, { description, size: 10 });
    await vfs.ftruncate(me, { description, size: 8192 });
    const { data } = await vfs.pread(me, { description, offset: 0, length: 8192 });
    expect(data.subarray(0, 10).every((byte) => byte === 9)).toBe(true);
    expect(data.subarray(10).every((byte) => byte === 0)).toBe(true);
  });
});
