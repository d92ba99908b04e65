// One inode, as its on-disk bytes plus accessors. Fields this code does not interpret
// (osd1, generation, the extra space of 256-byte inodes) stay as they were read.

import { ByteMemory } from '../../hal/virtio/layout.js';
import {
  INODE_BLOCK_POINTERS, MODE_DIRECTORY, MODE_REGULAR, MODE_SYMLINK, MODE_TYPE_MASK, inodeLayout,
} from './layout.js';

type InodeField = keyof typeof inodeLayout.fields;

export class Inode {
  readonly number: number;
  readonly bytes: Uint8Array;
  private readonly memory: ByteMemory;

  constructor(number: number, bytes: Uint8Array) {
    this.number = number;
    this.bytes = bytes;
    this.memory = new ByteMemory(bytes);
  }

  get(name: InodeField): number {
    if (name === 'extraBytes' && this.bytes.length <= 128) return 0;
    return inodeLayout.read(this.memory, 0, name);
  }

  set(name: InodeField, value: number): void {
    if (name === 'extraBytes' && this.bytes.length <= 128) return;
    inodeLayout.write(this.memory, 0, name, value);
  }

  get mode(): number { return this.get('mode'); }
  get type(): number { return this.mode & MODE_TYPE_MASK; }
  get isDirectory(): boolean { return this.type === MODE_DIRECTORY; }
  get isRegular(): boolean { return this.type === MODE_REGULAR; }
  get isSymlink(): boolean { return this.type === MODE_SYMLINK; }
  get linksCount(): number { return this.get('linksCount'); }
  get uid(): number { return this.get('uid') | (this.get('uidHigh') << 16); }
  get gid(): number { return this.get('gid') | (this.get('gidHigh') << 16); }
  set uid(value: number) { this.set('uid', value & 0xffff); this.set('uidHigh', value >>> 16); }
  set gid(value: number) { this.set('gid', value & 0xffff); this.set('gidHigh', value >>> 16); }

  /** File size in bytes; regular files past 4 GiB keep the high half in i_size_high (large_file). */
  get size(): number {
    const high = this.isRegular ? this.get('sizeHigh') : 0;
    return high * 2 ** 32 + this.get('size');
  }

  set size(bytes: number) {
    this.set('size', bytes % 2 ** 32);
    if (this.isRegular) this.set('sizeHigh', Math.floor(bytes / 2 ** 32));
  }

  /** i_blocks: 512-byte sectors of data, indirect and attribute blocks this inode holds. */
  get sectors(): number { return this.get('sectors') + this.get('sectorsHigh') * 2 ** 32; }
  set sectors(count: number) { this.set('sectors', count % 2 ** 32); this.set('sectorsHigh', Math.floor(count / 2 ** 32)); }

  /** i_block[index]: a block number (or, in a fast symlink, four bytes of the target). */
  blockPointer(index: number): number {
    if (index < 0 || index >= INODE_BLOCK_POINTERS.count) throw new RangeError(`i_block[${index}]`);
    return this.memory.readU32(INODE_BLOCK_POINTERS.offset + index * 4);
  }

  setBlockPointer(index: number, block: number): void {
    if (index < 0 || index >= INODE_BLOCK_POINTERS.count) throw new RangeError(`i_block[${index}]`);
    this.memory.writeU32(INODE_BLOCK_POINTERS.offset + index * 4, block);
  }

  /** The 60 bytes of i_block, where a fast symlink keeps its target. */
  get inlineBytes(): Uint8Array {
    return this.bytes.subarray(INODE_BLOCK_POINTERS.offset, INODE_BLOCK_POINTERS.offset + INODE_BLOCK_POINTERS.count * 4);
  }

  /** Sets a/c/m times (seconds); 256-byte inodes' nanosecond fields are left at zero. */
  touch(which: { access?: boolean; change?: boolean; modify?: boolean }, seconds: number): void {
    if (which.access) this.set('accessTime', seconds);
    if (which.change) this.set('changeTime', seconds);
    if (which.modify) this.set('modifyTime', seconds);
  }
}

/** What stat says of a file (st_mode, st_nlink, st_size, st_blocks, the times). */
export interface FileAttributes {
  readonly inode: number;
  readonly mode: number;
  readonly links: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** 512-byte sectors held (st_blocks). */
  readonly sectors: number;
  readonly accessTime: number;
  readonly modifyTime: number;
  readonly changeTime: number;
}

/** The attributes of `inode`, as the filesystem interface answers them. */
export function attributesOf(inode: Inode): FileAttributes {
  return {
    inode: inode.number,
    mode: inode.mode,
    links: inode.linksCount,
    uid: inode.uid,
    gid: inode.gid,
    size: inode.size,
    sectors: inode.sectors,
    accessTime: inode.get('accessTime'),
    modifyTime: inode.get('modifyTime'),
    changeTime: inode.get('changeTime'),
  };
}
