// The VFS's operations: the fs interface (ipc/interfaces/fs.ts) over the mount table, the
// path resolver, the open-file descriptions and the page cache. One operation runs at a
// time (a queue), so no operation sees another half done; `holder` is the client the
// operation is for (descriptions are counted per holder).
//
// Refusals follow Linux's order where POSIX leaves it open: a missing name is ENOENT before
// a read-only mount's EROFS, and an existing one EEXIST before EROFS.

import { errnoError } from '../../ipc/interfaces/errno.js';
import type { FileAttributes } from '../../ipc/interfaces/filesystem.js';
import { OPEN_FLAGS_ACCEPTED, OpenFlags, SETTABLE_FLAGS, Whence, type FsStatistics, type Mount, type Stat } from '../../ipc/interfaces/fs.js';
import { PAGE_BYTES, type PageSource } from '../lib/pages.js';
import { DescriptionTable, type Description } from './descriptions.js';
import { MountTable, type FilesystemClient, type Location, type MountedFilesystem } from './mount_table.js';
import { PageCache } from './page_cache.js';
import { normalizePath } from './path_names.js';
import { isDirectory, isRegular, isSymlink, PathResolver, type Resolved } from './resolver.js';

export interface VfsOptions {
  readonly pages: PageSource;
  /** Most pages the page cache holds. */
  readonly cachePages: number;
  /** Dirty pages of one file past which a write writes the file back. */
  readonly dirtyFileLimit: number;
  /** A client of the filesystem server `service` (filesystem.ts). */
  readonly connectFilesystem: (service: string) => FilesystemClient;
  readonly now?: () => number;
}

const DEFAULT_GETDENTS = 1024;
const MOUNT_TIMEOUT_MS = 10_000;

type PathArgs = { path: string; at?: number };
type Owner = { uid?: number; gid?: number };

export class Vfs {
  readonly mounts = new MountTable();
  readonly cache: PageCache;
  private readonly resolver = new PathResolver(this.mounts);
  private readonly descriptions = new DescriptionTable();
  /** Descriptions open per file, for the filesystem's hold and release. */
  private readonly holds = new Map<MountedFilesystem, Map<number, number>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: VfsOptions) {
    this.cache = new PageCache(options.pages, { limitPages: options.cachePages, dirtyFileLimit: options.dirtyFileLimit, ...(options.now ? { now: options.now } : {}) });
  }

  /** Runs `operation` after every operation before it. */
  serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  // Open-file descriptions

  async open(holder: string, args: PathArgs & Owner & { flags: number; permissions?: number }): Promise<{ description: number; stat: Stat }> {
    const flags = args.flags;
    if ((flags & ~OPEN_FLAGS_ACCEPTED) !== 0) throw errnoError('EINVAL', `open flags 0o${(flags & ~OPEN_FLAGS_ACCEPTED).toString(8)} are not known`);
    const accessMode = flags & OpenFlags.O_ACCMODE;
    if (accessMode === OpenFlags.O_ACCMODE) throw errnoError('EINVAL', 'access mode 3 is no access mode');
    const writable = accessMode !== OpenFlags.O_RDONLY;
    const start = this.start(holder, args.at);
    const noFollow = (flags & OpenFlags.O_NOFOLLOW) !== 0;
    let resolved: Resolved;
    if (flags & OpenFlags.O_CREAT) {
      const parent = await this.resolver.resolveParent(args.path, start);
      if (parent.trailingSlash) throw errnoError('EISDIR', `${args.path}: O_CREAT of a directory`);
      const existing = await this.lookupIfPresent(parent.directory, parent.name);
      if (existing && (flags & OpenFlags.O_EXCL)) throw errnoError('EEXIST', `${args.path} exists`);
      if (existing && isSymlink(existing.attributes)) {
        if (noFollow) throw errnoError('ELOOP', `${args.path} is a symlink (O_NOFOLLOW)`);
        resolved = await this.resolver.resolve(args.path, start, { followLast: true });
      } else if (existing) {
        resolved = existing;
      } else {
        this.writableMount(parent.directory.mount, args.path);
        const attributes = await parent.directory.mount.filesystem.create({
          directory: parent.directory.inode, name: parent.name, permissions: args.permissions ?? 0o644, uid: args.uid ?? 0, gid: args.gid ?? 0,
        });
        resolved = { location: { mount: parent.directory.mount, inode: attributes.inode }, attributes };
      }
    } else {
      resolved = await this.resolver.resolve(args.path, start, { followLast: !noFollow });
      if (noFollow && isSymlink(resolved.attributes)) throw errnoError('ELOOP', `${args.path} is a symlink (O_NOFOLLOW)`);
    }
    const directory = isDirectory(resolved.attributes);
    if ((flags & OpenFlags.O_DIRECTORY) && !directory) throw errnoError('ENOTDIR', `${args.path} is not a directory`);
    if (directory && (writable || (flags & OpenFlags.O_CREAT))) throw errnoError('EISDIR', `${args.path} is a directory`);
    if (writable) this.writableMount(resolved.location.mount, args.path);
    await this.hold(resolved.location);
    try {
      if ((flags & OpenFlags.O_TRUNC) && writable && isRegular(resolved.attributes)) await this.cache.truncate(resolved.location, 0);
    } catch (error) {
      await this.release(resolved.location).catch(() => undefined);
      throw error;
    }
    const description = this.descriptions.open(holder, resolved.location, flags, directory);
    return { description: description.id, stat: await this.statOf(resolved.location) };
  }

  async read(holder: string, args: { description: number; length: number }): Promise<{ data: Uint8Array }> {
    const description = this.readableFile(holder, args.description);
    const data = await this.cache.read(description.location, description.offset, args.length);
    description.offset += data.length;
    return { data };
  }

  async pread(holder: string, args: { description: number; offset: number; length: number }): Promise<{ data: Uint8Array }> {
    const description = this.readableFile(holder, args.description);
    return { data: await this.cache.read(description.location, args.offset, args.length) };
  }

  async write(holder: string, args: { description: number; data: Uint8Array }): Promise<{ written: number }> {
    const description = this.writableFile(holder, args.description);
    const offset = description.flags & OpenFlags.O_APPEND ? await this.sizeOf(description.location) : description.offset;
    const written = await this.cache.write(description.location, offset, args.data);
    description.offset = offset + written;
    return { written };
  }

  async pwrite(holder: string, args: { description: number; offset: number; data: Uint8Array }): Promise<{ written: number }> {
    const description = this.writableFile(holder, args.description);
    // Linux: pwrite on an O_APPEND description appends, whatever the offset says.
    const offset = description.flags & OpenFlags.O_APPEND ? await this.sizeOf(description.location) : args.offset;
    return { written: await this.cache.write(description.location, offset, args.data) };
  }

  async lseek(holder: string, args: { description: number; offset: number; whence: number }): Promise<{ offset: number }> {
    const description = this.descriptions.get(holder, args.description);
    const base = args.whence === Whence.SEEK_SET ? 0 : args.whence === Whence.SEEK_CUR ? description.offset : await this.sizeOf(description.location);
    const offset = base + args.offset;
    if (offset < 0 || !Number.isSafeInteger(offset)) throw errnoError('EINVAL', `offset ${offset} is out of range`);
    description.offset = offset;
    return { offset };
  }

  async close(holder: string, args: { description: number }): Promise<Record<string, never>> {
    const description = this.descriptions.get(holder, args.description);
    if (this.descriptions.dropReference(description, holder)) await this.release(description.location);
    return {};
  }

  dup(holder: string, args: { description: number }): { description: number } {
    const description = this.descriptions.get(holder, args.description);
    this.descriptions.addReference(description, holder);
    return { description: description.id };
  }

  share(holder: string, args: { description: number; holder: string }): Record<string, never> {
    this.descriptions.addReference(this.descriptions.get(holder, args.description), args.holder);
    return {};
  }

  async closeAll(holder: string): Promise<{ closed: number }> {
    const { dropped, ended } = this.descriptions.dropHolder(holder);
    for (const description of ended) await this.release(description.location).catch(() => undefined);
    return { closed: dropped };
  }

  getFlags(holder: string, args: { description: number }): { flags: number } {
    return { flags: this.descriptions.get(holder, args.description).flags };
  }

  setFlags(holder: string, args: { description: number; flags: number }): Record<string, never> {
    const description = this.descriptions.get(holder, args.description);
    description.flags = (description.flags & ~SETTABLE_FLAGS) | (args.flags & SETTABLE_FLAGS);
    return {};
  }

  async getdents(holder: string, args: { description: number; maxEntries?: number }) {
    const description = this.descriptions.get(holder, args.description);
    if (!description.isDirectory) throw errnoError('ENOTDIR', `description ${args.description} is not a directory`);
    const { entries } = await description.location.mount.filesystem.readdir({ directory: description.location.inode });
    const next = entries.slice(description.offset, description.offset + (args.maxEntries ?? DEFAULT_GETDENTS));
    description.offset += next.length;
    return { entries: next };
  }

  // Attributes

  async stat(holder: string, args: PathArgs): Promise<Stat> {
    const resolved = await this.resolver.resolve(args.path, this.start(holder, args.at), { followLast: true });
    return this.toStat(resolved.location, resolved.attributes);
  }

  async lstat(holder: string, args: PathArgs): Promise<Stat> {
    const resolved = await this.resolver.resolve(args.path, this.start(holder, args.at), { followLast: false });
    return this.toStat(resolved.location, resolved.attributes);
  }

  async fstat(holder: string, args: { description: number }): Promise<Stat> {
    return this.statOf(this.descriptions.get(holder, args.description).location);
  }

  async chmod(holder: string, args: PathArgs & { permissions: number; followSymlinks?: boolean }): Promise<Stat> {
    return this.setAttributes(holder, args, { permissions: args.permissions });
  }

  async chown(holder: string, args: PathArgs & Owner & { followSymlinks?: boolean }): Promise<Stat> {
    return this.setAttributes(holder, args, { ...(args.uid === undefined ? {} : { uid: args.uid }), ...(args.gid === undefined ? {} : { gid: args.gid }) });
  }

  async utimens(holder: string, args: PathArgs & { accessTime?: number; modifyTime?: number; followSymlinks?: boolean }): Promise<Stat> {
    return this.setAttributes(holder, args, {
      ...(args.accessTime === undefined ? {} : { accessTime: args.accessTime }),
      ...(args.modifyTime === undefined ? {} : { modifyTime: args.modifyTime }),
    });
  }

  // Names

  async mkdir(holder: string, args: PathArgs & Owner & { permissions?: number }): Promise<Stat> {
    const parent = await this.resolver.resolveParent(args.path, this.start(holder, args.at));
    if (await this.lookupIfPresent(parent.directory, parent.name)) throw errnoError('EEXIST', `${args.path} exists`);
    this.writableMount(parent.directory.mount, args.path);
    const attributes = await parent.directory.mount.filesystem.mkdir({ directory: parent.directory.inode, name: parent.name, permissions: args.permissions ?? 0o755, uid: args.uid ?? 0, gid: args.gid ?? 0 });
    return this.toStat({ mount: parent.directory.mount, inode: attributes.inode }, attributes);
  }

  async rmdir(holder: string, args: PathArgs): Promise<Record<string, never>> {
    const parent = await this.resolver.resolveParent(args.path, this.start(holder, args.at));
    if (parent.name === '.') throw errnoError('EINVAL', `${args.path}: rmdir of "."`);
    if (parent.name === '..') throw errnoError('ENOTEMPTY', `${args.path}: rmdir of ".."`);
    const target = await this.resolver.lookup(parent.directory, parent.name);
    if (target.location.mount !== parent.directory.mount) throw errnoError('EBUSY', `${args.path} is a mount point`);
    if (!isDirectory(target.attributes)) throw errnoError('ENOTDIR', `${args.path} is not a directory`);
    this.writableMount(parent.directory.mount, args.path);
    await parent.directory.mount.filesystem.rmdir({ directory: parent.directory.inode, name: parent.name });
    await this.forgetIfUnheld(target.location);
    return {};
  }

  async unlink(holder: string, args: PathArgs): Promise<Record<string, never>> {
    const parent = await this.resolver.resolveParent(args.path, this.start(holder, args.at));
    if (parent.name === '.' || parent.name === '..') throw errnoError('EISDIR', `${args.path} is a directory`);
    const target = await this.resolver.lookup(parent.directory, parent.name);
    if (target.location.mount !== parent.directory.mount) throw errnoError('EBUSY', `${args.path} is a mount point`);
    if (isDirectory(target.attributes)) throw errnoError('EISDIR', `${args.path} is a directory`);
    if (parent.trailingSlash) throw errnoError('ENOTDIR', `${args.path} is not a directory`);
    this.writableMount(parent.directory.mount, args.path);
    await parent.directory.mount.filesystem.unlink({ directory: parent.directory.inode, name: parent.name });
    await this.forgetIfUnheld(target.location);
    return {};
  }

  async rename(holder: string, args: { from: string; fromAt?: number; to: string; toAt?: number }): Promise<Record<string, never>> {
    const from = await this.resolver.resolveParent(args.from, this.start(holder, args.fromAt));
    const to = await this.resolver.resolveParent(args.to, this.start(holder, args.toAt));
    if ([from.name, to.name].some((name) => name === '.' || name === '..')) throw errnoError('EBUSY', 'rename of "." or ".."');
    const source = await this.resolver.lookup(from.directory, from.name);
    if (source.location.mount !== from.directory.mount) throw errnoError('EBUSY', `${args.from} is a mount point`);
    if (from.directory.mount !== to.directory.mount) throw errnoError('EXDEV', `${args.from} and ${args.to} are on different mounts`);
    const existing = await this.lookupIfPresent(to.directory, to.name);
    if (existing && existing.location.mount !== to.directory.mount) throw errnoError('EBUSY', `${args.to} is a mount point`);
    if ((from.trailingSlash || to.trailingSlash) && !isDirectory(source.attributes)) throw errnoError('ENOTDIR', `${args.from} is not a directory`);
    this.writableMount(from.directory.mount, args.from);
    await from.directory.mount.filesystem.rename({ fromDirectory: from.directory.inode, fromName: from.name, toDirectory: to.directory.inode, toName: to.name });
    if (existing && existing.location.inode !== source.location.inode) await this.forgetIfUnheld(existing.location);
    return {};
  }

  async link(holder: string, args: { existing: string; existingAt?: number; path: string; at?: number }): Promise<Record<string, never>> {
    const existing = await this.resolver.resolve(args.existing, this.start(holder, args.existingAt), { followLast: false });
    const parent = await this.resolver.resolveParent(args.path, this.start(holder, args.at));
    if (await this.lookupIfPresent(parent.directory, parent.name)) throw errnoError('EEXIST', `${args.path} exists`);
    if (existing.location.mount !== parent.directory.mount) throw errnoError('EXDEV', `${args.existing} and ${args.path} are on different mounts`);
    if (isDirectory(existing.attributes)) throw errnoError('EPERM', `${args.existing} is a directory`);
    this.writableMount(parent.directory.mount, args.path);
    await parent.directory.mount.filesystem.link({ directory: parent.directory.inode, name: parent.name, inode: existing.location.inode });
    return {};
  }

  async symlink(holder: string, args: PathArgs & Owner & { target: string }): Promise<Stat> {
    const parent = await this.resolver.resolveParent(args.path, this.start(holder, args.at));
    if (await this.lookupIfPresent(parent.directory, parent.name)) throw errnoError('EEXIST', `${args.path} exists`);
    this.writableMount(parent.directory.mount, args.path);
    const attributes = await parent.directory.mount.filesystem.symlink({ directory: parent.directory.inode, name: parent.name, target: args.target, uid: args.uid ?? 0, gid: args.gid ?? 0 });
    return this.toStat({ mount: parent.directory.mount, inode: attributes.inode }, attributes);
  }

  async readlink(holder: string, args: PathArgs): Promise<{ target: string }> {
    const resolved = await this.resolver.resolve(args.path, this.start(holder, args.at), { followLast: false });
    if (!isSymlink(resolved.attributes)) throw errnoError('EINVAL', `${args.path} is not a symlink`);
    return resolved.location.mount.filesystem.readlink({ inode: resolved.location.inode });
  }

  async truncate(holder: string, args: PathArgs & { size: number }): Promise<Record<string, never>> {
    const resolved = await this.resolver.resolve(args.path, this.start(holder, args.at), { followLast: true });
    if (isDirectory(resolved.attributes)) throw errnoError('EISDIR', `${args.path} is a directory`);
    if (!isRegular(resolved.attributes)) throw errnoError('EINVAL', `${args.path} is not a regular file`);
    this.writableMount(resolved.location.mount, args.path);
    await this.cache.truncate(resolved.location, args.size);
    return {};
  }

  async ftruncate(holder: string, args: { description: number; size: number }): Promise<Record<string, never>> {
    const description = this.descriptions.get(holder, args.description);
    if (description.isDirectory) throw errnoError('EISDIR', `description ${args.description} is a directory`);
    if (!description.writable) throw errnoError('EINVAL', `description ${args.description} is not open for writing`);
    await this.cache.truncate(description.location, args.size);
    return {};
  }

  // Durability

  async fsync(holder: string, args: { description: number }): Promise<Record<string, never>> {
    const { location } = this.descriptions.get(holder, args.description);
    await this.cache.writeBack(location);
    await location.mount.filesystem.sync({});
    return {};
  }

  /** Every dirty page to its filesystem, then every filesystem's sync; throws the first error after trying all. */
  async sync(): Promise<Record<string, never>> {
    let first: unknown;
    await this.cache.writeBackAll().catch((error: unknown) => { first ??= error; });
    for (const mount of this.mounts.list()) await mount.filesystem.sync({}).catch((error: unknown) => { first ??= error; });
    if (first !== undefined) throw first;
    return {};
  }

  async statfs(holder: string, args: PathArgs): Promise<FsStatistics> {
    const resolved = await this.resolver.resolve(args.path, this.start(holder, args.at), { followLast: true });
    const { statistics } = await resolved.location.mount.filesystem.info({});
    return { ...statistics, ...MountTable.row(resolved.location.mount) };
  }

  // Mounts

  async mount(args: { path: string; service: string; readOnly?: boolean }): Promise<Mount> {
    if (!args.path.startsWith('/')) throw errnoError('EINVAL', `mount point ${args.path} is not an absolute path`);
    if (this.mounts.byService(args.service)) throw errnoError('EBUSY', `${args.service} is mounted already`);
    let mountPoint: Location | undefined;
    if (this.mounts.root) {
      const resolved = await this.resolver.resolve(args.path, undefined, { followLast: true });
      if (!isDirectory(resolved.attributes)) throw errnoError('ENOTDIR', `${args.path} is not a directory`);
      if (resolved.location.inode === resolved.location.mount.root) throw errnoError('EBUSY', `${args.path} is a mount point already`);
      mountPoint = resolved.location;
    } else if (normalizePath(args.path) !== '/') {
      throw errnoError('ENOENT', `nothing is mounted at / yet, so ${args.path} does not exist`);
    }
    const filesystem = this.options.connectFilesystem(args.service);
    let info;
    try {
      info = await filesystem.info({}, { timeoutMs: MOUNT_TIMEOUT_MS });
    } catch (error) {
      throw errnoError('ENODEV', `no filesystem server ${args.service} answers (${(error as Error).message})`);
    }
    const mount: MountedFilesystem = {
      id: this.mounts.allocateId(), path: normalizePath(args.path), service: args.service, type: info.type, filesystem, root: info.root,
      readOnly: args.readOnly === true || info.statistics.readOnly, ...(mountPoint ? { mountPoint } : {}),
      ...(info.instance === undefined ? {} : { instance: info.instance }),
    };
    this.mounts.add(mount);
    return MountTable.row(mount);
  }

  async umount(args: { path: string }): Promise<Record<string, never>> {
    const resolved = await this.resolver.resolve(args.path, undefined, { followLast: true });
    const mount = resolved.location.mount;
    if (resolved.location.inode !== mount.root) throw errnoError('EINVAL', `${args.path} is not a mount point`);
    if (!mount.mountPoint) throw errnoError('EBUSY', 'the root cannot be unmounted');
    if (this.mounts.childrenOf(mount).length > 0) throw errnoError('EBUSY', `${args.path} has mounts below it`);
    if (this.descriptions.anyOnMount(mount)) throw errnoError('EBUSY', `files on ${args.path} are open`);
    await this.cache.writeBackAll(mount);
    await mount.filesystem.sync({});
    await this.cache.forgetMount(mount);
    this.mounts.remove(mount);
    this.holds.delete(mount);
    return {};
  }

  mountList(): { mounts: Mount[] } {
    return { mounts: this.mounts.list().map((mount) => MountTable.row(mount)) };
  }

  /**
   * The filesystem server `service` started a new generation: hold again what open files
   * hold. Returns false when it lost its files (its `instance` changed: a tmpfs starts
   * empty): the cache of the mount is dropped, as what it cached is gone, and the mount
   * takes the new contents.
   */
  async filesystemRestarted(service: string): Promise<boolean> {
    const mount = this.mounts.byService(service);
    if (!mount) return true;
    const info = await mount.filesystem.info({});
    if (info.instance !== mount.instance) {
      await this.cache.forgetMount(mount);
      this.holds.delete(mount);
      const renewed: MountedFilesystem = { ...mount, root: info.root, ...(info.instance === undefined ? {} : { instance: info.instance }) };
      this.mounts.replace(mount, renewed);
      return false;
    }
    for (const [inode, count] of this.holds.get(mount) ?? []) if (count > 0) await mount.filesystem.hold({ inode });
    return true;
  }

  /**
   * After `mount`'s filesystem lost its files (a tmpfs restarted), the mounts on it cover
   * directories that are gone: each mount point is made again (with its parents) and the
   * mount moved onto it, so /tmp is /tmp again.
   */
  async reattachMounts(mount: MountedFilesystem): Promise<void> {
    const children = this.mounts.childrenOf(mount).sort((a, b) => a.path.length - b.path.length);
    for (const child of children) {
      child.mountPoint = undefined; // not found through its old directory while it moves
      const parts = child.path.split('/').filter((part) => part.length > 0);
      let directory = this.resolver.rootLocation();
      for (const part of parts) {
        const existing = await this.lookupIfPresent(directory, part);
        if (existing) {
          directory = existing.location;
          continue;
        }
        const made = await directory.mount.filesystem.mkdir({ directory: directory.inode, name: part, permissions: 0o755, uid: 0, gid: 0 });
        directory = { mount: directory.mount, inode: made.inode };
      }
      child.mountPoint = directory;
    }
  }

  // Helpers

  private start(holder: string, at: number | undefined): Location | undefined {
    if (at === undefined) return undefined;
    const description = this.descriptions.get(holder, at);
    if (!description.isDirectory) throw errnoError('ENOTDIR', `description ${at} is not a directory`);
    return description.location;
  }

  private async lookupIfPresent(directory: Location, name: string): Promise<Resolved | undefined> {
    try {
      return await this.resolver.lookup(directory, name);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private writableMount(mount: MountedFilesystem, path: string): void {
    if (mount.readOnly) throw errnoError('EROFS', `${path} is on a read-only mount (${mount.path})`);
  }

  private readableFile(holder: string, id: number): Description {
    const description = this.descriptions.get(holder, id);
    if (description.isDirectory) throw errnoError('EISDIR', `description ${id} is a directory`);
    if (!description.readable) throw errnoError('EBADF', `description ${id} is not open for reading`);
    return description;
  }

  private writableFile(holder: string, id: number): Description {
    const description = this.descriptions.get(holder, id);
    if (!description.writable) throw errnoError('EBADF', `description ${id} is not open for writing`);
    return description;
  }

  private async setAttributes(holder: string, args: PathArgs & { followSymlinks?: boolean }, change: { permissions?: number; uid?: number; gid?: number; accessTime?: number; modifyTime?: number }): Promise<Stat> {
    const resolved = await this.resolver.resolve(args.path, this.start(holder, args.at), { followLast: args.followSymlinks !== false });
    this.writableMount(resolved.location.mount, args.path);
    // Written back first, so a later write-back does not move the times set here.
    if (change.modifyTime !== undefined) await this.cache.writeBack(resolved.location);
    const attributes = await resolved.location.mount.filesystem.setattr({ inode: resolved.location.inode, ...change });
    return this.toStat(resolved.location, attributes);
  }

  private async sizeOf(location: Location): Promise<number> {
    return (await this.statOf(location)).size;
  }

  private async statOf(location: Location): Promise<Stat> {
    return this.toStat(location, await location.mount.filesystem.getattr({ inode: location.inode }));
  }

  private toStat(location: Location, raw: FileAttributes): Stat {
    const attributes = this.cache.overlay(location, raw);
    return { device: location.mount.id, ...attributes, blockBytes: PAGE_BYTES };
  }

  private async hold(location: Location): Promise<void> {
    let counts = this.holds.get(location.mount);
    if (!counts) this.holds.set(location.mount, (counts = new Map()));
    const count = counts.get(location.inode) ?? 0;
    if (count === 0) await location.mount.filesystem.hold({ inode: location.inode });
    counts.set(location.inode, count + 1);
  }

  /** One description of the file ended: with the last, its dirty pages are written back and the filesystem's hold released. */
  private async release(location: Location): Promise<void> {
    const counts = this.holds.get(location.mount);
    const count = counts?.get(location.inode) ?? 0;
    if (count > 1) {
      counts!.set(location.inode, count - 1);
      return;
    }
    counts?.delete(location.inode);
    let failure: unknown;
    await this.cache.writeBack(location).catch((error: unknown) => { failure = error; });
    await location.mount.filesystem.release({ inode: location.inode });
    if (failure !== undefined) throw failure;
  }

  private async forgetIfUnheld(location: Location): Promise<void> {
    if (!this.holds.get(location.mount)?.get(location.inode)) await this.cache.forget(location);
  }
}
