import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  KHO_MAX_KEY_ORDER, bitmapIndex, blockSize, decodeKey, decodeKeyBig, encodeKey, encodeKeyBig, fls, leafBitLocation, tableIndex,
} from './key.js';
import { isKhoError } from './errors.js';

describe('encodeKey', () => {
  it('encodeKey matches worked example A (pa 0x1_2345_6000, order 0)', () => {
    const key = encodeKey(0x1_2345_6000, 0);
    expect(key).toBe(0x0010_0000_0012_3456);
    expect([5, 4, 3, 2, 1].map((level) => tableIndex(key, level))).toEqual([2, 0, 0, 0, 36]);
    expect(bitmapIndex(key)).toBe(13398);
    expect(leafBitLocation(13398)).toEqual({ byte: 0x68a, mask: 0x40, word: 209, bitInWord: 22 });
    expect(decodeKey(key)).toEqual({ pa: 0x1_2345_6000, order: 0 });
  });

  it('encodeKey matches worked example B (pa 1 GiB, order 9)', () => {
    const key = encodeKey(0x4000_0000, 9);
    expect(key).toBe(0x0000_0800_0000_0200);
    expect([5, 4, 3, 2, 1].map((level) => tableIndex(key, level))).toEqual([0, 2, 0, 0, 0]);
    expect(bitmapIndex(key)).toBe(512);
    expect(leafBitLocation(512)).toEqual({ byte: 64, mask: 1, word: 8, bitInWord: 0 });
    expect(decodeKey(key)).toEqual({ pa: 0x4000_0000, order: 9 });
  });

  it('encodeKey puts order 0 at root index 2, order 1 at 1, orders ≥ 2 at 0', () => {
    expect(tableIndex(encodeKey(0x8000_0000, 0), 5)).toBe(2);
    expect(tableIndex(encodeKey(0x8000_0000, 1), 5)).toBe(1);
    for (let order = 2; order <= 19; order++) expect(tableIndex(encodeKey(0x8000_0000, order), 5)).toBe(0);
  });

  it('encodeKey/decodeKey round-trip every order 0..52 wherever the address is representable', () => {
    for (let order = 0; order <= KHO_MAX_KEY_ORDER; order++) {
      const size = blockSize(order);
      const candidates = [0, size, 3 * size, Math.floor(Number.MAX_SAFE_INTEGER / size) * size].filter((pa) => Number.isSafeInteger(pa));
      for (const pa of candidates) {
        const key = encodeKey(pa, order);
        expect(fls(key)).toBe(53 - order);
        expect(decodeKey(key)).toEqual({ pa, order });
        expect(BigInt(key)).toBe(encodeKeyBig(BigInt(pa), order));
      }
    }
  });

  it('encodeKey agrees with the 64-bit C transcription for random blocks', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), (order, fraction) => {
      const blocks = Math.floor(Number.MAX_SAFE_INTEGER / blockSize(order));
      const pa = Math.floor(fraction * blocks) * blockSize(order);
      const key = encodeKey(pa, order);
      expect(BigInt(key)).toBe(encodeKeyBig(BigInt(pa), order));
      expect(decodeKeyBig(BigInt(key))).toEqual({ pa: BigInt(pa), order });
      expect(decodeKey(key)).toEqual({ pa, order });
    }));
  });

  it('encodeKey rejects misaligned addresses and impossible orders with EINVAL', () => {
    for (const [pa, order] of [[0x1000, 1], [0x1234, 0], [-4096, 0], [0, 53], [0, 1.5], [2 ** 53, 0]] as const) {
      let error: unknown;
      try { encodeKey(pa, order); } catch (caught) { error = caught; }
      expect(isKhoError(error, 'EINVAL')).toBe(true);
    }
  });

  it('decodeKey rejects 0 and keys of 2^53 or more', () => {
    expect(() => decodeKey(0)).toThrow(/not a kho-v2 key/);
    expect(() => decodeKey(2 ** 53)).toThrow(/not a kho-v2 key/);
  });

  it('decodeKeyBig drops the order bit by the 64-bit shift', () => {
    expect(decodeKeyBig(0x0010_0000_0012_3456n)).toEqual({ pa: 0x1_2345_6000n, order: 0 });
    expect(decodeKeyBig(1n)).toEqual({ pa: 0n, order: 52 });
  });
});
