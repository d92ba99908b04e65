// A file's block map: logical block → disk block through i_block's 12 direct pointers and
// its single, double and triple indirect blocks. A zero pointer is a hole (reads as zeros).
//
// i_blocks counts every block the inode holds, data and indirect alike, in 512-byte
// sectors; the functions here keep it right as they allocate and free.

import { DIRECT_BLOCKS } from './layout.js';
import type { BufferCache } from './buffer_cache.js';
import type { GroupTable } from './groups.js';
import type { Inode } from './inode.js';
import { Ext2Error } from './errors.js';

/** Where logical block `logical` hangs: the i_block slot and the index at each indirect level. */
export function blockPath(logical: number, pointersPerBlock: number): { slot: number; indexes: number[] } {
  if (logical < DIRECT_BLOCKS) return { slot: logical, indexes: [] };
  let rest = logical - DIRECT_BLOCKS;
  let span = pointersPerBlock;
  for (let level = 1; level <= 3; level++) {
    if (rest < span) {
      const indexes: number[] = [];
      for (let depth = level - 1; depth >= 0; depth--) {
        const below = pointersPerBlock ** depth;
        indexes.push(Math.floor(rest / below));
        rest %= below;
      }
      return { slot: DIRECT_BLOCKS + level - 1, indexes };
    }
    rest -= span;
    span *= pointersPerBlock;
  }
  throw new Ext2Error('EFBIG', `logical block ${logical} is past the triple-indirect range`);
}

/** Logical blocks a file can address with this block size. */
export function maximumBlocks(pointersPerBlock: number): number {
  return DIRECT_BLOCKS + pointersPerBlock + pointersPerBlock ** 2 + pointersPerBlock ** 3;
}

export class BlockMap {
  private readonly cache: BufferCache;
  private readonly groups: GroupTable;
  private readonly blockBytes: number;
  private readonly pointersPerBlock: number;
  private readonly blocksCount: number;

  constructor(cache: BufferCache, groups: GroupTable, blockBytes: number, blocksCount: number) {
    this.cache = cache;
    this.groups = groups;
    this.blockBytes = blockBytes;
    this.pointersPerBlock = blockBytes / 4;
    this.blocksCount = blocksCount;
  }

  /** The disk block of `logical`, or 0 for a hole. */
  async lookup(inode: Inode, logical: number): Promise<number> {
    const { slot, indexes } = blockPath(logical, this.pointersPerBlock);
    let block = inode.blockPointer(slot);
    for (const index of indexes) {
      if (block === 0) return 0;
      this.checkBlock(inode, block);
      const table = await this.cache.get(block);
      block = readPointer(table, index);
    }
    if (block !== 0) this.checkBlock(inode, block);
    return block;
  }

  /**
   * The disk block of `logical`, allocating it (and any indirect block on the way) when it
   * is a hole. `goal` is where to look first. Returns whether the block is new (unwritten).
   */
  async allocate(inode: Inode, logical: number, goal: number): Promise<{ block: number; fresh: boolean }> {
    const { slot, indexes } = blockPath(logical, this.pointersPerBlock);
    const levels = indexes.length;
    let block = inode.blockPointer(slot);
    let fresh = false;
    if (block === 0) {
      block = await this.takeBlock(inode, goal);
      inode.setBlockPointer(slot, block);
      fresh = true;
      // A new indirect table starts as zeros (all holes).
      if (levels > 0) this.cache.fresh(block, 'data');
    }
    for (let depth = 0; depth < levels; depth++) {
      const tableBlock = block;
      const table = await this.cache.get(tableBlock);
      block = readPointer(table, indexes[depth]!);
      fresh = false;
      if (block === 0) {
        block = await this.takeBlock(inode, tableBlock + 1);
        writePointer(table, indexes[depth]!, block);
        this.cache.markDirty(tableBlock, table, 'data');
        fresh = true;
        if (depth < levels - 1) this.cache.fresh(block, 'data');
      }
    }
    return { block, fresh };
  }

  /** Frees every block at logical index `keep` and beyond, and indirect blocks left empty. */
  async truncate(inode: Inode, keep: number): Promise<void> {
    for (let slot = 0; slot < DIRECT_BLOCKS; slot++) {
      if (slot >= keep && inode.blockPointer(slot) !== 0) {
        await this.release(inode, inode.blockPointer(slot));
        inode.setBlockPointer(slot, 0);
      }
    }
    let first = DIRECT_BLOCKS;
    for (let level = 1; level <= 3; level++) {
      const slot = DIRECT_BLOCKS + level - 1;
      const span = this.pointersPerBlock ** level;
      const root = inode.blockPointer(slot);
      if (root !== 0 && keep < first + span) {
        const empty = await this.truncateTable(inode, root, level, Math.max(0, keep - first));
        if (empty) {
          await this.release(inode, root);
          inode.setBlockPointer(slot, 0);
        }
      }
      first += span;
    }
  }

  /** Every disk block the inode holds (data and indirect), for checks and statistics. */
  async heldBlocks(inode: Inode): Promise<number[]> {
    const held: number[] = [];
    for (let slot = 0; slot < DIRECT_BLOCKS; slot++) if (inode.blockPointer(slot)) held.push(inode.blockPointer(slot));
    for (let level = 1; level <= 3; level++) {
      const root = inode.blockPointer(DIRECT_BLOCKS + level - 1);
      if (root) await this.collect(inode, root, level, held);
    }
    return held;
  }

  private async collect(inode: Inode, block: number, level: number, held: number[]): Promise<void> {
    this.checkBlock(inode, block);
    held.push(block);
    const table = await this.cache.get(block);
    for (let index = 0; index < this.pointersPerBlock; index++) {
      const child = readPointer(table, index);
      if (child === 0) continue;
      if (level === 1) { this.checkBlock(inode, child); held.push(child); } else await this.collect(inode, child, level - 1, held);
    }
  }

  /**
   * Frees, under the indirect block `block` at `level`, every entry from logical offset
   * `keep` (relative to this table's first block). Returns whether the table is now empty.
   */
  private async truncateTable(inode: Inode, block: number, level: number, keep: number): Promise<boolean> {
    this.checkBlock(inode, block);
    const table = await this.cache.get(block);
    const childSpan = this.pointersPerBlock ** (level - 1);
    let changed = false;
    let anyLeft = false;
    for (let index = 0; index < this.pointersPerBlock; index++) {
      const child = readPointer(table, index);
      if (child === 0) continue;
      const childFirst = index * childSpan;
      if (childFirst + childSpan <= keep) { anyLeft = true; continue; }
      let releaseChild = true;
      if (level > 1) releaseChild = await this.truncateTable(inode, child, level - 1, Math.max(0, keep - childFirst));
      else if (childFirst < keep) releaseChild = false;
      if (releaseChild) {
        await this.release(inode, child);
        writePointer(table, index, 0);
        changed = true;
      } else {
        anyLeft = true;
      }
    }
    if (changed && anyLeft) this.cache.markDirty(block, table, 'data');
    return !anyLeft;
  }

  private async takeBlock(inode: Inode, goal: number): Promise<number> {
    const block = await this.groups.allocateBlock(goal);
    inode.sectors = inode.sectors + this.blockBytes / 512;
    return block;
  }

  private async release(inode: Inode, block: number): Promise<void> {
    await this.groups.freeBlock(block);
    inode.sectors = Math.max(0, inode.sectors - this.blockBytes / 512);
  }

  private checkBlock(inode: Inode, block: number): void {
    if (block >= this.blocksCount) throw new Ext2Error('EIO', `inode ${inode.number} points at block ${block}, past the end of the filesystem`);
  }
}

function readPointer(table: Uint8Array, index: number): number {
  return (table[index * 4]! | (table[index * 4 + 1]! << 8) | (table[index * 4 + 2]! << 16) | (table[index * 4 + 3]! << 24)) >>> 0;
}

function writePointer(table: Uint8Array, index: number, block: number): void {
  table[index * 4] = block & 0xff;
  table[index * 4 + 1] = (block >>> 8) & 0xff;
  table[index * 4 + 2] = (block >>> 16) & 0xff;
  table[index * 4 + 3] = (block >>> 24) & 0xff;
}
