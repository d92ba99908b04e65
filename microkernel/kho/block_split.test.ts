import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { countTrailingZeros, splitIntoBlocks } from './block_split.js';

const GiB = 2 ** 30;
const PAGE = 4096;

describe('splitIntoBlocks', () => {
  it('splitIntoBlocks turns an aligned 1 GiB range into one order-18 block', () => {
    expect(splitIntoBlocks(0xc000_0000, GiB / PAGE)).toEqual([{ pa: 0xc000_0000, order: 18 }]);
  });

  it('splitIntoBlocks turns the range shifted by 4 KiB into 19 blocks of orders 0..17, 0', () => {
    const blocks = splitIntoBlocks(0xc000_0000 + PAGE, GiB / PAGE);
    expect(blocks.map((block) => block.order)).toEqual([...Array.from({ length: 18 }, (_, order) => order), 0]);
    expect(blocks[18]!.pa).toBe(0xc000_0000 + GiB);
  });

  it('splitIntoBlocks covers the range exactly with naturally aligned blocks', () => {
    fc.assert(fc.property(fc.integer({ min: 0x80000, max: 0x180000 }), fc.integer({ min: 0, max: 100_000 }), (pfn, count) => {
      const blocks = splitIntoBlocks(pfn * PAGE, count);
      let next = pfn * PAGE;
      for (const block of blocks) {
        expect(block.pa).toBe(next);
        expect(block.pa % (PAGE * 2 ** block.order)).toBe(0);
        next += PAGE * 2 ** block.order;
      }
      expect(next).toBe((pfn + count) * PAGE);
    }));
  });

  it('countTrailingZeros handles values above 2^32', () => {
    expect(countTrailingZeros(2 ** 40)).toBe(40);
    expect(countTrailingZeros(2 ** 40 + 2 ** 33)).toBe(33);
    expect(countTrailingZeros(0x80000)).toBe(19);
  });
});
