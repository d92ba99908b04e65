// The entries of one directory, as the filesystem's directory operations (lookup, readdir,
// create, mkdir, symlink, link, unlink, rmdir, rename in filesystem.ts) find, add, remove
// and retarget them: every block of the directory walked in order, records inside a block
// by directory_block.ts. Changed blocks are marked dirty in the 'directory' write-back
// class (buffer_cache.ts), so a crash leaves what README.md's write order says.
//
// Callers hold the filesystem's queue: no two operations change a directory at once.

import type { BlockMap } from './block_map.js';
import type { BufferCache } from './buffer_cache.js';
import { initialiseEmptyBlock, insertRecord, liveRecords, removeRecord, retargetRecord } from './directory_block.js';
import { Ext2Error } from './errors.js';
import { INCOMPATIBLE } from './features.js';
import type { Inode } from './inode.js';
import { FILE_TYPE, INODE_FLAG_INDEX, ROOT_INODE } from './layout.js';
import type { Superblock } from './superblock.js';

/** Where an entry is: its inode and the directory block and offset of its record. */
export interface EntryPlace {
  readonly inode: number;
  readonly block: number;
  readonly offset: number;
}

/** What the directory code needs of the mounted filesystem. */
export interface DirectoryHost {
  readonly superblock: Superblock;
  readonly cache: BufferCache;
  readonly blocks: BlockMap;
  now(): number;
  readDirectoryInode(number: number): Promise<Inode>;
  writeInode(inode: Inode): Promise<void>;
  /** The disk block to try first for `directory`'s logical block `logical`. */
  goalFor(directory: Inode, logical: number): Promise<number>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Directories {
  private readonly host: DirectoryHost;

  constructor(host: DirectoryHost) {
    this.host = host;
  }

  /** Calls `visit` on each block of `directory` in order (holes skipped) until it returns true. */
  async forEachBlock(directory: Inode, visit: (block: Uint8Array, blockNumber: number, logical: number) => Promise<boolean>): Promise<void> {
    const count = Math.ceil(directory.size / this.host.superblock.blockBytes);
    for (let logical = 0; logical < count; logical++) {
      const physical = await this.host.blocks.lookup(directory, logical);
      if (physical === 0) continue;
      if (await visit(await this.host.cache.get(physical), physical, logical)) return;
    }
  }

  /** The entry `name` in `directory`, or undefined. */
  async find(directory: Inode, name: Uint8Array): Promise<EntryPlace | undefined> {
    let found: EntryPlace | undefined;
    await this.forEachBlock(directory, async (block, blockNumber) => {
      for (const entry of liveRecords(block, blockNumber)) {
        if (bytesEqual(entry.name, name)) { found = { inode: entry.inode, block: blockNumber, offset: entry.offset }; return true; }
      }
      return false;
    });
    return found;
  }

  /** Adds `name` → `inode`, in the first block with room, else in a new block at the end. */
  async add(directory: Inode, name: Uint8Array, inode: number, fileType: number): Promise<void> {
    const type = this.host.superblock.get('featureIncompatible') & INCOMPATIBLE.filetype ? fileType : FILE_TYPE.unknown;
    let placed = false;
    await this.forEachBlock(directory, async (block, blockNumber) => {
      if (!insertRecord(block, blockNumber, inode, name, type)) return false;
      this.host.cache.markDirty(blockNumber, block, 'directory');
      placed = true;
      return true;
    });
    if (!placed) {
      const blockBytes = this.host.superblock.blockBytes;
      const logical = Math.ceil(directory.size / blockBytes);
      const { block: physical } = await this.host.blocks.allocate(directory, logical, await this.host.goalFor(directory, logical));
      const block = this.host.cache.fresh(physical, 'directory');
      initialiseEmptyBlock(block);
      if (!insertRecord(block, physical, inode, name, type)) throw new Ext2Error('EIO', 'a new directory block has no room for one entry');
      directory.size = (logical + 1) * blockBytes;
    }
    // The htree index is not kept up to date here: writing clears it, as ext2 does, and
    // the directory is read linearly from now on (e2fsck -D can index it again).
    if (directory.get('flags') & INODE_FLAG_INDEX) directory.set('flags', directory.get('flags') & ~INODE_FLAG_INDEX);
    this.touch(directory);
    await this.host.writeInode(directory);
  }

  /** Removes the entry at `entry` (its record joins the one before it). */
  async remove(directory: Inode, entry: { block: number; offset: number }): Promise<void> {
    const block = await this.host.cache.get(entry.block);
    removeRecord(block, entry.block, entry.offset);
    this.host.cache.markDirty(entry.block, block, 'directory');
    if (directory.get('flags') & INODE_FLAG_INDEX) directory.set('flags', directory.get('flags') & ~INODE_FLAG_INDEX);
    this.touch(directory);
    await this.host.writeInode(directory);
  }

  /** A directory's contents changed: its modify and change times are now. */
  touch(directory: Inode): void {
    directory.touch({ modify: true, change: true }, this.host.now());
  }

  /** True if `directory` holds nothing but `.` and `..`. */
  async isEmpty(directory: Inode): Promise<boolean> {
    let empty = true;
    await this.forEachBlock(directory, async (block, blockNumber) => {
      for (const entry of liveRecords(block, blockNumber)) {
        const name = decoder.decode(entry.name);
        if (name !== '.' && name !== '..') { empty = false; return true; }
      }
      return false;
    });
    return empty;
  }

  /** Points `directory`'s `..` at `parent` (a directory that moved). */
  async setDotDot(directory: Inode, parent: number): Promise<void> {
    const found = await this.find(directory, encoder.encode('..'));
    if (!found) throw new Ext2Error('EIO', `directory inode ${directory.number} has no ".."`);
    const block = await this.host.cache.get(found.block);
    retargetRecord(block, found.offset, parent, FILE_TYPE.directory);
    this.host.cache.markDirty(found.block, block, 'directory');
  }

  /** Whether `ancestor` is `directory` or above it (walking `..` up to the root). */
  async isAncestor(ancestor: number, directory: number): Promise<boolean> {
    let current = directory;
    for (let depth = 0; depth < 4096; depth++) {
      if (current === ancestor) return true;
      if (current === ROOT_INODE) return false;
      const found = await this.find(await this.host.readDirectoryInode(current), encoder.encode('..'));
      if (!found) return false;
      current = found.inode;
    }
    throw new Ext2Error('ELOOP', 'the directory tree loops');
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}
