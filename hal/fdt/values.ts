// Property values: encoders (fdtValue) and decoders (fdtRead).
//
// Device tree cells are big-endian 32-bit words; a 64-bit number is two cells, high first.
// The one exception is Linux KHO, which stores u64 values as 8 raw native (little-endian)
// bytes: u64Native. Strings are UTF-8, NUL-terminated; a string list is strings back to back.
// Every decoder checks the length it needs and throws FdtError otherwise.

import { FdtError } from './tree.js';

const MAX_U64 = (1n << 64n) - 1n;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function checkU32(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new FdtError(`not a 32-bit cell value: ${value}`);
  return value;
}

function toU64(value: number | bigint): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new FdtError(`not a 64-bit value: ${value}`);
    return BigInt(value);
  }
  if (value < 0n || value > MAX_U64) throw new FdtError(`not a 64-bit value: ${value}`);
  return value;
}

function encodeString(text: string): Uint8Array {
  if (text.includes('\0')) throw new FdtError(`string value contains NUL: ${JSON.stringify(text)}`);
  const bytes = utf8Encoder.encode(text);
  const value = new Uint8Array(bytes.length + 1);
  value.set(bytes);
  return value;
}

function view(value: Uint8Array): DataView {
  return new DataView(value.buffer, value.byteOffset, value.byteLength);
}

export const fdtValue = {
  /** A property with no value (a flag such as `interrupt-controller;`). */
  empty(): Uint8Array {
    return new Uint8Array(0);
  },

  /** One big-endian cell per argument. */
  u32(...cells: number[]): Uint8Array {
    const value = new Uint8Array(cells.length * 4);
    const data = view(value);
    cells.forEach((cell, index) => data.setUint32(index * 4, checkU32(cell)));
    return value;
  },

  /** Two big-endian cells (high, low) per argument. */
  u64(...values: (number | bigint)[]): Uint8Array {
    const value = new Uint8Array(values.length * 8);
    const data = view(value);
    values.forEach((item, index) => data.setBigUint64(index * 8, toU64(item)));
    return value;
  },

  /** 8 raw little-endian bytes, as Linux KHO writes its u64 properties. */
  u64Native(item: number | bigint): Uint8Array {
    const value = new Uint8Array(8);
    view(value).setBigUint64(0, toU64(item), true);
    return value;
  },

  /** A NUL-terminated UTF-8 string. */
  string(text: string): Uint8Array {
    return encodeString(text);
  },

  /** A string list: each string NUL-terminated, back to back. */
  strings(list: string[]): Uint8Array {
    const parts = list.map(encodeString);
    const value = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      value.set(part, offset);
      offset += part.length;
    }
    return value;
  },
};

function requireLength(value: Uint8Array, length: number, what: string): void {
  if (value.length !== length) throw new FdtError(`${what} needs ${length} bytes, the value has ${value.length}`);
}

export const fdtRead = {
  /** The value as exactly one big-endian cell. */
  u32(value: Uint8Array): number {
    requireLength(value, 4, 'a u32 value');
    return view(value).getUint32(0);
  },

  /** The value as a list of big-endian cells; its length must be a multiple of 4. */
  u32Array(value: Uint8Array): number[] {
    if (value.length % 4 !== 0) throw new FdtError(`a cell list needs a multiple of 4 bytes, the value has ${value.length}`);
    const data = view(value);
    const cells: number[] = [];
    for (let offset = 0; offset < value.length; offset += 4) cells.push(data.getUint32(offset));
    return cells;
  },

  /** The value as exactly two big-endian cells (high, low). */
  u64(value: Uint8Array): bigint {
    requireLength(value, 8, 'a u64 value');
    return view(value).getBigUint64(0);
  },

  /** The value as exactly 8 little-endian bytes (Linux KHO's native u64). */
  u64Native(value: Uint8Array): bigint {
    requireLength(value, 8, 'a native u64 value');
    return view(value).getBigUint64(0, true);
  },

  /** The value as one NUL-terminated string (no NUL inside). */
  string(value: Uint8Array): string {
    const list = fdtRead.strings(value);
    if (list.length !== 1) throw new FdtError(`expected one string, the value holds ${list.length}`);
    return list[0]!;
  },

  /** The value as a string list; it must end with NUL. An empty value is an empty list. */
  strings(value: Uint8Array): string[] {
    if (value.length === 0) return [];
    if (value[value.length - 1] !== 0) throw new FdtError('a string value must end with NUL');
    const list: string[] = [];
    let start = 0;
    for (let index = 0; index < value.length; index++) {
      if (value[index] !== 0) continue;
      list.push(utf8Decoder.decode(value.subarray(start, index)));
      start = index + 1;
    }
    return list;
  },

  /**
   * Decodes a `reg`-style value: (address, size) pairs of `addressCells` and `sizeCells`
   * cells each, big-endian, most significant cell first. sizeCells may be 0 (size 0n).
   */
  cells(value: Uint8Array, addressCells: number, sizeCells: number): { address: bigint; size: bigint }[] {
    if (!Number.isInteger(addressCells) || !Number.isInteger(sizeCells) || addressCells < 0 || sizeCells < 0 || addressCells > 4 || sizeCells > 4) {
      throw new FdtError(`unsupported cell counts: #address-cells ${addressCells}, #size-cells ${sizeCells}`);
    }
    const entryBytes = (addressCells + sizeCells) * 4;
    if (entryBytes === 0) throw new FdtError('#address-cells and #size-cells are both 0');
    if (value.length % entryBytes !== 0) {
      throw new FdtError(`a reg value with ${addressCells}+${sizeCells} cells needs a multiple of ${entryBytes} bytes, it has ${value.length}`);
    }
    const data = view(value);
    const readNumber = (offset: number, count: number): bigint => {
      let result = 0n;
      for (let cell = 0; cell < count; cell++) result = (result << 32n) | BigInt(data.getUint32(offset + cell * 4));
      return result;
    };
    const entries: { address: bigint; size: bigint }[] = [];
    for (let offset = 0; offset < value.length; offset += entryBytes) {
      entries.push({ address: readNumber(offset, addressCells), size: readNumber(offset + addressCells * 4, sizeCells) });
    }
    return entries;
  },
};
