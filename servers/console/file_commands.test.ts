// The file commands against a fake VFS: a tree of files in a map, answering the fs
// interface's calls with the errno errors a VFS gives (ENOENT, EEXIST, ENOTDIR, EISDIR,
// ENOTEMPTY, EBUSY). What is checked is the console's side: the calls each command makes,
// what it prints, and refusals naming the command, the path and the errno.

import { hostSha256 } from '../../test/harness/host.js';
import { describe, expect, it } from 'vitest';
import { errnoError } from '../../ipc/interfaces/errno.js';
import { FileType, OpenFlags, type Mount, type Stat } from '../../ipc/interfaces/fs.js';
import { runCommand, type CommandServices } from './commands.js';

type Node = { kind: 'file'; data: Uint8Array; inode: number } | { kind: 'directory'; inode: number } | { kind: 'symlink'; target: string; inode: number };

/** A VFS over a map of absolute paths; no symlink is followed but the last by stat. */
class FakeVfs {
  readonly nodes = new Map<string, Node>([['/', { kind: 'directory', inode: 2 }]]);
  readonly mountTable: Mount[] = [{ device: 1, path: '/', service: 'tmpfs', type: 'tmpfs', readOnly: false }];
  private readonly open = new Map<number, { path: string; flags: number; offset: number; listed: boolean }>();
  private nextInode = 10;
  private nextDescription = 1;
  syncs = 0;

  private parent(path: string): string {
    const cut = path.lastIndexOf('/');
    return cut <= 0 ? '/' : path.slice(0, cut);
  }

  private node(path: string): Node {
    const node = this.nodes.get(path);
    if (!node) throw errnoError('ENOENT', `no such entry: ${path}`);
    return node;
  }

  private directoryOf(path: string): void {
    const parent = this.nodes.get(this.parent(path));
    if (!parent) throw errnoError('ENOENT', `no directory ${this.parent(path)}`);
    if (parent.kind !== 'directory') throw errnoError('ENOTDIR', `${this.parent(path)} is not a directory`);
  }

  private make(path: string, node: Node): void {
    this.directoryOf(path);
    if (this.nodes.has(path)) throw errnoError('EEXIST', `${path} exists`);
    this.nodes.set(path, node);
  }

  stat(path: string, node = this.node(path)): Stat {
    const mode = node.kind === 'directory' ? FileType.S_IFDIR | 0o755 : node.kind === 'symlink' ? FileType.S_IFLNK | 0o777 : FileType.S_IFREG | 0o644;
    const size = node.kind === 'file' ? node.data.length : node.kind === 'symlink' ? node.target.length : 4096;
    return { device: 1, inode: node.inode, mode, links: 1, uid: 0, gid: 0, size, blockBytes: 4096, sectors: Math.ceil(size / 512), accessTime: 1_700_000_000, modifyTime: 1_700_000_000, changeTime: 1_700_000_000 };
  }

  file(path: string, data: Uint8Array | string): void {
    this.nodes.set(path, { kind: 'file', data: typeof data === 'string' ? new TextEncoder().encode(data) : data, inode: this.nextInode++ });
  }

  private description(description: number) {
    const entry = this.open.get(description);
    if (!entry) throw errnoError('EBADF', `no description ${description}`);
    return entry;
  }

  readonly client = {
    open: async ({ path, flags }: { path: string; flags: number }) => {
      let node = this.nodes.get(path);
      if (!node) {
        if (!(flags & OpenFlags.O_CREAT)) throw errnoError('ENOENT', `no such entry: ${path}`);
        this.make(path, { kind: 'file', data: new Uint8Array(0), inode: this.nextInode++ });
        node = this.nodes.get(path)!;
      }
      let resolved = path;
      if (node.kind === 'symlink') { resolved = node.target; node = this.node(resolved); }
      if (flags & OpenFlags.O_DIRECTORY && node.kind !== 'directory') throw errnoError('ENOTDIR', `${path} is not a directory`);
      if ((flags & OpenFlags.O_ACCMODE) !== OpenFlags.O_RDONLY && node.kind === 'directory') throw errnoError('EISDIR', `${path} is a directory`);
      if (flags & OpenFlags.O_TRUNC && node.kind === 'file') node.data = new Uint8Array(0);
      const description = this.nextDescription++;
      this.open.set(description, { path: resolved, flags, offset: 0, listed: false });
      return { description, stat: this.stat(path, node) };
    },
    close: async ({ description }: { description: number }) => { this.description(description); this.open.delete(description); return {}; },
    pread: async ({ description, offset, length }: { description: number; offset: number; length: number }) => {
      const node = this.node(this.description(description).path);
      if (node.kind !== 'file') throw errnoError('EISDIR', 'not a file');
      return { data: node.data.slice(offset, offset + length) };
    },
    write: async ({ description, data }: { description: number; data: Uint8Array }) => {
      const entry = this.description(description);
      const node = this.node(entry.path);
      if (node.kind !== 'file') throw errnoError('EISDIR', 'not a file');
      const at = entry.flags & OpenFlags.O_APPEND ? node.data.length : entry.offset;
      const grown = new Uint8Array(Math.max(node.data.length, at + data.length));
      grown.set(node.data);
      grown.set(data, at);
      node.data = grown;
      entry.offset = at + data.length;
      return { written: data.length };
    },
    getdents: async ({ description }: { description: number }) => {
      const entry = this.description(description);
      if (entry.listed) return { entries: [] };
      entry.listed = true;
      const prefix = entry.path === '/' ? '/' : `${entry.path}/`;
      const names = [...this.nodes.keys()].filter((path) => path !== '/' && path.startsWith(prefix) && !path.slice(prefix.length).includes('/'));
      return { entries: [{ name: '.', inode: 2, fileType: 2 }, { name: '..', inode: 2, fileType: 2 }, ...names.map((path) => ({ name: path.slice(prefix.length), inode: this.nodes.get(path)!.inode, fileType: 1 }))] };
    },
    lstat: async ({ path }: { path: string }) => this.stat(path),
    stat: async ({ path }: { path: string }) => this.stat(path),
    readlink: async ({ path }: { path: string }) => {
      const node = this.node(path);
      if (node.kind !== 'symlink') throw errnoError('EINVAL', `${path} is not a symlink`);
      return { target: node.target };
    },
    mkdir: async ({ path }: { path: string }) => { this.make(path, { kind: 'directory', inode: this.nextInode++ }); return this.stat(path); },
    rmdir: async ({ path }: { path: string }) => {
      const node = this.node(path);
      if (node.kind !== 'directory') throw errnoError('ENOTDIR', `${path} is not a directory`);
      if ([...this.nodes.keys()].some((other) => other.startsWith(`${path}/`))) throw errnoError('ENOTEMPTY', `${path} is not empty`);
      this.nodes.delete(path);
      return {};
    },
    unlink: async ({ path }: { path: string }) => {
      if (this.node(path).kind === 'directory') throw errnoError('EISDIR', `${path} is a directory`);
      this.nodes.delete(path);
      return {};
    },
    rename: async ({ from, to }: { from: string; to: string }) => {
      const node = this.node(from);
      this.directoryOf(to);
      this.nodes.delete(from);
      this.nodes.set(to, node);
      return {};
    },
    symlink: async ({ target, path }: { target: string; path: string }) => { this.make(path, { kind: 'symlink', target, inode: this.nextInode++ }); return this.stat(path); },
    link: async ({ existing, path }: { existing: string; path: string }) => { this.make(path, this.node(existing)); return {}; },
    mounts: async () => ({ mounts: this.mountTable }),
    statfs: async ({ path }: { path: string }) => {
      const mount = this.mountTable.find((candidate) => candidate.path === path)!;
      return { ...mount, blockBytes: 4096, blocks: 2048, freeBlocks: 1536, availableBlocks: 1434, inodes: 512, freeInodes: 500, nameMaximum: 255, label: '', readOnly: mount.readOnly };
    },
    mount: async ({ path, service, readOnly }: { path: string; service: string; readOnly?: boolean }) => {
      if (this.node(path).kind !== 'directory') throw errnoError('ENOTDIR', `${path} is not a directory`);
      if (this.mountTable.some((mount) => mount.path === path)) throw errnoError('EBUSY', `${path} is a mount point`);
      const mount = { device: this.mountTable.length + 1, path, service, type: 'ext2', readOnly: readOnly ?? false };
      this.mountTable.push(mount);
      return mount;
    },
    umount: async ({ path }: { path: string }) => {
      const index = this.mountTable.findIndex((mount) => mount.path === path);
      if (index < 0) throw errnoError('EINVAL', `${path} is not a mount point`);
      this.mountTable.splice(index, 1);
      return {};
    },
    sync: async () => { this.syncs++; return {}; },
  };
}

function system() {
  const vfs = new FakeVfs();
  const started: string[] = [];
  const rows: { name: string; server: string; disk: string; holds: string; access: 'read-write' | 'read-only'; state: string }[] = [];
  const drivers = {
    devices: async () => ({ rows: [{ path: '/soc/virtio_mmio@10005000', compatible: ['virtio,mmio'], base: 0, size: 0, driver: 'virtio-blk', state: 'running', generation: 1, serves: ['block'] }] }),
    diskServers: async () => ({ rows }),
    startDiskServer: async ({ disk, server }: { disk: string; server: string }) => {
      started.push(disk);
      rows.push({ name: server, server, disk, holds: 'ext2', access: 'read-write', state: 'running' });
      return { name: server, running: true, message: `${server}: serving ${disk}` };
    },
  };
  const services = { fs: vfs.client, drivers } as unknown as CommandServices;
  return { vfs, started, run: async (line: string) => (await runCommand(line, services)).output };
}

describe('file commands', () => {
  it('write, append and cat a file; ls lists a directory sorted, ls -l with modes and symlink targets', async () => {
    const { run } = system();
    expect(await run('mkdir /notes')).toBe('');
    expect(await run('write /notes/today first line')).toBe('');
    expect(await run('append notes/today second  line')).toBe('');
    expect(await run('cat /notes/today')).toBe('first line\nsecond line');
    expect(await run('ln -s /notes/today /latest')).toBe('');
    expect(await run('ls')).toBe('latest\nnotes');
    expect(await run('ls -l /')).toMatch(/^lrwxrwxrwx +1 +0 +0 +12 2023-11-14 22:13:20 UTC latest -> \/notes\/today\ndrwxr-xr-x +1 +0 +0 +4096 .* notes$/);
    expect(await run('ls /notes/today')).toBe('/notes/today');
    expect(await run('write /notes/today replaced')).toBe('');
    expect(await run('cat /latest')).toBe('replaced');
  });

  it('refusals name the command, the path and the errno with its meaning', async () => {
    const { run } = system();
    expect(await run('cat /missing')).toBe('error: cat /missing: ENOENT (no such file or directory)');
    expect(await run('mkdir /missing/child')).toBe('error: mkdir /missing/child: ENOENT (no such file or directory)');
    await run('mkdir /full');
    await run('write /full/file x');
    expect(await run('rmdir /full')).toBe('error: rmdir /full: ENOTEMPTY (directory not empty)');
    expect(await run('rm /full')).toBe('error: rm /full: EISDIR (is a directory)');
    expect(await run('mkdir /full')).toBe('error: mkdir /full: EEXIST (file exists)');
    expect(await run('cat /full')).toBe('error: cat /full: EISDIR (is a directory)');
    expect(await run('stat /nope')).toBe('error: stat /nope: ENOENT (no such file or directory)');
    expect(await run('cat')).toBe('error: cat: missing PATH: a path in the system (from /)\nusage: cat PATH');
  });

  it('mv, rm and rmdir change the tree', async () => {
    const { vfs, run } = system();
    await run('mkdir /a');
    await run('write /a/one 1');
    expect(await run('mv /a/one /two')).toBe('');
    expect([...vfs.nodes.keys()].sort()).toEqual(['/', '/a', '/two']);
    expect(await run('rm /two')).toBe('');
    expect(await run('rmdir /a')).toBe('');
    expect(await run('ls /')).toBe('');
  });

  it('sha256sum reads a file of several pieces and prints what the host computes; hexdump shows the bytes asked for', async () => {
    const { vfs, run } = system();
    const data = Uint8Array.from({ length: 700_001 }, (_, index) => (index * 7 + (index >> 9)) & 0xff);
    vfs.file('/big', data);
    expect(await run('sha256sum /big')).toBe(`${hostSha256(data)}  /big`);
    vfs.file('/text', 'hello, baton\n');
    expect(await run('hexdump /text 7 5')).toBe(`00000007  ${'62 61 74 6f 6e'.padEnd(47)}  |baton|`);
    expect(await run('hexdump /text 100')).toBe('(nothing at offset 100)');
    expect(await run('hexdump /text 0 65537')).toMatch(/^error: hexdump: LENGTH must be a whole number, from 1 to 65536/);
  });

  it('stat says what a path is, a symlink itself', async () => {
    const { vfs, run } = system();
    vfs.file('/file', 'abc');
    await run('ln -s /file /link');
    expect(await run('stat /link')).toMatch(/^ {2}File: \/link -> \/file\n {2}Size: 5 .* symbolic link\nDevice: 1 {2}Inode: \d+ {2}Links: 1\nAccess: \(0777\/lrwxrwxrwx\)/);
  });

  it('mount starts the disk\'s ext2 server when it has none and mounts it; df, mount and umount show and change the table; sync reaches the VFS', async () => {
    const { vfs, started, run } = system();
    await run('mkdir /mnt');
    expect(await run('mount virtio-blk /mnt')).toBe('virtio-blk (ext2, ext2) mounted on /mnt');
    expect(started).toEqual(['virtio-blk']);
    expect(await run('mount')).toBe('tmpfs on / type tmpfs (rw)\next2 on /mnt type ext2 (rw)');
    expect(await run('mount virtio-blk /mnt')).toBe('error: mount /mnt: EBUSY (device or resource busy)');
    expect(started).toEqual(['virtio-blk']);
    expect(await run('mount nosuchdisk /mnt')).toMatch(/^error: mount: no disk named "nosuchdisk"/);
    expect(await run('mount virtio-blk')).toBe('error: mount virtio-blk: needs the directory to mount it on (mount DISK PATH [TYPE])');
    expect(await run('mount virtio-blk /mnt vfat')).toBe('error: mount: no filesystem type "vfat" for a disk (there is: ext2)');
    expect(await run('df')).toBe([
      'FILESYSTEM  TYPE   SIZE   USED   AVAIL    USE%  MOUNTED ON',
      'tmpfs       tmpfs  8 MiB  2 MiB  5.6 MiB  25%   /',
      'ext2        ext2   8 MiB  2 MiB  5.6 MiB  25%   /mnt',
    ].join('\n'));
    expect(await run('umount /mnt')).toBe('');
    expect(await run('umount /mnt')).toBe('error: umount /mnt: EINVAL (invalid argument)');
    expect(await run('sync')).toBe('');
    expect(vfs.syncs).toBe(1);
  });
});
