import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PAGE_SIZE } from '../../hal/address.js';
import { MemoryMap } from './memory_map.js';
import { InvalidArgumentError } from './errors.js';

const BASE = 0x8000_0000;
const MiB = 1 << 20;

describe('MemoryMap', () => {
  it('MemoryMap.build gives every region of RAM a kind and purpose, in address order', () => {
    const map = MemoryMap.build({
      ram: [{ base: BASE, size: 16 * MiB }],
      memoryReservations: [{ base: BASE + 0x10_0000, size: 0x2000 }],
      reservedMemory: [{ base: BASE + 8 * MiB, size: MiB, name: 'framebuffer@80800000' }],
      deviceTree: { base: BASE + 15 * MiB, size: 0x1234 },
      kernel: [{ base: BASE, size: 0x4000, name: 'boot stack' }],
      scratch: [{ base: BASE + 12 * MiB, size: 2 * MiB }],
    });
    expect(map.regions).toEqual([
      { base: BASE, size: 0x4000, kind: 'reserved', purpose: 'kernel: boot stack' },
      { base: BASE + 0x4000, size: 0x10_0000 - 0x4000, kind: 'free', purpose: 'available' },
      { base: BASE + 0x10_0000, size: 0x2000, kind: 'reserved', purpose: 'memreserve' },
      { base: BASE + 0x10_2000, size: 8 * MiB - 0x10_2000, kind: 'free', purpose: 'available' },
      { base: BASE + 8 * MiB, size: MiB, kind: 'reserved', purpose: 'reserved-memory: framebuffer@80800000' },
      { base: BASE + 9 * MiB, size: 3 * MiB, kind: 'free', purpose: 'available' },
      { base: BASE + 12 * MiB, size: 2 * MiB, kind: 'scratch', purpose: 'KHO scratch' },
      { base: BASE + 14 * MiB, size: MiB, kind: 'free', purpose: 'available' },
      { base: BASE + 15 * MiB, size: 0x2000, kind: 'reserved', purpose: 'device tree blob' },
      { base: BASE + 15 * MiB + 0x2000, size: MiB - 0x2000, kind: 'free', purpose: 'available' },
    ]);
    expect(map.totals()).toEqual({ ram: 16 * MiB, free: 16 * MiB - 2 * MiB - 0x4000 - 0x2000 - MiB - 0x2000, scratch: 2 * MiB, reserved: 0x4000 + 0x2000 + MiB + 0x2000 });
    expect(map.freeRanges()[0]).toEqual({ base: BASE + 0x4000, size: 0x10_0000 - 0x4000 });
  });

  it('MemoryMap.build rounds RAM inward and reservations outward to pages, and drops what lies outside RAM', () => {
    const map = MemoryMap.build({
      ram: [{ base: BASE + 100, size: 4 * MiB }],
      memoryReservations: [{ base: BASE + 0x1ff0, size: 0x20 }, { base: 0x1000, size: 0x1000 }, { base: BASE + 4 * MiB - 10, size: MiB }],
    });
    expect(map.regions).toEqual([
      { base: BASE + PAGE_SIZE, size: 0x2000, kind: 'reserved', purpose: 'memreserve' },
      { base: BASE + 0x3000, size: 4 * MiB - 0x4000, kind: 'free', purpose: 'available' },
      { base: BASE + 4 * MiB - PAGE_SIZE, size: PAGE_SIZE, kind: 'reserved', purpose: 'memreserve' },
    ]);
    expect(map.totals().ram).toBe(4 * MiB - PAGE_SIZE);
  });

  it('MemoryMap.reserve joins the purposes of overlapping reservations and reports whether the range was free', () => {
    const map = MemoryMap.build({ ram: [{ base: BASE, size: MiB }], kernel: [{ base: BASE, size: 0x3000, name: 'image' }] });
    expect(map.reserve({ base: BASE + 0x2000, size: 0x2000 }, 'memreserve')).toBe(false);
    expect(map.reserve({ base: BASE + 0x8000, size: 0x1000 }, 'memreserve')).toBe(true);
    expect(map.regions.slice(0, 3)).toEqual([
      { base: BASE, size: 0x2000, kind: 'reserved', purpose: 'kernel: image' },
      { base: BASE + 0x2000, size: 0x1000, kind: 'reserved', purpose: 'kernel: image + memreserve' },
      { base: BASE + 0x3000, size: 0x1000, kind: 'reserved', purpose: 'memreserve' },
    ]);
  });

  it('MemoryMap.build merges overlapping RAM ranges and keeps holes between banks', () => {
    const map = MemoryMap.build({ ram: [{ base: BASE + 2 * MiB, size: MiB }, { base: BASE, size: MiB }, { base: BASE + MiB / 2, size: MiB / 2 }] });
    expect(map.freeRanges()).toEqual([{ base: BASE, size: MiB }, { base: BASE + 2 * MiB, size: MiB }]);
  });

  it('MemoryMap.build rejects malformed ranges with InvalidArgumentError', () => {
    expect(() => MemoryMap.build({ ram: [{ base: -4096, size: 4096 }] })).toThrow(InvalidArgumentError);
    expect(() => MemoryMap.build({ ram: [{ base: BASE, size: MiB }], memoryReservations: [{ base: BASE, size: Number.NaN }] })).toThrow(InvalidArgumentError);
  });

  it('MemoryMap.format prints one line per region with size, kind and purpose', () => {
    const map = MemoryMap.build({ ram: [{ base: BASE, size: 4 * MiB }], deviceTree: { base: BASE + 4 * MiB - PAGE_SIZE, size: 100 } });
    expect(map.format()).toEqual([
      '0x80000000-0x803fefff   4092 KiB  free      available',
      '0x803ff000-0x803fffff      4 KiB  reserved  device tree blob',
    ]);
  });

  it('MemoryMap.build on random reservations: sorted, non-overlapping, covers RAM, reserves every reserved page', () => {
    const range = fc.record({ base: fc.integer({ min: BASE - MiB, max: BASE + 9 * MiB }), size: fc.integer({ min: 0, max: 2 * MiB }) });
    fc.assert(
      fc.property(fc.array(range, { maxLength: 12, size: 'max' }), fc.array(range, { maxLength: 3, size: 'max' }), (reservations, scratch) => {
        const map = MemoryMap.build({ ram: [{ base: BASE, size: 8 * MiB }], memoryReservations: reservations, scratch });
        const regions = map.regions;
        let cursor = BASE;
        for (const region of regions) {
          expect(region.base).toBe(cursor);
          expect(region.size).toBeGreaterThan(0);
          expect(region.size % PAGE_SIZE).toBe(0);
          cursor += region.size;
        }
        expect(cursor).toBe(BASE + 8 * MiB);
        const kindAt = (address: number): string => regions.find((region) => address >= region.base && address < region.base + region.size)!.kind;
        for (let page = BASE; page < BASE + 8 * MiB; page += PAGE_SIZE) {
          const reserved = reservations.some((reservation) => reservation.size > 0 && reservation.base < page + PAGE_SIZE && reservation.base + reservation.size > page);
          const inScratch = scratch.some((region) => region.size > 0 && region.base < page + PAGE_SIZE && region.base + region.size > page);
          expect(kindAt(page)).toBe(reserved ? 'reserved' : inScratch ? 'scratch' : 'free');
        }
      }),
      { numRuns: 60 },
    );
  });
});
