// One mounted ext2 filesystem: files, directories and symlinks by inode number, as the fs
// interface serves them to the VFS (which owns paths, open files and the page cache).
//
// Every public operation runs alone (a queue), so a directory or bitmap is never changed
// by two operations at once. Changes stay in the buffer cache until `sync` (or, mounted
// with commit 'every-operation', until the end of each operation), which writes them in an
// order a crash can only leave repairable by `e2fsck -p` (README.md).
//
//   mount ── superblock (validate, features) ── group table ── inodes ── block maps
//                                                                    └─ directories (directories.ts)

import { BufferCache } from './buffer_cache.js';
import type { BlockStore } from './block_store.js';
import { BlockMap, maximumBlocks } from './block_map.js';
import { liveRecords, recordBytesFor, retargetRecord, writeRecord } from './directory_block.js';
import { Directories } from './directories.js';
import { Ext2Error } from './errors.js';
import { checkFeatures, type MountAccess } from './features.js';
import { GroupTable } from './groups.js';
import { Inode, attributesOf, type FileAttributes } from './inode.js';
import {
  FILE_TYPE, GOOD_OLD_INODE_BYTES, MAXIMUM_NAME_BYTES,
  MODE_DIRECTORY, MODE_REGULAR, MODE_SYMLINK, MODE_TYPE_MASK, ROOT_INODE, STATE_VALID, SUPERBLOCK_BYTES,
  SUPERBLOCK_OFFSET, XATTR_BLOCK_MAGIC, fileTypeOfMode, xattrHeaderLayout,
} from './layout.js';
import { Superblock } from './superblock.js';
import { ByteMemory } from '../../hal/virtio/layout.js';

export type { FileAttributes } from './inode.js';

export interface DirectoryListing {
  readonly name: string;
  readonly inode: number;
  /** Directory-entry file type (FILE_TYPE), from the entry or, without filetype, the inode. */
  readonly fileType: number;
}

export interface FilesystemStatistics {
  readonly blockBytes: number;
  readonly blocks: number;
  readonly freeBlocks: number;
  /** Free blocks an unprivileged user may take (free minus the reserved ones). */
  readonly availableBlocks: number;
  readonly inodes: number;
  readonly freeInodes: number;
  readonly nameMaximum: number;
  readonly label: string;
  readonly readOnly: boolean;
}

export interface MountOptions {
  readonly access: MountAccess;
  /** Wall-clock seconds, for inode and superblock times. */
  readonly now?: () => number;
  /**
   * When changes reach the disk: 'at-sync' (default) keeps them in the buffer cache until
   * `sync`; 'every-operation' writes each operation's before it resolves (the ext2 server's
   * choice: its acknowledged writes survive its own crash).
   */
  readonly commit?: 'at-sync' | 'every-operation';
  /**
   * Whether a read-write mount counts itself and sets the mount time (default true); mkfs
   * filling a new image says false, as `mke2fs -d` leaves the mount count at 0.
   */
  readonly recordMount?: boolean;
}

/** Links a directory or file may have (EXT2_LINK_MAX). */
const LINK_MAXIMUM = 32000;
/** Most blocks of file data one read asks the device for at once. */
const READ_RUN_BLOCKS = 256;
/** Fast symlinks keep targets shorter than i_block's 60 bytes in the inode itself. */
const FAST_SYMLINK_BYTES = 60;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Ext2Filesystem {
  readonly superblock: Superblock;
  readonly access: MountAccess;
  private readonly cache: BufferCache;
  private readonly groups: GroupTable;
  private readonly blocks: BlockMap;
  private readonly directories: Directories;
  private readonly now: () => number;
  private readonly commit: 'at-sync' | 'every-operation';
  /** The state the superblock had before the mount; it is restored at a clean unmount. */
  private readonly mountState: number;
  /** Inodes the VFS holds open: an unlinked one is freed only when the last holder lets go. */
  private readonly holders = new Map<number, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private mounted = true;

  private constructor(cache: BufferCache, superblock: Superblock, groups: GroupTable, access: MountAccess, now: () => number, commit: 'at-sync' | 'every-operation') {
    this.cache = cache;
    this.commit = commit;
    this.superblock = superblock;
    this.groups = groups;
    this.access = access;
    this.now = now;
    this.blocks = new BlockMap(cache, groups, superblock.blockBytes, superblock.blocksCount);
    this.directories = new Directories({
      superblock, cache, blocks: this.blocks, now,
      readDirectoryInode: (number) => this.readDirectoryInode(number),
      writeInode: (inode) => this.writeInode(inode),
      goalFor: (directory, logical) => this.goalFor(directory, logical),
    });
    this.mountState = superblock.get('state');
    groups.reclaim = () => this.writeBack();
  }

  /**
   * Mounts the filesystem on `store`. A read-write mount counts itself in s_mnt_count and
   * marks the filesystem not clean until `unmount`, as Linux's ext2 does; features this
   * code does not support refuse the mount by name.
   */
  static async mount(store: BlockStore, options: MountOptions): Promise<Ext2Filesystem> {
    const access: MountAccess = store.readOnly ? 'read-only' : options.access;
    if (store.bytes < SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES) throw new Ext2Error('EINVAL', `a ${store.bytes}-byte device is too small for ext2`);
    const probe = new Superblock((await store.read(SUPERBLOCK_OFFSET, SUPERBLOCK_BYTES)).slice());
    probe.validate(store.bytes);
    const features = checkFeatures(probe.get('featureIncompatible'), probe.get('featureReadOnlyCompatible'), access);
    if (!features.ok) throw new Ext2Error('EINVAL', `cannot mount ${access}: ${features.reason}`);
    const cache = new BufferCache(store, probe.blockBytes);
    const superblockBlock = Math.floor(SUPERBLOCK_OFFSET / probe.blockBytes);
    const superblockBlockBytes = await cache.pin(superblockBlock);
    const within = SUPERBLOCK_OFFSET - superblockBlock * probe.blockBytes;
    const superblock = new Superblock(superblockBlockBytes.subarray(within, within + SUPERBLOCK_BYTES));
    const groups = await GroupTable.load(cache, superblock, superblockBlock, superblockBlockBytes);
    const now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const filesystem = new Ext2Filesystem(cache, superblock, groups, access, now, options.commit ?? 'at-sync');
    if (access === 'read-write') {
      if (options.recordMount !== false) {
        if (superblock.get('maximumMountCount') === 0) superblock.set('maximumMountCount', 20);
        superblock.set('mountCount', superblock.get('mountCount') + 1);
        superblock.set('mountTime', now());
      }
      superblock.set('state', superblock.get('state') & ~STATE_VALID);
      superblock.set('writeTime', now());
      groups.superblockChanged();
      await cache.sync();
    }
    return filesystem;
  }

  get rootInode(): number {
    return ROOT_INODE;
  }

  get label(): string {
    return this.superblock.volumeName;
  }

  /** Blocks changed in memory and not yet on the disk. */
  get dirtyBlocks(): number {
    return this.cache.dirtyCount;
  }

  stat(inode: number): Promise<FileAttributes> {
    return this.exclusive(async () => attributesOf(await this.readInode(inode)));
  }

  /** The inode `name` names in directory `directory`; ENOENT when there is none. */
  lookup(directory: number, name: string): Promise<number> {
    return this.exclusive(async () => {
      const parent = await this.readDirectoryInode(directory);
      const found = await this.directories.find(parent, checkName(name));
      if (!found) throw new Ext2Error('ENOENT', `no entry "${name}" in directory inode ${directory}`);
      return found.inode;
    });
  }

  /** Every entry of the directory, `.` and `..` included, in on-disk order. */
  readDirectory(directory: number): Promise<DirectoryListing[]> {
    return this.exclusive(async () => {
      const parent = await this.readDirectoryInode(directory);
      const listing: DirectoryListing[] = [];
      await this.directories.forEachBlock(parent, async (block, blockNumber) => {
        for (const entry of liveRecords(block, blockNumber)) {
          listing.push({ name: decoder.decode(entry.name), inode: entry.inode, fileType: entry.fileType });
        }
        return false;
      });
      return listing;
    });
  }

  /** Up to `length` bytes at `offset` (fewer at the end of the file); holes read as zeros. */
  read(inode: number, offset: number, length: number): Promise<Uint8Array> {
    return this.exclusive(async () => {
      const file = await this.readInode(inode);
      if (file.isDirectory) throw new Ext2Error('EISDIR', `inode ${inode} is a directory`);
      checkOffset(offset, length);
      const end = Math.min(file.size, offset + length);
      if (end <= offset) return new Uint8Array(0);
      const result = new Uint8Array(end - offset);
      const blockBytes = this.superblock.blockBytes;
      const firstLogical = Math.floor(offset / blockBytes);
      const lastLogical = Math.floor((end - 1) / blockBytes);
      // Consecutive logical blocks on consecutive disk blocks are read as one request.
      for (let logical = firstLogical; logical <= lastLogical;) {
        const physical = await this.blocks.lookup(file, logical);
        let count = 1;
        if (physical !== 0) {
          while (logical + count <= lastLogical && count < READ_RUN_BLOCKS && await this.blocks.lookup(file, logical + count) === physical + count) count++;
          const run = await this.cache.readRun(physical, count);
          const runStart = logical * blockBytes;
          const from = Math.max(offset, runStart);
          const to = Math.min(end, runStart + count * blockBytes);
          result.set(run.subarray(from - runStart, to - runStart), from - offset);
        }
        logical += count;
      }
      return result;
    });
  }

  /** Writes `data` at `offset`, growing the file (and filling any gap with a hole). */
  write(inode: number, offset: number, data: Uint8Array): Promise<number> {
    return this.mutation(async () => {
      this.checkWritable();
      const file = await this.readInode(inode);
      if (file.isDirectory) throw new Ext2Error('EISDIR', `inode ${inode} is a directory`);
      if (!file.isRegular) throw new Ext2Error('EINVAL', `inode ${inode} is not a regular file`);
      checkOffset(offset, data.length);
      const blockBytes = this.superblock.blockBytes;
      const end = offset + data.length;
      if (Math.ceil(end / blockBytes) > maximumBlocks(blockBytes / 4)) throw new Ext2Error('EFBIG', `a file cannot reach ${end} bytes with ${blockBytes}-byte blocks`);
      let written = 0;
      try {
        for (let position = offset; position < end;) {
          const logical = Math.floor(position / blockBytes);
          const within = position % blockBytes;
          const take = Math.min(blockBytes - within, end - position);
          const goal = await this.goalFor(file, logical);
          const { block: physical, fresh } = await this.blocks.allocate(file, logical, goal);
          const block = fresh ? this.cache.fresh(physical, 'data') : await this.cache.get(physical);
          block.set(data.subarray(position - offset, position - offset + take), within);
          this.cache.markDirty(physical, block, 'data');
          position += take;
          written += take;
        }
      } finally {
        // What was written stays written, even when the disk filled up part way.
        if (offset + written > file.size) file.size = offset + written;
        if (written > 0) file.touch({ modify: true, change: true }, this.now());
        await this.writeInode(file);
      }
      return written;
    });
  }

  /** Sets the file's size: blocks past it are freed, a longer size leaves a hole. */
  truncate(inode: number, size: number): Promise<void> {
    return this.mutation(async () => {
      this.checkWritable();
      const file = await this.readInode(inode);
      if (file.isDirectory) throw new Ext2Error('EISDIR', `inode ${inode} is a directory`);
      if (!file.isRegular) throw new Ext2Error('EINVAL', `inode ${inode} is not a regular file`);
      checkOffset(size, 0);
      await this.resize(file, size);
      file.touch({ modify: true, change: true }, this.now());
      await this.writeInode(file);
    });
  }

  /** Creates a regular file `name` in `directory`; EEXIST when the name is taken. */
  create(directory: number, name: string, permissions: number, owner: { uid: number; gid: number }): Promise<number> {
    return this.mutation(async () => {
      this.checkWritable();
      const parent = await this.readDirectoryInode(directory);
      const nameBytes = checkName(name);
      if (await this.directories.find(parent, nameBytes)) throw new Ext2Error('EEXIST', `"${name}" exists`);
      const file = await this.newInode(parent, MODE_REGULAR | (permissions & 0o7777), owner, 'file');
      file.set('linksCount', 1);
      await this.writeInode(file);
      await this.directories.add(parent, nameBytes, file.number, FILE_TYPE.regular);
      return file.number;
    });
  }

  /** Creates directory `name` in `directory`, with `.` and `..`. */
  mkdir(directory: number, name: string, permissions: number, owner: { uid: number; gid: number }): Promise<number> {
    return this.mutation(async () => {
      this.checkWritable();
      const parent = await this.readDirectoryInode(directory);
      const nameBytes = checkName(name);
      if (await this.directories.find(parent, nameBytes)) throw new Ext2Error('EEXIST', `"${name}" exists`);
      if (parent.linksCount >= LINK_MAXIMUM) throw new Ext2Error('EMLINK', `directory inode ${directory} has ${parent.linksCount} links`);
      const child = await this.newInode(parent, MODE_DIRECTORY | (permissions & 0o7777), owner, 'directory');
      const blockBytes = this.superblock.blockBytes;
      const { block: physical } = await this.blocks.allocate(child, 0, this.groups.firstBlockOfGroupOf(child.number));
      const block = this.cache.fresh(physical, 'directory');
      const dotBytes = recordBytesFor(1);
      writeRecord(block, 0, dotBytes, child.number, encoder.encode('.'), FILE_TYPE.directory);
      writeRecord(block, dotBytes, blockBytes - dotBytes, parent.number, encoder.encode('..'), FILE_TYPE.directory);
      child.size = blockBytes;
      child.set('linksCount', 2);
      await this.writeInode(child);
      await this.directories.add(parent, nameBytes, child.number, FILE_TYPE.directory);
      parent.set('linksCount', parent.linksCount + 1);
      await this.writeInode(parent);
      return child.number;
    });
  }

  /** Creates symlink `name` → `target`: fast (in the inode) below 60 bytes, else one block. */
  symlink(directory: number, name: string, target: string, owner: { uid: number; gid: number }): Promise<number> {
    return this.mutation(async () => {
      this.checkWritable();
      const parent = await this.readDirectoryInode(directory);
      const nameBytes = checkName(name);
      const targetBytes = encoder.encode(target);
      if (targetBytes.length === 0) throw new Ext2Error('ENOENT', 'a symlink target cannot be empty');
      if (targetBytes.length >= this.superblock.blockBytes) throw new Ext2Error('ENAMETOOLONG', `a symlink target of ${targetBytes.length} bytes does not fit one block`);
      if (await this.directories.find(parent, nameBytes)) throw new Ext2Error('EEXIST', `"${name}" exists`);
      const link = await this.newInode(parent, MODE_SYMLINK | 0o777, owner, 'file');
      if (targetBytes.length < FAST_SYMLINK_BYTES) {
        link.inlineBytes.set(targetBytes);
      } else {
        const { block: physical } = await this.blocks.allocate(link, 0, this.groups.firstBlockOfGroupOf(link.number));
        this.cache.fresh(physical, 'data').set(targetBytes);
      }
      link.size = targetBytes.length;
      link.set('linksCount', 1);
      await this.writeInode(link);
      await this.directories.add(parent, nameBytes, link.number, FILE_TYPE.symlink);
      return link.number;
    });
  }

  readlink(inode: number): Promise<string> {
    return this.exclusive(async () => {
      const link = await this.readInode(inode);
      if (!link.isSymlink) throw new Ext2Error('EINVAL', `inode ${inode} is not a symlink`);
      if (this.isFastSymlink(link)) return decoder.decode(link.inlineBytes.subarray(0, Math.min(link.size, FAST_SYMLINK_BYTES)));
      const physical = await this.blocks.lookup(link, 0);
      if (physical === 0 || link.size > this.superblock.blockBytes) throw new Ext2Error('EIO', `symlink inode ${inode} has no target block`);
      return decoder.decode((await this.cache.get(physical)).subarray(0, link.size));
    });
  }

  /** A new name `name` in `directory` for the existing non-directory `inode`. */
  link(directory: number, name: string, inode: number): Promise<void> {
    return this.mutation(async () => {
      this.checkWritable();
      const parent = await this.readDirectoryInode(directory);
      const target = await this.readInode(inode);
      const nameBytes = checkName(name);
      if (await this.directories.find(parent, nameBytes)) throw new Ext2Error('EEXIST', `"${name}" exists`);
      if (target.isDirectory) throw new Ext2Error('EPERM', 'a directory cannot have hard links');
      if (target.linksCount >= LINK_MAXIMUM) throw new Ext2Error('EMLINK', `inode ${inode} has ${target.linksCount} links`);
      target.set('linksCount', target.linksCount + 1);
      target.touch({ change: true }, this.now());
      await this.writeInode(target);
      await this.directories.add(parent, nameBytes, inode, fileTypeOfMode(target.mode));
    });
  }

  /** Removes the non-directory `name`; its inode goes when no name and no holder is left. */
  unlink(directory: number, name: string): Promise<void> {
    return this.mutation(async () => {
      this.checkWritable();
      const parent = await this.readDirectoryInode(directory);
      const found = await this.directories.find(parent, checkName(name));
      if (!found) throw new Ext2Error('ENOENT', `no entry "${name}"`);
      const target = await this.readInode(found.inode);
      if (target.isDirectory) throw new Ext2Error('EISDIR', `"${name}" is a directory`);
      await this.directories.remove(parent, found);
      await this.dropLink(target);
    });
  }

  /** Removes the empty directory `name`. */
  rmdir(directory: number, name: string): Promise<void> {
    return this.mutation(async () => {
      this.checkWritable();
      const parent = await this.readDirectoryInode(directory);
      if (name === '.') throw new Ext2Error('EINVAL', 'cannot remove "."');
      if (name === '..') throw new Ext2Error('ENOTEMPTY', 'cannot remove ".."');
      const found = await this.directories.find(parent, checkName(name));
      if (!found) throw new Ext2Error('ENOENT', `no entry "${name}"`);
      const target = await this.readInode(found.inode);
      if (!target.isDirectory) throw new Ext2Error('ENOTDIR', `"${name}" is not a directory`);
      if (!(await this.directories.isEmpty(target))) throw new Ext2Error('ENOTEMPTY', `"${name}" is not empty`);
      await this.directories.remove(parent, found);
      parent.set('linksCount', Math.max(2, parent.linksCount - 1));
      await this.writeInode(parent);
      target.set('linksCount', 0);
      await this.releaseIfUnused(target);
    });
  }

  /**
   * Renames `fromName` in `fromDirectory` to `toName` in `toDirectory`, replacing a target
   * of the same kind (an empty directory for a directory); a directory's `..` follows it.
   */
  rename(fromDirectory: number, fromName: string, toDirectory: number, toName: string): Promise<void> {
    return this.mutation(async () => {
      this.checkWritable();
      const fromParent = await this.readDirectoryInode(fromDirectory);
      const toParent = fromDirectory === toDirectory ? fromParent : await this.readDirectoryInode(toDirectory);
      const fromBytes = checkName(fromName);
      const toBytes = checkName(toName);
      if (fromName === '.' || fromName === '..' || toName === '.' || toName === '..') throw new Ext2Error('EINVAL', 'cannot rename "." or ".."');
      const source = await this.directories.find(fromParent, fromBytes);
      if (!source) throw new Ext2Error('ENOENT', `no entry "${fromName}"`);
      const moving = await this.readInode(source.inode);
      if (moving.isDirectory && fromDirectory !== toDirectory && (await this.directories.isAncestor(moving.number, toDirectory))) {
        throw new Ext2Error('EINVAL', `cannot move directory "${fromName}" inside itself`);
      }
      const existing = await this.directories.find(toParent, toBytes);
      if (existing && existing.inode === moving.number) return;
      // A directory changing parents touches two directory blocks that no write order makes
      // atomic: write everything before and after, so only the move itself is at risk.
      const crossParents = moving.isDirectory && fromDirectory !== toDirectory;
      if (crossParents) await this.writeBack();
      let replaced: Inode | undefined;
      if (existing) {
        replaced = await this.readInode(existing.inode);
        if (moving.isDirectory && !replaced.isDirectory) throw new Ext2Error('ENOTDIR', `"${toName}" is not a directory`);
        if (!moving.isDirectory && replaced.isDirectory) throw new Ext2Error('EISDIR', `"${toName}" is a directory`);
        if (replaced.isDirectory && !(await this.directories.isEmpty(replaced))) throw new Ext2Error('ENOTEMPTY', `"${toName}" is not empty`);
        const block = await this.cache.get(existing.block);
        retargetRecord(block, existing.offset, moving.number, fileTypeOfMode(moving.mode));
        this.cache.markDirty(existing.block, block, 'directory');
        this.directories.touch(toParent);
      } else {
        if (moving.isDirectory && toParent.linksCount >= LINK_MAXIMUM) throw new Ext2Error('EMLINK', `directory inode ${toDirectory} has ${toParent.linksCount} links`);
        await this.directories.add(toParent, toBytes, moving.number, fileTypeOfMode(moving.mode));
      }
      // The source entry's place may have moved if the new entry went into the same block.
      const again = await this.directories.find(fromParent, fromBytes);
      if (again && again.inode === moving.number) await this.directories.remove(fromParent, again);
      // Link counts of the parents: a directory's `..` is a link to its parent.
      if (moving.isDirectory && fromDirectory !== toDirectory) {
        await this.directories.setDotDot(moving, toParent.number);
        fromParent.set('linksCount', Math.max(2, fromParent.linksCount - 1));
        if (!replaced) toParent.set('linksCount', toParent.linksCount + 1);
      } else if (replaced?.isDirectory) {
        // Same parent: the replaced directory's `..` goes, the moved one's was already there.
        toParent.set('linksCount', Math.max(2, toParent.linksCount - 1));
      }
      moving.touch({ change: true }, this.now());
      await this.writeInode(moving);
      await this.writeInode(fromParent);
      if (toParent !== fromParent) await this.writeInode(toParent);
      if (replaced) {
        if (replaced.isDirectory) {
          replaced.set('linksCount', 0);
          await this.releaseIfUnused(replaced);
        } else {
          await this.dropLink(replaced);
        }
      }
      if (crossParents) await this.writeBack();
    });
  }

  /** chmod, chown and utimens in one: fields left undefined stay as they are. */
  setAttributes(inode: number, change: { permissions?: number; uid?: number; gid?: number; accessTime?: number; modifyTime?: number }): Promise<FileAttributes> {
    return this.mutation(async () => {
      this.checkWritable();
      const file = await this.readInode(inode);
      if (change.permissions !== undefined) file.set('mode', (file.mode & MODE_TYPE_MASK) | (change.permissions & 0o7777));
      if (change.uid !== undefined) file.uid = change.uid;
      if (change.gid !== undefined) file.gid = change.gid;
      if (change.accessTime !== undefined) file.set('accessTime', change.accessTime);
      if (change.modifyTime !== undefined) file.set('modifyTime', change.modifyTime);
      file.touch({ change: true }, this.now());
      await this.writeInode(file);
      return attributesOf(file);
    });
  }

  statistics(): FilesystemStatistics {
    const superblock = this.superblock;
    const free = superblock.get('freeBlocksCount');
    return {
      blockBytes: superblock.blockBytes,
      blocks: superblock.blocksCount,
      freeBlocks: free,
      availableBlocks: Math.max(0, free - superblock.get('reservedBlocksCount')),
      inodes: superblock.inodesCount,
      freeInodes: superblock.get('freeInodesCount'),
      nameMaximum: MAXIMUM_NAME_BYTES,
      label: superblock.volumeName,
      readOnly: this.access === 'read-only',
    };
  }

  /** The VFS opened `inode`: it stays allocated while held, even with no name left. */
  hold(inode: number): void {
    this.holders.set(inode, (this.holders.get(inode) ?? 0) + 1);
  }

  /** The VFS closed `inode`; an unlinked inode is freed with its last holder. */
  release(inode: number): Promise<void> {
    const count = (this.holders.get(inode) ?? 0) - 1;
    if (count > 0) { this.holders.set(inode, count); return Promise.resolve(); }
    this.holders.delete(inode);
    if (this.access === 'read-only') return Promise.resolve();
    return this.mutation(async () => {
      const file = await this.readInode(inode);
      if (file.linksCount === 0 && file.get('deleteTime') === 0 && file.mode !== 0) await this.releaseIfUnused(file);
    });
  }

  /** Writes every change to the disk in write-back order; resolves when it is durable. */
  sync(): Promise<void> {
    return this.exclusive(() => this.writeBack());
  }

  /** Syncs, then marks the filesystem clean again (the state it had at mount). */
  unmount(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.mounted) return;
      this.mounted = false;
      if (this.access === 'read-only') return;
      this.superblock.set('state', this.mountState);
      await this.writeBack();
    });
  }

  /** The sync itself, inside an operation: every dirty block, then freed space is reusable. */
  private async writeBack(): Promise<void> {
    if (this.access === 'read-only') return;
    this.superblock.set('writeTime', this.now());
    this.groups.superblockChanged();
    await this.cache.sync();
    this.groups.syncCompleted();
  }

  // --- inodes ---------------------------------------------------------------------------

  private async readInode(number: number): Promise<Inode> {
    this.checkInodeNumber(number);
    const { block, offset } = this.groups.inodeLocation(number);
    const table = await this.cache.get(block);
    const inode = new Inode(number, table.slice(offset, offset + this.superblock.inodeBytes));
    if (inode.mode === 0 || (inode.linksCount === 0 && inode.get('deleteTime') !== 0)) {
      throw new Ext2Error('ENOENT', `inode ${number} is not in use`);
    }
    return inode;
  }

  private async readDirectoryInode(number: number): Promise<Inode> {
    const inode = await this.readInode(number);
    if (!inode.isDirectory) throw new Ext2Error('ENOTDIR', `inode ${number} is not a directory`);
    return inode;
  }

  private async writeInode(inode: Inode): Promise<void> {
    const { block, offset } = this.groups.inodeLocation(inode.number);
    const table = await this.cache.get(block);
    table.set(inode.bytes, offset);
    this.cache.markDirty(block, table, 'inode');
  }

  private async newInode(parent: Inode, mode: number, owner: { uid: number; gid: number }, kind: 'file' | 'directory'): Promise<Inode> {
    const number = await this.groups.allocateInode(parent.number, kind);
    const inode = new Inode(number, new Uint8Array(this.superblock.inodeBytes));
    inode.set('mode', mode);
    inode.uid = owner.uid;
    inode.gid = owner.gid;
    const now = this.now();
    inode.touch({ access: true, change: true, modify: true }, now);
    if (this.superblock.inodeBytes > GOOD_OLD_INODE_BYTES) {
      const wanted = this.superblock.get('wantedExtraInodeBytes') || 32;
      inode.set('extraBytes', Math.min(wanted, this.superblock.inodeBytes - GOOD_OLD_INODE_BYTES));
    }
    inode.set('generation', (number * 2654435761) >>> 0);
    return inode;
  }

  /** One name fewer: the inode is freed when no name and no holder is left. */
  private async dropLink(inode: Inode): Promise<void> {
    inode.set('linksCount', Math.max(0, inode.linksCount - 1));
    inode.touch({ change: true }, this.now());
    if (inode.linksCount > 0) { await this.writeInode(inode); return; }
    await this.releaseIfUnused(inode);
  }

  /** Frees a zero-link inode and its blocks now, or leaves it to its last holder's release. */
  private async releaseIfUnused(inode: Inode): Promise<void> {
    if ((this.holders.get(inode.number) ?? 0) > 0) { await this.writeInode(inode); return; }
    const kind = inode.isDirectory ? 'directory' : 'file';
    if (!this.isFastSymlink(inode)) await this.blocks.truncate(inode, 0);
    await this.releaseAttributeBlock(inode);
    inode.set('deleteTime', this.now());
    inode.set('linksCount', 0);
    if (!inode.isSymlink || !this.isFastSymlink(inode)) for (let slot = 0; slot < 15; slot++) inode.setBlockPointer(slot, 0);
    await this.writeInode(inode);
    await this.groups.freeInode(inode.number, kind);
  }

  /** Drops the inode's reference to its extended-attribute block, freeing it with the last one. */
  private async releaseAttributeBlock(inode: Inode): Promise<void> {
    const block = inode.get('fileAcl');
    if (block === 0) return;
    inode.set('fileAcl', 0);
    inode.sectors = Math.max(0, inode.sectors - this.superblock.blockBytes / 512);
    if (block >= this.superblock.blocksCount) return;
    const bytes = await this.cache.get(block);
    const memory = new ByteMemory(bytes);
    if (xattrHeaderLayout.read(memory, 0, 'magic') !== XATTR_BLOCK_MAGIC) return;
    const references = xattrHeaderLayout.read(memory, 0, 'referenceCount');
    if (references > 1) {
      xattrHeaderLayout.write(memory, 0, 'referenceCount', references - 1);
      this.cache.markDirty(block, bytes, 'data');
    } else {
      await this.groups.freeBlock(block);
    }
  }

  private isFastSymlink(inode: Inode): boolean {
    const attributeSectors = inode.get('fileAcl') ? this.superblock.blockBytes / 512 : 0;
    return inode.isSymlink && inode.sectors - attributeSectors === 0;
  }

  private async resize(file: Inode, size: number): Promise<void> {
    const blockBytes = this.superblock.blockBytes;
    if (size < file.size) {
      const keep = Math.ceil(size / blockBytes);
      await this.blocks.truncate(file, keep);
      // Zero the tail of a partial last block, so a later extension reads zeros there.
      if (size % blockBytes !== 0) {
        const physical = await this.blocks.lookup(file, keep - 1);
        if (physical !== 0) {
          const block = await this.cache.get(physical);
          block.fill(0, size % blockBytes);
          this.cache.markDirty(physical, block, 'data');
        }
      }
    } else if (Math.ceil(size / blockBytes) > maximumBlocks(blockBytes / 4)) {
      throw new Ext2Error('EFBIG', `a file cannot reach ${size} bytes with ${blockBytes}-byte blocks`);
    }
    file.size = size;
  }

  /** Where to look for logical block `logical`'s disk block: after the block before it. */
  private async goalFor(file: Inode, logical: number): Promise<number> {
    if (logical > 0) {
      const previous = await this.blocks.lookup(file, logical - 1);
      if (previous !== 0) return previous + 1;
    }
    return this.groups.firstBlockOfGroupOf(file.number);
  }

  // --- checks and the queue -------------------------------------------------------------

  private checkWritable(): void {
    if (!this.mounted) throw new Ext2Error('EINVAL', 'the filesystem is unmounted');
    if (this.access === 'read-only') throw new Ext2Error('EROFS', 'the filesystem is mounted read-only');
  }

  private checkInodeNumber(number: number): void {
    if (!Number.isInteger(number) || number < 1 || number > this.superblock.inodesCount) {
      throw new Ext2Error('EINVAL', `inode ${number} is outside 1..${this.superblock.inodesCount}`);
    }
  }

  /**
   * A change, run alone; with `commit: 'every-operation'` its blocks are on the disk (written
   * in write-back order, flushed) before it resolves, so what it acknowledged survives a crash
   * of the server as well as a power cut. Whether it completed or failed part way, what it
   * changed is written: a refusal part way (ENOSPC) keeps what was done, as the disk must.
   */
  private mutation<T>(operation: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      try {
        return await operation();
      } finally {
        if (this.commit === 'every-operation' && this.cache.dirtyCount > 0) await this.writeBack();
      }
    });
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/** The directory-entry name's bytes; ENAMETOOLONG past 255, EINVAL for "" or a slash. */
function checkName(name: string): Uint8Array {
  const bytes = encoder.encode(name);
  if (bytes.length === 0) throw new Ext2Error('ENOENT', 'an empty name');
  if (bytes.length > MAXIMUM_NAME_BYTES) throw new Ext2Error('ENAMETOOLONG', `a name of ${bytes.length} bytes (at most ${MAXIMUM_NAME_BYTES})`);
  if (bytes.includes(0x2f) || bytes.includes(0)) throw new Ext2Error('EINVAL', `"${name}" contains "/" or NUL`);
  return bytes;
}

function checkOffset(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new Ext2Error('EINVAL', `offset ${offset}, length ${length}`);
  }
}
