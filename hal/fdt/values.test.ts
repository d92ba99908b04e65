import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fdtRead, fdtValue } from './values.js';
import { FdtError } from './tree.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

describe('fdtValue', () => {
  it('fdtValue.u32 writes big-endian cells', () => {
    expect(fdtValue.u32(1, 0x80000000)).toEqual(bytes(0, 0, 0, 1, 0x80, 0, 0, 0));
    expect(fdtValue.u32()).toEqual(bytes());
  });

  it('fdtValue.u32 rejects values that are not 32-bit cells', () => {
    for (const value of [-1, 0x1_0000_0000, 1.5, Number.NaN]) expect(() => fdtValue.u32(value)).toThrow(FdtError);
  });

  it('fdtValue.u64 writes two cells per value, high first', () => {
    expect(fdtValue.u64(0x1_2345_6789)).toEqual(bytes(0, 0, 0, 1, 0x23, 0x45, 0x67, 0x89));
    expect(fdtValue.u64(0xffff_ffff_ffff_ffffn, 0)).toEqual(bytes(255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0));
  });

  it('fdtValue.u64 rejects negative, fractional, unsafe and too large values', () => {
    for (const value of [-1, 0.5, 2 ** 53, -1n, 1n << 64n]) expect(() => fdtValue.u64(value)).toThrow(FdtError);
  });

  it('fdtValue.u64Native writes 8 little-endian bytes as Linux KHO does', () => {
    expect(fdtValue.u64Native(0x8000_1000)).toEqual(bytes(0x00, 0x10, 0x00, 0x80, 0, 0, 0, 0));
  });

  it('fdtValue.string and strings write NUL-terminated UTF-8', () => {
    expect(fdtValue.string('ab')).toEqual(bytes(0x61, 0x62, 0));
    expect(fdtValue.strings(['a', '', 'b'])).toEqual(bytes(0x61, 0, 0, 0x62, 0));
    expect(fdtValue.empty()).toEqual(bytes());
  });

  it('fdtValue.string rejects a string containing NUL', () => {
    expect(() => fdtValue.string('a\0b')).toThrow(FdtError);
    expect(() => fdtValue.strings(['ok', 'a\0'])).toThrow(FdtError);
  });
});

describe('fdtRead', () => {
  it('fdtRead decodes what fdtValue encodes', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 0xffff_ffff })), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (cells, wide) => {
        expect(fdtRead.u32Array(fdtValue.u32(...cells))).toEqual(cells);
        expect(fdtRead.u64(fdtValue.u64(wide))).toBe(wide);
        expect(fdtRead.u64Native(fdtValue.u64Native(wide))).toBe(wide);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.string().filter((text) => !text.includes('\0'))), (list) => {
        expect(fdtRead.strings(fdtValue.strings(list))).toEqual(list);
      }),
    );
    expect(fdtRead.u32(fdtValue.u32(7))).toBe(7);
    expect(fdtRead.string(fdtValue.string('riscv,sv32'))).toBe('riscv,sv32');
  });

  it('fdtRead rejects values of the wrong length or shape', () => {
    expect(() => fdtRead.u32(bytes(0, 0, 1))).toThrow(FdtError);
    expect(() => fdtRead.u32(fdtValue.u32(1, 2))).toThrow(FdtError);
    expect(() => fdtRead.u32Array(bytes(0, 0, 0, 1, 2))).toThrow(FdtError);
    expect(() => fdtRead.u64(fdtValue.u32(1))).toThrow(FdtError);
    expect(() => fdtRead.u64Native(bytes(1, 2, 3, 4, 5, 6, 7, 8, 9))).toThrow(FdtError);
    expect(() => fdtRead.string(bytes(0x61))).toThrow(FdtError);
    expect(() => fdtRead.string(fdtValue.strings(['a', 'b']))).toThrow(FdtError);
    expect(() => fdtRead.strings(bytes(0x61, 0, 0x62))).toThrow(FdtError);
  });

  it('fdtRead.cells decodes reg values for any cell counts', () => {
    const reg = fdtValue.u32(0, 0x8000_0000, 0, 0x1000_0000, 1, 0, 0, 0x1000);
    expect(fdtRead.cells(reg, 2, 2)).toEqual([
      { address: 0x8000_0000n, size: 0x1000_0000n },
      { address: 0x1_0000_0000n, size: 0x1000n },
    ]);
    expect(fdtRead.cells(fdtValue.u32(3), 1, 0)).toEqual([{ address: 3n, size: 0n }]);
    expect(fdtRead.cells(fdtValue.u32(0x10, 0x20, 0x30, 0x40), 1, 1)).toHaveLength(2);
  });

  it('fdtRead.cells rejects lengths that do not match the cell counts', () => {
    expect(() => fdtRead.cells(fdtValue.u32(1, 2, 3), 2, 2)).toThrow(FdtError);
    expect(() => fdtRead.cells(fdtValue.u32(1), 0, 0)).toThrow(FdtError);
    expect(() => fdtRead.cells(fdtValue.u32(1), -1, 2)).toThrow(FdtError);
  });
});
