// Making a new ext2 filesystem, as `mke2fs -t ext2` lays one out (lib/ext2fs/initialize.c):
// revision 1, filetype, sparse_super and large_file; groups of 8 × block-size blocks, each
// starting with its superblock and descriptor backup (sparse_super groups only), then its
// block bitmap, inode bitmap and inode table; a root directory and a lost+found of up to
// 12 blocks. Sizes follow e2fsprogs 1.47's mke2fs.conf: 256-byte inodes; under 3 MiB
// "floppy" (1 KiB blocks, one inode per 8 KiB), under 512 MiB "small" (1 KiB blocks, one
// inode per 4 KiB), otherwise 4 KiB blocks and one inode per 16 KiB.

import { ByteMemory } from '../../hal/virtio/layout.js';
import type { BlockStore } from './block_store.js';
import { writeRecord, recordBytesFor, initialiseEmptyBlock } from './directory_block.js';
import { Ext2Error } from './errors.js';
import { INCOMPATIBLE, READ_ONLY_COMPATIBLE } from './features.js';
import { setBit, testBit } from './groups.js';
import { Inode } from './inode.js';
import {
  EXTRA_INODE_BYTES, FILE_TYPE, GOOD_OLD_FIRST_INODE, GOOD_OLD_INODE_BYTES, GROUP_DESCRIPTOR_BYTES, EXT2_MAGIC,
  MODE_DIRECTORY, ROOT_INODE, STATE_VALID, SUPERBLOCK_BYTES, SUPERBLOCK_HASH_SEED, SUPERBLOCK_OFFSET, SUPERBLOCK_UUID,
  groupDescriptorLayout,
} from './layout.js';
import { Superblock, groupHasBackup } from './superblock.js';

export interface FormatOptions {
  /** 1024, 2048 or 4096; default by size as mke2fs.conf says. */
  readonly blockBytes?: number;
  /** Bytes of disk per inode; default by size. */
  readonly bytesPerInode?: number;
  /** 128 or 256; default by size. */
  readonly inodeBytes?: number;
  readonly label?: string;
  /** 16 bytes: the filesystem's UUID (the caller draws it, or fixes it for a reproducible image). */
  readonly uuid: Uint8Array;
  /** Wall-clock seconds for every time field. */
  readonly now: number;
  /** Percent of blocks reserved for root (mke2fs -m); default 5. */
  readonly reservedPercent?: number;
  /** Called after each group's tables are written: `done` of `total` groups (for a progress bar). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Geometry {
  readonly blockBytes: number;
  readonly blocksCount: number;
  readonly blocksPerGroup: number;
  readonly groupCount: number;
  readonly inodesPerGroup: number;
  readonly inodeBytes: number;
  readonly descriptorBlocks: number;
}

const LOST_AND_FOUND_BYTES = 16 * 1024;
const MAXIMUM_LOST_AND_FOUND_BLOCKS = 12;

/** The layout mke2fs would choose for a device of `deviceBytes`. */
export function chooseGeometry(deviceBytes: number, options: Pick<FormatOptions, 'blockBytes' | 'bytesPerInode' | 'inodeBytes'> = {}): Geometry {
  const MiB = 1024 * 1024;
  const kind = deviceBytes < 3 * MiB ? 'floppy' : deviceBytes < 512 * MiB ? 'small' : 'default';
  const blockBytes = options.blockBytes ?? (kind === 'default' ? 4096 : 1024);
  if (![1024, 2048, 4096].includes(blockBytes)) throw new Ext2Error('EINVAL', `block size ${blockBytes} is not 1024, 2048 or 4096`);
  const bytesPerInode = options.bytesPerInode ?? (kind === 'floppy' ? 8192 : kind === 'small' ? 4096 : 16384);
  const inodeBytes = options.inodeBytes ?? 256;
  if (inodeBytes !== 128 && inodeBytes !== 256) throw new Ext2Error('EINVAL', `inode size ${inodeBytes} is not 128 or 256`);
  const firstDataBlock = blockBytes === 1024 ? 1 : 0;
  const blocksPerGroup = 8 * blockBytes;
  let blocksCount = Math.floor(deviceBytes / blockBytes);
  if (blocksCount >= 2 ** 32) throw new Ext2Error('EFBIG', 'ext2 without 64bit addresses at most 2^32 blocks');
  for (;;) {
    const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
    // At least the reserved inodes, lost+found and a few files.
    let inodesPerGroup = Math.max(Math.ceil(blocksCount * blockBytes / bytesPerInode / groupCount), Math.ceil(32 / groupCount));
    // Whole inode-table blocks, a multiple of 8 (one bitmap byte), at most one bitmap block.
    const perBlock = blockBytes / inodeBytes;
    inodesPerGroup = Math.ceil(inodesPerGroup / perBlock) * perBlock;
    inodesPerGroup = Math.ceil(inodesPerGroup / 8) * 8;
    inodesPerGroup = Math.min(inodesPerGroup, 8 * blockBytes);
    const descriptorBlocks = Math.ceil(groupCount * GROUP_DESCRIPTOR_BYTES / blockBytes);
    const geometry = { blockBytes, blocksCount, blocksPerGroup, groupCount, inodesPerGroup, inodeBytes, descriptorBlocks };
    // As mke2fs: a last group too small for its own metadata plus 50 blocks is dropped.
    const last = groupCount - 1;
    const lastBlocks = blocksCount - firstDataBlock - last * blocksPerGroup;
    const overhead = groupOverhead(geometry, last);
    if (groupCount > 1 && lastBlocks < overhead + 50) { blocksCount -= lastBlocks; continue; }
    // Group 0 must also hold the root directory and lost+found, and leave room to grow.
    if (blocksCount <= firstDataBlock || lastBlocks < overhead + 1 + MAXIMUM_LOST_AND_FOUND_BLOCKS + 8) {
      throw new Ext2Error('ENOSPC', `a ${deviceBytes}-byte device is too small for ext2`);
    }
    return geometry;
  }
}

/** Writes a new, empty ext2 filesystem (root and lost+found) to `store`. */
export async function formatFilesystem(store: BlockStore, options: FormatOptions): Promise<Geometry> {
  if (store.readOnly) throw new Ext2Error('EROFS', 'the device is read-only');
  if (options.uuid.length !== 16) throw new Ext2Error('EINVAL', 'a UUID is 16 bytes');
  const geometry = chooseGeometry(store.bytes, options);
  const { blockBytes, blocksCount, blocksPerGroup, groupCount, inodesPerGroup, inodeBytes, descriptorBlocks } = geometry;
  const firstDataBlock = blockBytes === 1024 ? 1 : 0;
  const inodeTableBlocks = Math.ceil(inodesPerGroup * inodeBytes / blockBytes);
  const superblock = new Superblock(new Uint8Array(SUPERBLOCK_BYTES));
  const descriptors = new Uint8Array(descriptorBlocks * blockBytes);
  const descriptorMemory = new ByteMemory(descriptors);
  const blockBitmaps: Uint8Array[] = [];
  const inodeBitmaps: Uint8Array[] = [];
  const layout: { blockBitmap: number; inodeBitmap: number; inodeTable: number }[] = [];

  const sparse = (group: number) => groupHasBackup(group, true);
  for (let group = 0; group < groupCount; group++) {
    const first = firstDataBlock + group * blocksPerGroup;
    const count = Math.min(blocksPerGroup, blocksCount - first);
    let next = first + (sparse(group) ? 1 + descriptorBlocks : 0);
    const entry = { blockBitmap: next, inodeBitmap: next + 1, inodeTable: next + 2 };
    next += 2 + inodeTableBlocks;
    layout.push(entry);
    const blockBitmap = new Uint8Array(blockBytes);
    for (let bit = 0; bit < next - first; bit++) setBit(blockBitmap, bit);
    // Padding past the group's last block is marked in use, as e2fsck expects.
    for (let bit = count; bit < 8 * blockBytes; bit++) setBit(blockBitmap, bit);
    blockBitmaps.push(blockBitmap);
    const inodeBitmap = new Uint8Array(blockBytes);
    for (let bit = inodesPerGroup; bit < 8 * blockBytes; bit++) setBit(inodeBitmap, bit);
    inodeBitmaps.push(inodeBitmap);
  }

  // Group 0 holds the reserved inodes, the root directory and lost+found.
  for (let inode = 1; inode < GOOD_OLD_FIRST_INODE; inode++) setBit(inodeBitmaps[0]!, inode - 1);
  const lostAndFoundInode = GOOD_OLD_FIRST_INODE;
  setBit(inodeBitmaps[0]!, lostAndFoundInode - 1);
  const dataStart = layout[0]!.inodeTable + inodeTableBlocks;
  const rootBlock = dataStart;
  const lostAndFoundBlocks = Math.min(MAXIMUM_LOST_AND_FOUND_BLOCKS, Math.max(2, LOST_AND_FOUND_BYTES / blockBytes));
  const lostAndFoundFirst = rootBlock + 1;
  for (let block = rootBlock; block < lostAndFoundFirst + lostAndFoundBlocks; block++) setBit(blockBitmaps[0]!, block - firstDataBlock);

  let freeBlocks = 0;
  let freeInodes = 0;
  for (let group = 0; group < groupCount; group++) {
    const first = firstDataBlock + group * blocksPerGroup;
    const count = Math.min(blocksPerGroup, blocksCount - first);
    let groupFreeBlocks = 0;
    for (let bit = 0; bit < count; bit++) if (!testBit(blockBitmaps[group]!, bit)) groupFreeBlocks++;
    let groupFreeInodes = 0;
    for (let bit = 0; bit < inodesPerGroup; bit++) if (!testBit(inodeBitmaps[group]!, bit)) groupFreeInodes++;
    const base = group * GROUP_DESCRIPTOR_BYTES;
    groupDescriptorLayout.write(descriptorMemory, base, 'blockBitmap', layout[group]!.blockBitmap);
    groupDescriptorLayout.write(descriptorMemory, base, 'inodeBitmap', layout[group]!.inodeBitmap);
    groupDescriptorLayout.write(descriptorMemory, base, 'inodeTable', layout[group]!.inodeTable);
    groupDescriptorLayout.write(descriptorMemory, base, 'freeBlocksCount', groupFreeBlocks);
    groupDescriptorLayout.write(descriptorMemory, base, 'freeInodesCount', groupFreeInodes);
    groupDescriptorLayout.write(descriptorMemory, base, 'usedDirectoriesCount', group === 0 ? 2 : 0);
    freeBlocks += groupFreeBlocks;
    freeInodes += groupFreeInodes;
  }

  const now = options.now;
  const set = (name: Parameters<Superblock['set']>[0], value: number) => superblock.set(name, value);
  set('inodesCount', inodesPerGroup * groupCount);
  set('blocksCount', blocksCount);
  set('reservedBlocksCount', Math.floor(blocksCount * (options.reservedPercent ?? 5) / 100));
  set('freeBlocksCount', freeBlocks);
  set('freeInodesCount', freeInodes);
  set('firstDataBlock', firstDataBlock);
  set('logBlockSize', Math.log2(blockBytes / 1024));
  set('logFragmentSize', Math.log2(blockBytes / 1024));
  set('blocksPerGroup', blocksPerGroup);
  set('fragmentsPerGroup', blocksPerGroup);
  set('inodesPerGroup', inodesPerGroup);
  set('writeTime', now);
  set('maximumMountCount', 0xffff);
  set('magic', EXT2_MAGIC);
  set('state', STATE_VALID);
  set('errors', 1);
  set('lastCheck', now);
  set('revision', 1);
  set('firstInode', GOOD_OLD_FIRST_INODE);
  set('inodeBytes', inodeBytes);
  set('featureIncompatible', INCOMPATIBLE.filetype);
  set('featureReadOnlyCompatible', READ_ONLY_COMPATIBLE.sparse_super | READ_ONLY_COMPATIBLE.large_file);
  set('makeFilesystemTime', now);
  if (inodeBytes > GOOD_OLD_INODE_BYTES) {
    set('minimumExtraInodeBytes', EXTRA_INODE_BYTES);
    set('wantedExtraInodeBytes', EXTRA_INODE_BYTES);
  }
  superblock.bytes.set(options.uuid, SUPERBLOCK_UUID.offset);
  superblock.bytes.set(options.uuid, SUPERBLOCK_HASH_SEED.offset);
  if (options.label) superblock.volumeName = options.label;

  // Inodes: root (2) and lost+found (11).
  const inodeTable0 = new Uint8Array(inodeTableBlocks * blockBytes);
  const writeInode = (number: number, fill: (inode: Inode) => void) => {
    const inode = new Inode(number, inodeTable0.subarray((number - 1) * inodeBytes, number * inodeBytes));
    fill(inode);
  };
  const directoryInode = (inode: Inode, blocks: number[], links: number, permissions: number) => {
    inode.set('mode', MODE_DIRECTORY | permissions);
    inode.size = blocks.length * blockBytes;
    inode.set('linksCount', links);
    inode.sectors = blocks.length * blockBytes / 512;
    inode.touch({ access: true, change: true, modify: true }, now);
    if (inodeBytes > GOOD_OLD_INODE_BYTES) inode.set('extraBytes', EXTRA_INODE_BYTES);
    blocks.forEach((block, index) => inode.setBlockPointer(index, block));
  };
  const lostAndFoundBlockNumbers = Array.from({ length: lostAndFoundBlocks }, (_, index) => lostAndFoundFirst + index);
  writeInode(ROOT_INODE, (inode) => directoryInode(inode, [rootBlock], 3, 0o755));
  writeInode(lostAndFoundInode, (inode) => directoryInode(inode, lostAndFoundBlockNumbers, 2, 0o700));

  const encoder = new TextEncoder();
  const rootData = new Uint8Array(blockBytes);
  const dot = recordBytesFor(1);
  const dotDot = recordBytesFor(2);
  writeRecord(rootData, 0, dot, ROOT_INODE, encoder.encode('.'), FILE_TYPE.directory);
  writeRecord(rootData, dot, dotDot, ROOT_INODE, encoder.encode('..'), FILE_TYPE.directory);
  writeRecord(rootData, dot + dotDot, blockBytes - dot - dotDot, lostAndFoundInode, encoder.encode('lost+found'), FILE_TYPE.directory);
  const lostAndFoundData = new Uint8Array(lostAndFoundBlocks * blockBytes);
  for (let index = 1; index < lostAndFoundBlocks; index++) initialiseEmptyBlock(lostAndFoundData.subarray(index * blockBytes, (index + 1) * blockBytes));
  writeRecord(lostAndFoundData, 0, dot, lostAndFoundInode, encoder.encode('.'), FILE_TYPE.directory);
  writeRecord(lostAndFoundData, dot, blockBytes - dot, ROOT_INODE, encoder.encode('..'), FILE_TYPE.directory);

  // Write: every group's bitmaps and (zeroed) inode table, the backups, then the primary
  // superblock last, so a half-formatted disk never looks like a filesystem.
  const zeroTable = new Uint8Array(inodeTableBlocks * blockBytes);
  for (let group = 0; group < groupCount; group++) {
    const entry = layout[group]!;
    await store.write(entry.blockBitmap * blockBytes, blockBitmaps[group]!);
    await store.write(entry.inodeBitmap * blockBytes, inodeBitmaps[group]!);
    await store.write(entry.inodeTable * blockBytes, group === 0 ? inodeTable0 : zeroTable);
    options.onProgress?.(group + 1, groupCount);
  }
  await store.write(rootBlock * blockBytes, rootData);
  await store.write(lostAndFoundFirst * blockBytes, lostAndFoundData);
  for (let group = groupCount - 1; group >= 0; group--) {
    if (!sparse(group)) continue;
    const first = firstDataBlock + group * blocksPerGroup;
    superblock.set('blockGroupNumber', group);
    const copy = new Uint8Array(blockBytes);
    if (group === 0) {
      // Block 0 keeps the boot sector (the first 1024 bytes) as it is on the device.
      const head = await store.read(0, blockBytes);
      copy.set(head);
      copy.set(superblock.bytes, SUPERBLOCK_OFFSET - first * blockBytes);
    } else {
      copy.set(superblock.bytes, 0);
    }
    await store.write(first * blockBytes, descriptorsAfter(copy, descriptors, blockBytes));
  }
  await store.flush();
  return geometry;
}

/** A group's first block (its superblock copy) followed by the descriptor table. */
function descriptorsAfter(superblockBlock: Uint8Array, descriptors: Uint8Array, blockBytes: number): Uint8Array {
  const bytes = new Uint8Array(blockBytes + descriptors.length);
  bytes.set(superblockBlock);
  bytes.set(descriptors, blockBytes);
  return bytes;
}

function groupOverhead(geometry: Omit<Geometry, 'blocksCount'> & { blocksCount: number }, group: number): number {
  const sparse = groupHasBackup(group, true);
  const inodeTableBlocks = Math.ceil(geometry.inodesPerGroup * geometry.inodeBytes / geometry.blockBytes);
  return (sparse ? 1 + geometry.descriptorBlocks : 0) + 2 + inodeTableBlocks;
}
