// Guest physical RAM: one SharedArrayBuffer that every thread of the board maps whole.
//
// Physical address `base + i` is byte `i` of the buffer. The board is 32-bit: RAM must end
// at or below 4 GiB (ADDRESS_SPACE_END), so with the default base at 0x8000_0000 it is at
// most 2 GiB; more is refused rather than placed where no 32-bit address reaches it.

import { type PhysAddr, PAGE_SIZE, hex } from './address.js';

export const DEFAULT_RAM_BASE = 0x8000_0000;
export const DEFAULT_RAM_SIZE = 256 * 1024 * 1024;
/** The end of the board's 32-bit physical address space. */
export const ADDRESS_SPACE_END = 2 ** 32;
/** The most RAM at DEFAULT_RAM_BASE that 32-bit addresses reach (2 GiB). */
export const MAXIMUM_RAM_SIZE = ADDRESS_SPACE_END - DEFAULT_RAM_BASE;

/** What a thread needs to map the same RAM: passed through postMessage / workerData. */
export interface RamDescriptor {
  readonly buffer: SharedArrayBuffer;
  readonly base: number;
}

export class Ram {
  readonly buffer: SharedArrayBuffer;
  readonly base: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;

  private constructor(buffer: SharedArrayBuffer, base: number) {
    if (base % PAGE_SIZE !== 0) throw new RangeError(`RAM base ${hex(base)} is not page aligned`);
    if (buffer.byteLength % PAGE_SIZE !== 0) throw new RangeError('RAM size must be a whole number of pages');
    this.buffer = buffer;
    this.base = base;
    this.size = buffer.byteLength;
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Allocates fresh, zeroed RAM (lazily committed by the host). */
  static allocate(size: number = DEFAULT_RAM_SIZE, base: number = DEFAULT_RAM_BASE): Ram {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of ${PAGE_SIZE} bytes, got ${size}`);
    }
    if (base + size > ADDRESS_SPACE_END) {
      throw new RangeError(`RAM ${hex(base)}+${size} ends above the 4 GiB a 32-bit board addresses (at most ${(ADDRESS_SPACE_END - base) / 2 ** 20} MiB at ${hex(base)})`);
    }
    return new Ram(new SharedArrayBuffer(size), base);
  }

  /** Maps RAM another thread allocated. */
  static attach(descriptor: RamDescriptor): Ram {
    return new Ram(descriptor.buffer, descriptor.base);
  }

  get descriptor(): RamDescriptor {
    return { buffer: this.buffer, base: this.base };
  }

  get end(): number {
    return this.base + this.size;
  }

  contains(address: number, length = 1): boolean {
    return address >= this.base && length >= 0 && address + length <= this.end;
  }

  /** Byte offset of `address` in the buffer; throws RangeError if [address, address+length) is not RAM. */
  offset(address: number, length = 1): number {
    if (!this.contains(address, length)) {
      throw new RangeError(`physical range ${hex(address)}+${length} is outside RAM ${hex(this.base)}..${hex(this.end)}`);
    }
    return address - this.base;
  }

  /** A live view of guest memory; writes through it are writes to RAM. */
  subarray(address: number, length: number): Uint8Array {
    const start = this.offset(address, length);
    return this.bytes.subarray(start, start + length);
  }

  /** A private copy of guest memory. */
  read(address: number, length: number): Uint8Array {
    const start = this.offset(address, length);
    return this.bytes.slice(start, start + length);
  }

  write(address: number, data: Uint8Array): void {
    this.bytes.set(data, this.offset(address, data.length));
  }

  fill(address: number, length: number, value: number): void {
    const start = this.offset(address, length);
    this.bytes.fill(value, start, start + length);
  }

  readU8(address: number): number { return this.bytes[this.offset(address, 1)]!; }
  readU16(address: number): number { return this.view.getUint16(this.offset(address, 2), true); }
  readU32(address: number): number { return this.view.getUint32(this.offset(address, 4), true); }
  readU64(address: number): bigint { return this.view.getBigUint64(this.offset(address, 8), true); }
  writeU8(address: number, value: number): void { this.bytes[this.offset(address, 1)] = value; }
  writeU16(address: number, value: number): void { this.view.setUint16(this.offset(address, 2), value, true); }
  writeU32(address: number, value: number): void { this.view.setUint32(this.offset(address, 4), value, true); }
  writeU64(address: number, value: bigint): void { this.view.setBigUint64(this.offset(address, 8), value, true); }

  /** A little-endian u64 read as a number; throws if it is not exactly representable. */
  readU64Number(address: number): number {
    const value = this.readU64(address);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`u64 at ${hex(address)} exceeds 2^53`);
    return Number(value);
  }

  writeU64Number(address: number, value: number): void {
    this.writeU64(address, BigInt(value));
  }

  isPhysAddr(address: number): address is PhysAddr {
    return this.contains(address);
  }
}
