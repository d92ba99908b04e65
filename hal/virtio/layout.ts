// Field tables for little-endian structures in guest memory or in byte buffers.
//
// Every virtio structure (descriptor, ring header, request header, config space) is
// declared once as a table of named fields with offset and width; code reads and writes
// fields by name instead of by scattered offsets. Widths are 1, 2, 4 or 8 bytes, all
// little-endian as virtio 1.x requires. 8-byte fields are numbers and must be exact
// (below 2^53): reading a larger value throws RangeError, which device code treats as a
// malformed structure.

export type FieldWidth = 1 | 2 | 4 | 8;

export interface FieldSpec {
  readonly offset: number;
  readonly width: FieldWidth;
}

/** Anything that reads and writes little-endian integers at addresses: Ram, or ByteMemory. */
export interface LittleEndianMemory {
  readU8(address: number): number;
  readU16(address: number): number;
  readU32(address: number): number;
  readU64Number(address: number): number;
  writeU8(address: number, value: number): void;
  writeU16(address: number, value: number): void;
  writeU32(address: number, value: number): void;
  writeU64Number(address: number, value: number): void;
}

export const u8 = (offset: number): FieldSpec => ({ offset, width: 1 });
export const u16 = (offset: number): FieldSpec => ({ offset, width: 2 });
export const u32 = (offset: number): FieldSpec => ({ offset, width: 4 });
export const u64 = (offset: number): FieldSpec => ({ offset, width: 8 });

/** A named structure of `size` bytes. */
export class Layout<Fields extends Record<string, FieldSpec>> {
  readonly size: number;
  readonly fields: Fields;

  constructor(size: number, fields: Fields) {
    for (const [name, spec] of Object.entries(fields)) {
      if (spec.offset < 0 || spec.offset + spec.width > size) {
        throw new RangeError(`field ${name} at ${spec.offset}+${spec.width} lies outside a ${size}-byte layout`);
      }
    }
    this.size = size;
    this.fields = fields;
  }

  offsetOf(name: keyof Fields): number {
    return this.fields[name]!.offset;
  }

  /** Reads field `name` of the structure at `base`. */
  read(memory: LittleEndianMemory, base: number, name: keyof Fields): number {
    const spec = this.fields[name]!;
    const at = base + spec.offset;
    switch (spec.width) {
      case 1: return memory.readU8(at);
      case 2: return memory.readU16(at);
      case 4: return memory.readU32(at);
      case 8: return memory.readU64Number(at);
    }
  }

  /** Writes field `name` of the structure at `base`; the value is truncated to the field's width. */
  write(memory: LittleEndianMemory, base: number, name: keyof Fields, value: number): void {
    const spec = this.fields[name]!;
    const at = base + spec.offset;
    switch (spec.width) {
      case 1: memory.writeU8(at, value & 0xff); return;
      case 2: memory.writeU16(at, value & 0xffff); return;
      case 4: memory.writeU32(at, value >>> 0); return;
      case 8: memory.writeU64Number(at, value); return;
    }
  }

  /** Reads every field of the structure at `base`. */
  readAll(memory: LittleEndianMemory, base: number): { [K in keyof Fields]: number } {
    const result = {} as { [K in keyof Fields]: number };
    for (const name of Object.keys(this.fields) as (keyof Fields)[]) result[name] = this.read(memory, base, name);
    return result;
  }

  /** Encodes `values` (missing fields are zero) into a fresh buffer of `size` bytes. */
  encode(values: Partial<{ [K in keyof Fields]: number }>): Uint8Array {
    const bytes = new Uint8Array(this.size);
    const memory = new ByteMemory(bytes);
    for (const name of Object.keys(values) as (keyof Fields)[]) this.write(memory, 0, name, values[name] ?? 0);
    return bytes;
  }

  /** Decodes a structure from the start of `bytes` (at least `size` bytes long). */
  decode(bytes: Uint8Array): { [K in keyof Fields]: number } {
    if (bytes.length < this.size) throw new RangeError(`need ${this.size} bytes, got ${bytes.length}`);
    return this.readAll(new ByteMemory(bytes), 0);
  }
}

/** A Uint8Array seen as little-endian memory whose addresses start at 0. */
export class ByteMemory implements LittleEndianMemory {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  readU8(address: number): number { return this.view.getUint8(address); }
  readU16(address: number): number { return this.view.getUint16(address, true); }
  readU32(address: number): number { return this.view.getUint32(address, true); }
  readU64Number(address: number): number {
    const value = this.view.getBigUint64(address, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`u64 at ${address} exceeds 2^53`);
    return Number(value);
  }
  writeU8(address: number, value: number): void { this.view.setUint8(address, value); }
  writeU16(address: number, value: number): void { this.view.setUint16(address, value, true); }
  writeU32(address: number, value: number): void { this.view.setUint32(address, value, true); }
  writeU64Number(address: number, value: number): void { this.view.setBigUint64(address, BigInt(value), true); }
}
