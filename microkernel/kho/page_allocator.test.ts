import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PageFrameAllocator } from './page_allocator.js';

const MiB = 2 ** 20;
const PAGE = 4096;

describe('PageFrameAllocator', () => {
  it('allocatePages returns zeroed blocks aligned in physical address, even on an odd RAM base', () => {
    const ram = Ram.allocate(8 * MiB, 0x8000_3000);
    ram.fill(ram.base, 8 * MiB, 0xcc);
    const allocator = new PageFrameAllocator(ram);
    for (const order of [0, 3, 9, 1]) {
      const pa = allocator.allocatePages(order)!;
      expect(pa % (PAGE * 2 ** order)).toBe(0);
      expect(ram.read(pa, PAGE * 2 ** order).every((byte) => byte === 0)).toBe(true);
    }
  });

  it('allocatePages never hands out a page twice and returns null when exhausted', () => {
    const ram = Ram.allocate(1 * MiB);
    const allocator = new PageFrameAllocator(ram);
    const seen = new Set<number>();
    let pa: number | null;
    while ((pa = allocator.allocatePages(0)) !== null) {
      expect(seen.has(pa)).toBe(false);
      seen.add(pa);
    }
    expect(seen.size).toBe(256);
    allocator.freePages([...seen][7]!, 0);
    expect(allocator.allocatePages(0)).toBe([...seen][7]);
    expect(allocator.allocatePages(1)).toBeNull();
  });

  it('PageFrameAllocator manages only its ranges until addRange, and reserve survives addRange', () => {
    const ram = Ram.allocate(4 * MiB);
    const allocator = new PageFrameAllocator(ram, [{ start: ram.base + 2 * MiB, end: ram.base + 3 * MiB }]);
    expect(allocator.freePageCount).toBe(256);
    allocator.reserve(ram.base + 100, 5000); // widened to pages 0 and 1
    allocator.addRange({ start: ram.base, end: ram.end });
    expect(allocator.freePageCount).toBe(1024 - 2);
    expect(allocator.isFree(ram.base)).toBe(false);
    expect(allocator.isFree(ram.base + PAGE)).toBe(false);
    expect(allocator.isFree(ram.base + 2 * PAGE)).toBe(true);
  });

  it('freePages rejects pages that are not in use', () => {
    const ram = Ram.allocate(1 * MiB);
    const allocator = new PageFrameAllocator(ram);
    expect(() => allocator.freePages(ram.base, 0)).toThrow(/not in use/);
    expect(() => allocator.freePages(ram.base + 1, 0)).toThrow(/EINVAL/);
  });
});
