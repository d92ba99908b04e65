// The superblock: decoded from its 1024 bytes, checked, and kept as those bytes so that a
// write-back changes only the fields this server owns (counts, state, times) and leaves
// everything else — UUID, hash seed, fields newer than this code — exactly as it was.

import { ByteMemory } from '../../hal/virtio/layout.js';
import {
  EXT2_MAGIC, GOOD_OLD_FIRST_INODE, GOOD_OLD_INODE_BYTES, GROUP_DESCRIPTOR_BYTES, SUPERBLOCK_BYTES,
  SUPERBLOCK_VOLUME_NAME, SUPERBLOCK_LAST_MOUNTED, superblockLayout,
} from './layout.js';
import { READ_ONLY_COMPATIBLE } from './features.js';
import { Ext2Error } from './errors.js';

type SuperblockField = keyof typeof superblockLayout.fields;

export class Superblock {
  /** The superblock's own bytes; field writes go straight into them. */
  readonly bytes: Uint8Array;
  private readonly memory: ByteMemory;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== SUPERBLOCK_BYTES) throw new RangeError(`a superblock is ${SUPERBLOCK_BYTES} bytes`);
    this.bytes = bytes;
    this.memory = new ByteMemory(bytes);
  }

  get(name: SuperblockField): number {
    return superblockLayout.read(this.memory, 0, name);
  }

  set(name: SuperblockField, value: number): void {
    superblockLayout.write(this.memory, 0, name, value);
  }

  get blockBytes(): number { return 1024 << this.get('logBlockSize'); }
  get blocksCount(): number { return this.get('blocksCount'); }
  get inodesCount(): number { return this.get('inodesCount'); }
  get blocksPerGroup(): number { return this.get('blocksPerGroup'); }
  get inodesPerGroup(): number { return this.get('inodesPerGroup'); }
  get firstDataBlock(): number { return this.get('firstDataBlock'); }
  get revision(): number { return this.get('revision'); }
  get inodeBytes(): number { return this.revision === 0 ? GOOD_OLD_INODE_BYTES : this.get('inodeBytes'); }
  get firstInode(): number { return this.revision === 0 ? GOOD_OLD_FIRST_INODE : this.get('firstInode'); }
  get groupCount(): number { return Math.ceil((this.blocksCount - this.firstDataBlock) / this.blocksPerGroup); }
  get descriptorsPerBlock(): number { return this.blockBytes / GROUP_DESCRIPTOR_BYTES; }
  get descriptorBlocks(): number { return Math.ceil(this.groupCount / this.descriptorsPerBlock); }
  get inodeTableBlocks(): number { return Math.ceil(this.inodesPerGroup * this.inodeBytes / this.blockBytes); }

  get volumeName(): string { return this.text(SUPERBLOCK_VOLUME_NAME); }
  set volumeName(name: string) { this.setText(SUPERBLOCK_VOLUME_NAME, name); }
  get lastMounted(): string { return this.text(SUPERBLOCK_LAST_MOUNTED); }
  set lastMounted(path: string) { this.setText(SUPERBLOCK_LAST_MOUNTED, path); }

  /** Whether group `group` holds a copy of the superblock and descriptors (sparse_super rule). */
  groupHasSuperblock(group: number): boolean {
    return groupHasBackup(group, (this.get('featureReadOnlyCompatible') & READ_ONLY_COMPATIBLE.sparse_super) !== 0);
  }

  /** The block numbers group `group` spans. */
  groupRange(group: number): { first: number; count: number } {
    const first = this.firstDataBlock + group * this.blocksPerGroup;
    return { first, count: Math.min(this.blocksPerGroup, this.blocksCount - first) };
  }

  /** Checks that the numbers describe a filesystem this code can walk safely. */
  validate(deviceBytes: number): void {
    if (this.get('magic') !== EXT2_MAGIC) throw new Ext2Error('EINVAL', `not an ext2 filesystem (magic 0x${this.get('magic').toString(16)}, expected 0xef53)`);
    const logBlockSize = this.get('logBlockSize');
    if (logBlockSize > 6) throw new Ext2Error('EINVAL', `block size 1024 << ${logBlockSize} is out of range`);
    if (this.revision > 1) throw new Ext2Error('EINVAL', `revision ${this.revision} is newer than revision 1`);
    if (this.blocksPerGroup === 0 || this.blocksPerGroup > 8 * this.blockBytes) throw new Ext2Error('EINVAL', `blocks per group ${this.blocksPerGroup} does not fit one bitmap block`);
    if (this.inodesPerGroup === 0 || this.inodesPerGroup > 8 * this.blockBytes) throw new Ext2Error('EINVAL', `inodes per group ${this.inodesPerGroup} does not fit one bitmap block`);
    const inodeBytes = this.inodeBytes;
    if (inodeBytes < GOOD_OLD_INODE_BYTES || inodeBytes > this.blockBytes || (inodeBytes & (inodeBytes - 1)) !== 0) {
      throw new Ext2Error('EINVAL', `inode size ${inodeBytes} is not a power of two between 128 and the block size`);
    }
    if (this.blocksCount * this.blockBytes > deviceBytes) {
      throw new Ext2Error('EINVAL', `the filesystem has ${this.blocksCount} blocks of ${this.blockBytes} bytes, more than the ${deviceBytes}-byte device`);
    }
    if (this.firstDataBlock !== (this.blockBytes === 1024 ? 1 : 0)) throw new Ext2Error('EINVAL', `first data block ${this.firstDataBlock} does not match block size ${this.blockBytes}`);
    if (this.inodesCount !== this.inodesPerGroup * this.groupCount) {
      throw new Ext2Error('EINVAL', `inode count ${this.inodesCount} is not ${this.inodesPerGroup} per group × ${this.groupCount} groups`);
    }
  }

  private text(range: { offset: number; length: number }): string {
    const raw = this.bytes.subarray(range.offset, range.offset + range.length);
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end === -1 ? raw : raw.subarray(0, end));
  }

  private setText(range: { offset: number; length: number }, text: string): void {
    const encoded = new TextEncoder().encode(text);
    if (encoded.length > range.length) throw new Ext2Error('EINVAL', `"${text}" is longer than ${range.length} bytes`);
    this.bytes.fill(0, range.offset, range.offset + range.length);
    this.bytes.set(encoded, range.offset);
  }
}

/** sparse_super: copies only in groups 0, 1 and powers of 3, 5 and 7; without it, in every group. */
export function groupHasBackup(group: number, sparseSuper: boolean): boolean {
  if (!sparseSuper || group <= 1) return true;
  return isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

function isPowerOf(value: number, base: number): boolean {
  let power = base;
  while (power < value) power *= base;
  return power === value;
}
