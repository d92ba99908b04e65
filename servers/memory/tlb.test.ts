import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { BuddyAllocator } from './buddy.js';
import { MISS, TranslationCache } from './tlb.js';
import { AddressSpace } from './address_space.js';
import { PTE_ACCESSED, PTE_DIRTY, PTE_READ, PTE_VALID, PTE_WRITE, encodePte, permissions, translate } from './sv32.js';

const READ_WRITE = encodePte(0x8010_0000, PTE_VALID | PTE_READ | PTE_WRITE | PTE_ACCESSED | PTE_DIRTY);
const READ_ONLY = encodePte(0x8010_0000, PTE_VALID | PTE_READ | PTE_ACCESSED);

function context(): { ram: Ram; buddy: BuddyAllocator; tlb: TranslationCache } {
  const ram = Ram.allocate(4 << 20);
  const buddy = new BuddyAllocator(ram);
  buddy.addFreeRange(ram.base, ram.size);
  return { ram, buddy, tlb: new TranslationCache(64, 8) };
}

describe('TranslationCache', () => {
  it('lookup misses until insert, then hits with the page offset applied', () => {
    const tlb = new TranslationCache();
    expect(tlb.lookup(1, 0x5123, 'read', 'supervisor')).toBe(MISS);
    tlb.insert(1, 0x5000, READ_WRITE, 0);
    expect(tlb.lookup(1, 0x5123, 'write', 'supervisor')).toBe(0x8010_0123);
    expect(tlb.lookup(2, 0x5123, 'read', 'supervisor')).toBe(MISS);
    expect(tlb.statistics()).toMatchObject({ hits: 1, misses: 2, entries: 1 });
  });

  it('lookup re-checks permissions on the cached PTE and misses when they do not allow the access', () => {
    const tlb = new TranslationCache();
    tlb.insert(1, 0x5000, READ_ONLY, 0);
    expect(tlb.lookup(1, 0x5000, 'read', 'supervisor')).toBe(0x8010_0000);
    expect(tlb.lookup(1, 0x5000, 'write', 'supervisor')).toBe(MISS);
    expect(tlb.lookup(1, 0x5000, 'read', 'user')).toBe(MISS);
  });

  it('invalidatePage drops the page entry and a megapage entry covering the address, only in that space', () => {
    const tlb = new TranslationCache();
    tlb.insert(1, 0x5000, READ_WRITE, 0);
    tlb.insert(1, 0x0040_0000, encodePte(0x8040_0000, PTE_VALID | PTE_READ | PTE_ACCESSED), 1);
    tlb.insert(2, 0x5000, READ_WRITE, 0);
    expect(tlb.lookup(1, 0x0045_6789, 'read', 'supervisor')).toBe(0x8045_6789);
    tlb.invalidatePage(1, 0x0041_0000);
    expect(tlb.lookup(1, 0x0045_6789, 'read', 'supervisor')).toBe(MISS);
    tlb.invalidatePage(1, 0x5fff);
    expect(tlb.lookup(1, 0x5000, 'read', 'supervisor')).toBe(MISS);
    expect(tlb.lookup(2, 0x5000, 'read', 'supervisor')).toBe(0x8010_0000);
  });

  it('invalidateSpace drops every entry of one space and invalidateAll every entry', () => {
    const tlb = new TranslationCache();
    for (let page = 0; page < 10; page++) {
      tlb.insert(1, page * PAGE_SIZE, READ_WRITE, 0);
      tlb.insert(2, page * PAGE_SIZE, READ_WRITE, 0);
    }
    tlb.invalidateSpace(1);
    expect(tlb.statistics().entries).toBe(10);
    expect(tlb.lookup(2, 9 * PAGE_SIZE, 'read', 'supervisor')).toBe(0x8010_0000);
    tlb.invalidateAll();
    expect(tlb.statistics().entries).toBe(0);
  });

  it('AddressSpace.translate through the cache always agrees with an uncached walk across random map/unmap/protect/fork/destroy', () => {
    type Step = { kind: 'map' | 'unmap' | 'protect' | 'touch' | 'resolve' | 'translate' | 'fork' | 'destroy'; page: number; writable: boolean; space: number };
    const step: fc.Arbitrary<Step> = fc.record({
      kind: fc.constantFrom('map', 'map', 'unmap', 'protect', 'touch', 'touch', 'resolve', 'translate', 'fork', 'destroy'),
      page: fc.integer({ min: 0, max: 15 }),
      writable: fc.boolean(),
      space: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120, size: 'max' }), (steps) => {
        const shared = context();
        let nextId = 1;
        const spaces = [AddressSpace.create(shared, nextId++, 1)];
        // Demand-zero pages at 0x0080_0000.. become anonymous frames, copy-on-write after a fork.
        spaces[0]!.reserve(0x0080_0000, 16 * PAGE_SIZE, permissions('rwu'));
        const frame = shared.buddy.allocate(1, 4);
        for (const { kind, page, writable, space: pick } of steps) {
          const live = spaces.filter((space) => !space.destroyed);
          if (live.length === 0) break;
          const space = live[pick % live.length]!;
          // Pages 0..15 of the space, in two megapage-sized ranges so level-0 tables are shared and separate.
          const va = kind === 'touch' || kind === 'resolve' ? 0x0080_0000 + page * PAGE_SIZE : (page % 2) * 0x0040_0000 + page * PAGE_SIZE;
          const mapped = space.mappings().some((mapping) => mapping.va === va);
          if (kind === 'touch') space.access(va, writable ? 'write' : 'read', 'user');
          else if (kind === 'resolve') space.resolveFault(va, writable ? 'write' : 'read');
          else if (kind === 'map' && !mapped) space.map(va, frame + page * PAGE_SIZE, permissions(writable ? 'rwu' : 'ru'));
          else if (kind === 'unmap' && mapped) space.unmap(va);
          else if (kind === 'protect' && mapped) space.protect(va, permissions(writable ? 'rwu' : 'ru'));
          else if (kind === 'fork' && live.length < 4) spaces.push(space.fork(nextId++));
          else if (kind === 'destroy' && live.length > 1) space.destroy();
          for (const candidate of spaces.filter((each) => !each.destroyed)) {
            for (const access of ['read', 'write'] as const) {
              const expected = translate(shared.ram, candidate.root, va + 0x10, access, 'user');
              const actual = candidate.translate(va + 0x10, access, 'user');
              if (typeof expected === 'number') expect(actual).toBe(expected);
              else expect(actual).toMatchObject({ reason: expected.reason, cause: expected.cause });
            }
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
