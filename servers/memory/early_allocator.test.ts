import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { MemoryMap } from './memory_map.js';
import { EarlyAllocator } from './early_allocator.js';
import { BuddyAllocator } from './buddy.js';
import { InvalidArgumentError, OutOfMemoryError } from './errors.js';

const BASE = 0x8000_0000;
const MiB = 1 << 20;

describe('EarlyAllocator', () => {
  it('allocate takes the highest fitting free range, aligned, and records its purpose in the map', () => {
    const map = MemoryMap.build({ ram: [{ base: BASE, size: 4 * MiB }], deviceTree: { base: BASE + 4 * MiB - PAGE_SIZE, size: 64 } });
    const early = new EarlyAllocator(map);
    expect(early.allocate(100, 'boot page table')).toBe(BASE + 4 * MiB - 2 * PAGE_SIZE);
    expect(early.allocate(3 * PAGE_SIZE, 'trace ring', MiB)).toBe(BASE + 3 * MiB);
    expect(map.regions.filter((region) => region.kind === 'reserved').map((region) => region.purpose)).toEqual(['early: trace ring', 'early: boot page table', 'device tree blob']);
  });

  it('allocate throws OutOfMemoryError when nothing fits and InvalidArgumentError for bad sizes', () => {
    const early = new EarlyAllocator(MemoryMap.build({ ram: [{ base: BASE, size: MiB }] }));
    expect(() => early.allocate(2 * MiB, 'too big')).toThrow(OutOfMemoryError);
    expect(() => early.allocate(0, 'nothing')).toThrow(InvalidArgumentError);
    expect(() => early.allocate(PAGE_SIZE, 'odd', 3 * PAGE_SIZE)).toThrow(InvalidArgumentError);
  });

  it('limitToScratch allocates only from scratch until the preserved blocks are reserved', () => {
    const scratch = { base: BASE + MiB, size: 64 * 1024 };
    const map = MemoryMap.build({ ram: [{ base: BASE, size: 4 * MiB }], scratch: [scratch] });
    const early = new EarlyAllocator(map);
    early.limitToScratch();
    expect(early.limited).toBe(true);
    const first = early.allocate(32 * 1024, 'KHO tree walk');
    expect(first).toBe(scratch.base + 32 * 1024);
    early.allocate(32 * 1024, 'more');
    // Scratch is exhausted: free RAM elsewhere must not be used yet.
    expect(() => early.allocate(PAGE_SIZE, 'one more')).toThrow(OutOfMemoryError);
    const preserved = { base: BASE + 3 * MiB, size: 16 * PAGE_SIZE };
    expect(early.reserve(preserved, 'KHO preserved')).toBe(true);
    early.limitTo(undefined);
    expect(early.allocate(PAGE_SIZE, 'after')).toBe(BASE + 4 * MiB - PAGE_SIZE);
    expect(map.regions.find((region) => region.base === preserved.base)).toMatchObject({ kind: 'reserved', purpose: 'KHO preserved', size: preserved.size });
  });

  it('finish hands exactly the free and scratch pages to the page allocator and closes the early phase', () => {
    const ram = Ram.allocate(4 * MiB);
    const map = MemoryMap.build({ ram: [{ base: ram.base, size: ram.size }], kernel: [{ base: ram.base, size: 5 * PAGE_SIZE, name: 'image' }], scratch: [{ base: ram.base + MiB, size: MiB }] });
    const early = new EarlyAllocator(map);
    const table = early.allocate(PAGE_SIZE, 'root page table');
    const ranges = early.finish();
    const buddy = new BuddyAllocator(ram);
    for (const range of ranges) buddy.addFreeRange(range.base, range.size);
    expect(buddy.buddyInfo().totalPages).toBe(1024 - 5 - 1);
    expect(buddy.blockAt(table)?.state).toBe('unavailable');
    expect(buddy.blockAt(ram.base + MiB)?.state).toBe('free');
    expect(() => early.allocate(PAGE_SIZE, 'late')).toThrow(InvalidArgumentError);
    buddy.checkConsistency();
  });
});
