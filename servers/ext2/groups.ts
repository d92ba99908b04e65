// Block groups: their descriptors, and allocation of blocks and inodes from their bitmaps.
//
// Placement follows Linux's ext2 (fs/ext2/ialloc.c, balloc.c): a file's inode goes in its
// parent's group when that group has room (then a quadratic hash of groups, then every
// group in turn); a directory's inode goes in a group with at least the average number of
// free inodes, the one with most free blocks (find_group_dir); a block is taken at or
// after a goal the caller gives — the block after the file's last one, or the start of its
// inode's group — and the search wraps through every group. Every allocation and free
// keeps the group's and the superblock's free counts right.
//
// A block or inode freed since the last sync is not handed out again until that sync has
// completed: the disk may still hold the old owner's pointer to it, and a crash must never
// leave two owners of one block (which e2fsck -p cannot repair by itself).

import { ByteMemory } from '../../hal/virtio/layout.js';
import { GROUP_DESCRIPTOR_BYTES, groupDescriptorLayout } from './layout.js';
import type { BufferCache } from './buffer_cache.js';
import type { Superblock } from './superblock.js';
import { Ext2Error } from './errors.js';

type DescriptorField = keyof typeof groupDescriptorLayout.fields;

export class GroupTable {
  private readonly cache: BufferCache;
  private readonly superblock: Superblock;
  /** Cached blocks of the descriptor table (pinned), and which block holds the superblock. */
  private readonly descriptorBlocks: Uint8Array[];
  private readonly firstDescriptorBlock: number;
  private readonly superblockBlock: number;
  private readonly superblockBytes: Uint8Array;
  /** Freed since the last completed sync: not reused until then. */
  private readonly quarantinedBlocks = new Set<number>();
  private readonly quarantinedInodes = new Set<number>();
  /** Called when only quarantined blocks are left: a sync that makes them reusable. */
  reclaim: (() => Promise<void>) | undefined;

  private constructor(cache: BufferCache, superblock: Superblock, superblockBlock: number, superblockBytes: Uint8Array, firstDescriptorBlock: number, descriptorBlocks: Uint8Array[]) {
    this.cache = cache;
    this.superblock = superblock;
    this.superblockBlock = superblockBlock;
    this.superblockBytes = superblockBytes;
    this.firstDescriptorBlock = firstDescriptorBlock;
    this.descriptorBlocks = descriptorBlocks;
  }

  static async load(cache: BufferCache, superblock: Superblock, superblockBlock: number, superblockBytes: Uint8Array): Promise<GroupTable> {
    const first = superblock.firstDataBlock + 1;
    const blocks: Uint8Array[] = [];
    for (let index = 0; index < superblock.descriptorBlocks; index++) blocks.push(await cache.pin(first + index));
    const table = new GroupTable(cache, superblock, superblockBlock, superblockBytes, first, blocks);
    table.validate();
    return table;
  }

  get count(): number {
    return this.superblock.groupCount;
  }

  get(group: number, name: DescriptorField): number {
    const { memory, base } = this.locate(group);
    return groupDescriptorLayout.read(memory, base, name);
  }

  set(group: number, name: DescriptorField, value: number): void {
    const { memory, base, index } = this.locate(group);
    groupDescriptorLayout.write(memory, base, name, value);
    this.cache.markDirty(this.firstDescriptorBlock + index, this.descriptorBlocks[index]!, 'summary');
  }

  /** Marks the superblock changed (it is written with the descriptors, last). */
  superblockChanged(): void {
    this.cache.markDirty(this.superblockBlock, this.superblockBytes, 'summary');
  }

  groupOfInode(inode: number): number {
    return Math.floor((inode - 1) / this.superblock.inodesPerGroup);
  }

  groupOfBlock(block: number): number {
    return Math.floor((block - this.superblock.firstDataBlock) / this.superblock.blocksPerGroup);
  }

  /** The last sync completed: blocks and inodes freed before it may be reused. */
  syncCompleted(): void {
    this.quarantinedBlocks.clear();
    this.quarantinedInodes.clear();
  }

  /** Takes a free block at or after `goal` (wrapping through every group); ENOSPC when none. */
  async allocateBlock(goal: number): Promise<number> {
    const block = await this.findFreeBlock(goal);
    if (block !== undefined) return block;
    if (this.quarantinedBlocks.size > 0 && this.reclaim) {
      await this.reclaim();
      const retried = await this.findFreeBlock(goal);
      if (retried !== undefined) return retried;
    }
    throw new Ext2Error('ENOSPC', 'no free blocks');
  }

  private async findFreeBlock(goal: number): Promise<number | undefined> {
    const superblock = this.superblock;
    if (superblock.get('freeBlocksCount') <= this.quarantinedBlocks.size) return undefined;
    if (goal < superblock.firstDataBlock || goal >= superblock.blocksCount) goal = superblock.firstDataBlock;
    const startGroup = this.groupOfBlock(goal);
    for (let step = 0; step <= this.count; step++) {
      const group = (startGroup + step) % this.count;
      if (this.get(group, 'freeBlocksCount') === 0) continue;
      const range = superblock.groupRange(group);
      const from = step === 0 ? goal - range.first : 0;
      const bitmapBlock = this.get(group, 'blockBitmap');
      const bitmap = await this.cache.get(bitmapBlock);
      const usable = (bit: number) => !this.quarantinedBlocks.has(range.first + bit);
      const bit = findClearBit(bitmap, from, range.count, usable) ?? (step === 0 ? findClearBit(bitmap, 0, from, usable) : undefined);
      if (bit === undefined) continue;
      setBit(bitmap, bit);
      this.cache.markDirty(bitmapBlock, bitmap, 'bitmap');
      this.set(group, 'freeBlocksCount', this.get(group, 'freeBlocksCount') - 1);
      superblock.set('freeBlocksCount', superblock.get('freeBlocksCount') - 1);
      this.superblockChanged();
      return range.first + bit;
    }
    return undefined;
  }

  async freeBlock(block: number): Promise<void> {
    const group = this.groupOfBlock(block);
    const range = this.superblock.groupRange(group);
    const bitmapBlock = this.get(group, 'blockBitmap');
    const bitmap = await this.cache.get(bitmapBlock);
    const bit = block - range.first;
    if (!testBit(bitmap, bit)) throw new Ext2Error('EIO', `freeing block ${block}, which is already free`);
    clearBit(bitmap, bit);
    this.cache.markDirty(bitmapBlock, bitmap, 'bitmap');
    this.cache.discard(block);
    this.quarantinedBlocks.add(block);
    this.set(group, 'freeBlocksCount', this.get(group, 'freeBlocksCount') + 1);
    this.superblock.set('freeBlocksCount', this.superblock.get('freeBlocksCount') + 1);
    this.superblockChanged();
  }

  /** Takes a free inode for a new file (near `parent`) or directory (spread out). */
  async allocateInode(parent: number, kind: 'file' | 'directory'): Promise<number> {
    const inode = await this.findFreeInode(parent, kind);
    if (inode !== undefined) return inode;
    if (this.quarantinedInodes.size > 0 && this.reclaim) {
      await this.reclaim();
      const retried = await this.findFreeInode(parent, kind);
      if (retried !== undefined) return retried;
    }
    throw new Ext2Error('ENOSPC', 'no free inodes');
  }

  private async findFreeInode(parent: number, kind: 'file' | 'directory'): Promise<number | undefined> {
    const superblock = this.superblock;
    if (superblock.get('freeInodesCount') <= this.quarantinedInodes.size) return undefined;
    const group = kind === 'directory' ? this.groupForDirectory() : this.groupForFile(this.groupOfInode(parent));
    if (group === undefined) return undefined;
    const bitmapBlock = this.get(group, 'inodeBitmap');
    const bitmap = await this.cache.get(bitmapBlock);
    // Inodes below s_first_ino are reserved; in group 0 the search starts past them.
    const firstFree = group === 0 ? superblock.firstInode - 1 : 0;
    const base = group * superblock.inodesPerGroup + 1;
    const bit = findClearBit(bitmap, firstFree, superblock.inodesPerGroup, (candidate) => !this.quarantinedInodes.has(base + candidate));
    if (bit === undefined) return undefined;
    setBit(bitmap, bit);
    this.cache.markDirty(bitmapBlock, bitmap, 'bitmap');
    this.set(group, 'freeInodesCount', this.get(group, 'freeInodesCount') - 1);
    if (kind === 'directory') this.set(group, 'usedDirectoriesCount', this.get(group, 'usedDirectoriesCount') + 1);
    superblock.set('freeInodesCount', superblock.get('freeInodesCount') - 1);
    this.superblockChanged();
    return base + bit;
  }

  async freeInode(inode: number, kind: 'file' | 'directory'): Promise<void> {
    const group = this.groupOfInode(inode);
    const bitmapBlock = this.get(group, 'inodeBitmap');
    const bitmap = await this.cache.get(bitmapBlock);
    const bit = (inode - 1) % this.superblock.inodesPerGroup;
    if (!testBit(bitmap, bit)) throw new Ext2Error('EIO', `freeing inode ${inode}, which is already free`);
    clearBit(bitmap, bit);
    this.cache.markDirty(bitmapBlock, bitmap, 'bitmap');
    this.quarantinedInodes.add(inode);
    this.set(group, 'freeInodesCount', this.get(group, 'freeInodesCount') + 1);
    if (kind === 'directory') this.set(group, 'usedDirectoriesCount', this.get(group, 'usedDirectoriesCount') - 1);
    this.superblock.set('freeInodesCount', this.superblock.get('freeInodesCount') + 1);
    this.superblockChanged();
  }

  /** Where inode `inode` lives: the inode-table block and the byte offset in it. */
  inodeLocation(inode: number): { block: number; offset: number } {
    const superblock = this.superblock;
    const group = this.groupOfInode(inode);
    const index = (inode - 1) % superblock.inodesPerGroup;
    const byteOffset = index * superblock.inodeBytes;
    return {
      block: this.get(group, 'inodeTable') + Math.floor(byteOffset / superblock.blockBytes),
      offset: byteOffset % superblock.blockBytes,
    };
  }

  /** First block of group `group`: the goal for a file whose inode lives there. */
  firstBlockOfGroupOf(inode: number): number {
    return this.superblock.groupRange(this.groupOfInode(inode)).first;
  }

  private groupForFile(parentGroup: number): number | undefined {
    const hasRoom = (group: number) => this.get(group, 'freeInodesCount') > 0 && this.get(group, 'freeBlocksCount') > 0;
    if (hasRoom(parentGroup)) return parentGroup;
    // Quadratic hash, as find_group_other: parent, parent+1, parent+3, parent+7, ...
    let group = parentGroup;
    for (let step = 1; step < this.count; step <<= 1) {
      group = (group + step) % this.count;
      if (hasRoom(group)) return group;
    }
    for (let step = 0; step < this.count; step++) {
      group = (parentGroup + step) % this.count;
      if (this.get(group, 'freeInodesCount') > 0) return group;
    }
    return undefined;
  }

  private groupForDirectory(): number | undefined {
    const average = this.superblock.get('freeInodesCount') / this.count;
    let best: number | undefined;
    for (let group = 0; group < this.count; group++) {
      const freeInodes = this.get(group, 'freeInodesCount');
      if (freeInodes === 0 || freeInodes < average) continue;
      if (best === undefined || this.get(group, 'freeBlocksCount') > this.get(best, 'freeBlocksCount')) best = group;
    }
    if (best !== undefined) return best;
    for (let group = 0; group < this.count; group++) if (this.get(group, 'freeInodesCount') > 0) return group;
    return undefined;
  }

  private locate(group: number): { memory: ByteMemory; base: number; index: number } {
    if (group < 0 || group >= this.count) throw new RangeError(`group ${group} of ${this.count}`);
    const perBlock = this.superblock.descriptorsPerBlock;
    const index = Math.floor(group / perBlock);
    return { memory: new ByteMemory(this.descriptorBlocks[index]!), base: (group % perBlock) * GROUP_DESCRIPTOR_BYTES, index };
  }

  private validate(): void {
    const superblock = this.superblock;
    for (let group = 0; group < this.count; group++) {
      const range = superblock.groupRange(group);
      const inRange = (block: number) => block >= superblock.firstDataBlock && block < superblock.blocksCount;
      for (const field of ['blockBitmap', 'inodeBitmap'] as const) {
        if (!inRange(this.get(group, field))) throw new Ext2Error('EINVAL', `group ${group}'s ${field} block ${this.get(group, field)} is outside the filesystem`);
      }
      const table = this.get(group, 'inodeTable');
      if (!inRange(table) || table + superblock.inodeTableBlocks > superblock.blocksCount) {
        throw new Ext2Error('EINVAL', `group ${group}'s inode table at ${table} runs outside the filesystem`);
      }
      if (this.get(group, 'freeBlocksCount') > range.count) throw new Ext2Error('EINVAL', `group ${group} claims more free blocks than it has`);
    }
  }
}

export function testBit(bitmap: Uint8Array, bit: number): boolean {
  return (bitmap[bit >>> 3]! & (1 << (bit & 7))) !== 0;
}
export function setBit(bitmap: Uint8Array, bit: number): void {
  bitmap[bit >>> 3] |= 1 << (bit & 7);
}
export function clearBit(bitmap: Uint8Array, bit: number): void {
  bitmap[bit >>> 3] &= ~(1 << (bit & 7));
}

/** The first clear bit in [from, to) that `usable` accepts, skipping whole full bytes. */
export function findClearBit(bitmap: Uint8Array, from: number, to: number, usable: (bit: number) => boolean = () => true): number | undefined {
  let bit = from;
  while (bit < to) {
    if ((bit & 7) === 0 && bitmap[bit >>> 3] === 0xff && bit + 8 <= to) { bit += 8; continue; }
    if (!testBit(bitmap, bit) && usable(bit)) return bit;
    bit++;
  }
  return undefined;
}
