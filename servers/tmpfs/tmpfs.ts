// One tmpfs: a filesystem whose inodes live in this server's memory and whose file data
// lives in 4 KiB RAM pages (a PageSource: the memory service's pages). It answers the
// filesystem interface's operations (ipc/interfaces/filesystem.ts) with POSIX's errors.
//
// Limits: `sizeBytes` bounds the file data (whole pages, as Linux's tmpfs size=), and
// `inodeLimit` the number of inodes (nr_inodes); past either, ENOSPC. A write that runs out
// of space part way writes what fits and says so (a short write); one that fits nothing is
// ENOSPC. Holes take no pages and read as zeros.

import { randomUUID } from 'node:crypto';
import { errnoError } from '../../ipc/interfaces/errno.js';
import type { FileAttributes, FilesystemStatistics } from '../../ipc/interfaces/filesystem.js';
import { PAGE_BYTES, type PageSource } from '../lib/pages.js';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const NAME_MAX = 255;
/** DT_ types of directory entries. */
const DT_REG = 1;
const DT_DIR = 2;
const DT_LNK = 7;

interface InodeBase {
  readonly number: number;
  permissions: number;
  links: number;
  uid: number;
  gid: number;
  accessTime: number;
  modifyTime: number;
  changeTime: number;
  /** Open-file holds (filesystem.hold): an unlinked inode lives until the last release. */
  holds: number;
}
interface FileInode extends InodeBase { readonly kind: 'file'; size: number; readonly pages: Map<number, number> }
interface DirectoryInode extends InodeBase { readonly kind: 'directory'; parent: number; readonly entries: Map<string, number> }
interface SymlinkInode extends InodeBase { readonly kind: 'symlink'; readonly target: string }
type Inode = FileInode | DirectoryInode | SymlinkInode;

export interface TmpfsOptions {
  readonly pages: PageSource;
  /** Most bytes of file data (rounded down to whole pages). */
  readonly sizeBytes: number;
  readonly inodeLimit: number;
  readonly label?: string;
  readonly now?: () => number;
}

export const TMPFS_ROOT = 1;

/** Which tmpfs this is: a new one (a new generation of the server) has new contents. */
export type TmpfsInstance = string;

export class Tmpfs {
  private readonly inodes = new Map<number, Inode>();
  private nextInode = TMPFS_ROOT + 1;
  private dataPages = 0;
  private readonly pageLimit: number;
  private readonly now: () => number;
  /** One operation at a time: a write waits for its pages without another seeing half of it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Answered by info: the VFS tells by it that a restarted tmpfs holds none of what it held. */
  readonly instance: TmpfsInstance = randomUUID();

  constructor(private readonly options: TmpfsOptions) {
    this.pageLimit = Math.floor(options.sizeBytes / PAGE_BYTES);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const time = this.now();
    this.inodes.set(TMPFS_ROOT, { kind: 'directory', number: TMPFS_ROOT, parent: TMPFS_ROOT, entries: new Map(), permissions: 0o1777, links: 2, uid: 0, gid: 0, accessTime: time, modifyTime: time, changeTime: time, holds: 0 });
  }

  get root(): number {
    return TMPFS_ROOT;
  }

  statistics(): FilesystemStatistics {
    return {
      blockBytes: PAGE_BYTES, blocks: this.pageLimit, freeBlocks: this.pageLimit - this.dataPages, availableBlocks: this.pageLimit - this.dataPages,
      inodes: this.options.inodeLimit, freeInodes: this.options.inodeLimit - this.inodes.size, nameMaximum: NAME_MAX, label: this.options.label ?? '', readOnly: false,
    };
  }

  lookup(directory: number, name: string): FileAttributes {
    return this.attributes(this.child(this.directory(directory), name));
  }

  getattr(inode: number): FileAttributes {
    return this.attributes(this.inode(inode));
  }

  readdir(directory: number): { name: string; inode: number; fileType: number }[] {
    const node = this.directory(directory);
    return [
      { name: '.', inode: node.number, fileType: DT_DIR },
      { name: '..', inode: node.parent, fileType: DT_DIR },
      ...[...node.entries].map(([name, number]) => ({ name, inode: number, fileType: fileType(this.inodes.get(number)!) })),
    ];
  }

  read(inode: number, offset: number, length: number): Uint8Array {
    const file = this.file(inode);
    const end = Math.min(file.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const data = new Uint8Array(end - offset);
    for (let position = offset; position < end;) {
      const index = Math.floor(position / PAGE_BYTES);
      const within = position - index * PAGE_BYTES;
      const count = Math.min(PAGE_BYTES - within, end - position);
      const page = file.pages.get(index);
      if (page !== undefined) data.set(this.options.pages.bytes(page).subarray(within, within + count), position - offset);
      position += count;
    }
    file.accessTime = this.now();
    return data;
  }

  write(inode: number, offset: number, data: Uint8Array): Promise<number> {
    return this.serially(async () => {
      const file = this.file(inode);
      let written = 0;
      while (written < data.length) {
        const position = offset + written;
        const index = Math.floor(position / PAGE_BYTES);
        const within = position - index * PAGE_BYTES;
        const count = Math.min(PAGE_BYTES - within, data.length - written);
        let page = file.pages.get(index);
        if (page === undefined) {
          if (this.dataPages >= this.pageLimit) break;
          page = await this.options.pages.allocate();
          this.dataPages++;
          file.pages.set(index, page);
        }
        this.options.pages.bytes(page).set(data.subarray(written, written + count), within);
        written += count;
      }
      if (written === 0 && data.length > 0) throw errnoError('ENOSPC', `tmpfs full (${this.pageLimit} pages)`);
      file.size = Math.max(file.size, offset + written);
      file.modifyTime = file.changeTime = this.now();
      return written;
    });
  }

  truncate(inode: number, size: number): Promise<void> {
    return this.serially(async () => {
      const file = this.file(inode);
      const keptPages = Math.ceil(size / PAGE_BYTES);
      for (const [index, page] of [...file.pages]) {
        if (index >= keptPages) {
          file.pages.delete(index);
          this.dataPages--;
          await this.options.pages.free(page);
        }
      }
      // The part of the last page past the new end reads as zeros if the file grows again.
      const tail = file.pages.get(keptPages - 1);
      if (tail !== undefined && size % PAGE_BYTES !== 0) this.options.pages.bytes(tail).fill(0, size % PAGE_BYTES);
      file.size = size;
      file.modifyTime = file.changeTime = this.now();
    });
  }

  create(directory: number, name: string, permissions: number, owner: { uid: number; gid: number }): FileAttributes {
    return this.attributes(this.add(directory, name, (number, time) => ({ kind: 'file', number, size: 0, pages: new Map(), ...base(permissions, owner, time) })));
  }

  mkdir(directory: number, name: string, permissions: number, owner: { uid: number; gid: number }): FileAttributes {
    const parent = this.directory(directory);
    const made = this.add(directory, name, (number, time) => ({ kind: 'directory', number, parent: parent.number, entries: new Map(), ...base(permissions, owner, time), links: 2 }));
    parent.links++;
    return this.attributes(made);
  }

  symlink(directory: number, name: string, target: string, owner: { uid: number; gid: number }): FileAttributes {
    return this.attributes(this.add(directory, name, (number, time) => ({ kind: 'symlink', number, target, ...base(0o777, owner, time) })));
  }

  readlink(inode: number): string {
    const node = this.inode(inode);
    if (node.kind !== 'symlink') throw errnoError('EINVAL', `inode ${inode} is not a symlink`);
    return node.target;
  }

  link(directory: number, name: string, inode: number): void {
    const node = this.inode(inode);
    const parent = this.directory(directory);
    checkName(name);
    if (parent.entries.has(name) || name === '.' || name === '..') throw errnoError('EEXIST', `${name} exists`);
    if (node.kind === 'directory') throw errnoError('EPERM', 'a directory cannot have a second name');
    parent.entries.set(name, inode);
    node.links++;
    node.changeTime = parent.modifyTime = parent.changeTime = this.now();
  }

  unlink(directory: number, name: string): Promise<void> {
    return this.serially(async () => {
      const parent = this.directory(directory);
      const node = this.child(parent, name);
      if (node.kind === 'directory') throw errnoError('EISDIR', `${name} is a directory`);
      parent.entries.delete(name);
      parent.modifyTime = parent.changeTime = this.now();
      await this.dropLink(node);
    });
  }

  rmdir(directory: number, name: string): Promise<void> {
    return this.serially(async () => {
      const parent = this.directory(directory);
      if (name === '.') throw errnoError('EINVAL', 'rmdir of "."');
      if (name === '..') throw errnoError('ENOTEMPTY', 'rmdir of ".."');
      const node = this.child(parent, name);
      if (node.kind !== 'directory') throw errnoError('ENOTDIR', `${name} is not a directory`);
      if (node.entries.size > 0) throw errnoError('ENOTEMPTY', `${name} is not empty`);
      parent.entries.delete(name);
      parent.links--;
      parent.modifyTime = parent.changeTime = this.now();
      node.links = 0;
      await this.freeIfUnused(node);
    });
  }

  rename(fromDirectory: number, fromName: string, toDirectory: number, toName: string): Promise<void> {
    return this.serially(async () => {
      const source = this.directory(fromDirectory);
      const target = this.directory(toDirectory);
      checkName(toName);
      if (fromName === '.' || fromName === '..' || toName === '.' || toName === '..') throw errnoError('EBUSY', 'rename of "." or ".."');
      const node = this.child(source, fromName);
      if (node.kind === 'directory' && this.isWithin(target, node)) throw errnoError('EINVAL', `cannot move ${fromName} into itself`);
      const existingNumber = target.entries.get(toName);
      const existing = existingNumber === undefined ? undefined : this.inodes.get(existingNumber)!;
      if (existing === node) return;
      if (existing) {
        if (node.kind === 'directory' && existing.kind !== 'directory') throw errnoError('ENOTDIR', `${toName} is not a directory`);
        if (node.kind !== 'directory' && existing.kind === 'directory') throw errnoError('EISDIR', `${toName} is a directory`);
        if (existing.kind === 'directory' && existing.entries.size > 0) throw errnoError('ENOTEMPTY', `${toName} is not empty`);
      }
      source.entries.delete(fromName);
      target.entries.set(toName, node.number);
      const time = this.now();
      source.modifyTime = source.changeTime = target.modifyTime = target.changeTime = node.changeTime = time;
      if (node.kind === 'directory' && source !== target) {
        node.parent = target.number;
        source.links--;
        target.links++;
      }
      if (existing?.kind === 'directory') {
        target.links--;
        existing.links = 0;
        await this.freeIfUnused(existing);
      } else if (existing) {
        await this.dropLink(existing);
      }
    });
  }

  setattr(inode: number, change: { permissions?: number; uid?: number; gid?: number; accessTime?: number; modifyTime?: number }): FileAttributes {
    const node = this.inode(inode);
    if (change.permissions !== undefined) node.permissions = change.permissions;
    if (change.uid !== undefined) node.uid = change.uid;
    if (change.gid !== undefined) node.gid = change.gid;
    if (change.accessTime !== undefined) node.accessTime = change.accessTime;
    if (change.modifyTime !== undefined) node.modifyTime = change.modifyTime;
    node.changeTime = this.now();
    return this.attributes(node);
  }

  hold(inode: number): void {
    this.inode(inode).holds++;
  }

  release(inode: number): Promise<void> {
    return this.serially(async () => {
      const node = this.inodes.get(inode);
      if (!node || node.holds === 0) throw errnoError('EINVAL', `inode ${inode} is not held`);
      node.holds--;
      await this.freeIfUnused(node);
    });
  }

  /** Frees every page (the server is stopping). */
  async destroy(): Promise<void> {
    for (const node of this.inodes.values()) {
      if (node.kind === 'file') for (const page of node.pages.values()) await this.options.pages.free(page);
    }
    this.inodes.clear();
    this.dataPages = 0;
  }

  private add(directory: number, name: string, make: (number: number, time: number) => Inode): Inode {
    const parent = this.directory(directory);
    checkName(name);
    if (parent.entries.has(name) || name === '.' || name === '..') throw errnoError('EEXIST', `${name} exists`);
    if (this.inodes.size >= this.options.inodeLimit) throw errnoError('ENOSPC', `no inode left (${this.options.inodeLimit})`);
    const time = this.now();
    const node = make(this.nextInode++, time);
    this.inodes.set(node.number, node);
    parent.entries.set(name, node.number);
    parent.modifyTime = parent.changeTime = time;
    return node;
  }

  private async dropLink(node: Inode): Promise<void> {
    node.links--;
    node.changeTime = this.now();
    await this.freeIfUnused(node);
  }

  private async freeIfUnused(node: Inode): Promise<void> {
    if (node.links > 0 || node.holds > 0) return;
    this.inodes.delete(node.number);
    if (node.kind === 'file') {
      for (const page of node.pages.values()) await this.options.pages.free(page);
      this.dataPages -= node.pages.size;
      node.pages.clear();
    }
  }

  /** Whether `directory` is `ancestor` or below it. */
  private isWithin(directory: DirectoryInode, ancestor: DirectoryInode): boolean {
    for (let current = directory; ; current = this.inodes.get(current.parent) as DirectoryInode) {
      if (current === ancestor) return true;
      if (current.number === TMPFS_ROOT) return false;
    }
  }

  private child(parent: DirectoryInode, name: string): Inode {
    if (name === '.') return parent;
    if (name === '..') return this.inodes.get(parent.parent)!;
    checkName(name);
    const number = parent.entries.get(name);
    if (number === undefined) throw errnoError('ENOENT', `no entry ${name}`);
    return this.inodes.get(number)!;
  }

  private inode(inode: number): Inode {
    const node = this.inodes.get(inode);
    if (!node) throw errnoError('EINVAL', `no inode ${inode}`);
    return node;
  }

  private directory(inode: number): DirectoryInode {
    const node = this.inode(inode);
    if (node.kind !== 'directory') throw errnoError('ENOTDIR', `inode ${inode} is not a directory`);
    if (node.links === 0) throw errnoError('ENOENT', `directory ${inode} was removed`);
    return node;
  }

  private file(inode: number): FileInode {
    const node = this.inode(inode);
    if (node.kind === 'directory') throw errnoError('EISDIR', `inode ${inode} is a directory`);
    if (node.kind !== 'file') throw errnoError('EINVAL', `inode ${inode} is not a regular file`);
    return node;
  }

  private attributes(node: Inode): FileAttributes {
    const type = node.kind === 'file' ? S_IFREG : node.kind === 'directory' ? S_IFDIR : S_IFLNK;
    const size = node.kind === 'file' ? node.size : node.kind === 'symlink' ? new TextEncoder().encode(node.target).length : PAGE_BYTES;
    const sectors = node.kind === 'file' ? node.pages.size * (PAGE_BYTES / 512) : 0;
    return {
      inode: node.number, mode: type | node.permissions, links: node.links, uid: node.uid, gid: node.gid, size, sectors,
      accessTime: node.accessTime, modifyTime: node.modifyTime, changeTime: node.changeTime,
    };
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

function base(permissions: number, owner: { uid: number; gid: number }, time: number) {
  return { permissions, links: 1, uid: owner.uid, gid: owner.gid, accessTime: time, modifyTime: time, changeTime: time, holds: 0 };
}

function fileType(node: Inode): number {
  return node.kind === 'file' ? DT_REG : node.kind === 'directory' ? DT_DIR : DT_LNK;
}

function checkName(name: string): void {
  if (name.includes('/') || name.length === 0) throw errnoError('EINVAL', `"${name}" is not a name`);
  if (new TextEncoder().encode(name).length > NAME_MAX) throw errnoError('ENAMETOOLONG', `a name is at most ${NAME_MAX} bytes`);
}
