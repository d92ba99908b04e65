// The early allocator: serves boot needs straight from the memory map, before the page
// allocator exists (Linux's memblock).
//
// Each allocation takes the highest fitting free range (top-down, as memblock does by default)
// and becomes a reserved region of the map whose purpose starts with "early: ". It can be limited
// to a set of ranges: after a kexec with KHO, boot code allocates only from the scratch regions
// until every block the previous kernel preserved has been reserved, and only then lifts the
// limit. `finish()` ends the early phase and returns the ranges the page allocator takes over.

import { type PhysAddr, PAGE_SIZE } from '../../hal/address.js';
import { InvalidArgumentError, OutOfMemoryError } from './errors.js';
import { formatSize } from '../../hal/size_text.js';
import type { MemoryMap, PhysicalRange } from './memory_map.js';

export class EarlyAllocator {
  readonly #map: MemoryMap;
  #allowed: PhysicalRange[] | undefined;
  #finished = false;

  constructor(map: MemoryMap) {
    this.#map = map;
  }

  /** True while allocations are limited to a set of ranges. */
  get limited(): boolean {
    return this.#allowed !== undefined;
  }

  /** Allocates only inside `ranges` from now on; `undefined` lifts the limit. */
  limitTo(ranges: readonly PhysicalRange[] | undefined): void {
    this.#checkOpen();
    this.#allowed = ranges?.map((range) => ({ base: range.base, size: range.size }));
  }

  /** Limits allocations to the map's KHO scratch regions. */
  limitToScratch(): void {
    this.limitTo(this.#map.ranges(['scratch']));
  }

  /**
   * Reserves `size` bytes (rounded up to pages) aligned to `align` (a power of two, at least a
   * page), the highest such range that is free and allowed. Throws OutOfMemoryError if none fits.
   */
  allocate(size: number, purpose: string, align: number = PAGE_SIZE): PhysAddr {
    this.#checkOpen();
    if (!Number.isSafeInteger(size) || size <= 0) throw new InvalidArgumentError(`early allocation size must be a positive integer, got ${size}`, { size });
    if (!Number.isSafeInteger(align) || align < PAGE_SIZE || (align & (align - 1)) !== 0) {
      throw new InvalidArgumentError(`early allocation alignment must be a power of two >= ${PAGE_SIZE}, got ${align}`, { align });
    }
    const bytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const candidates = this.#candidates();
    for (let index = candidates.length - 1; index >= 0; index--) {
      const { base, size: rangeSize } = candidates[index]!;
      const top = Math.floor((base + rangeSize - bytes) / align) * align;
      if (top >= base) {
        this.#map.reserve({ base: top, size: bytes }, `early: ${purpose}`);
        return top as PhysAddr;
      }
    }
    throw new OutOfMemoryError(`early allocator: no free range of ${formatSize(bytes)} aligned to ${formatSize(align)}${this.limited ? ' in the allowed ranges' : ''} for ${purpose}`, { size: bytes, align, purpose });
  }

  /** Marks a range reserved (e.g. a KHO-preserved block); returns true if it was all free before. */
  reserve(range: PhysicalRange, purpose: string): boolean {
    this.#checkOpen();
    return this.#map.reserve(range, purpose);
  }

  /** Ends the early phase; returns the free ranges (free and scratch) for the page allocator. */
  finish(): PhysicalRange[] {
    this.#checkOpen();
    this.#finished = true;
    return this.#map.freeRanges();
  }

  /** Free ranges intersected with the allowed ranges, in address order. */
  #candidates(): PhysicalRange[] {
    const free = this.#map.freeRanges();
    if (!this.#allowed) return free;
    const result: PhysicalRange[] = [];
    for (const range of free) {
      for (const allowed of this.#allowed) {
        const start = Math.max(range.base, allowed.base);
        const end = Math.min(range.base + range.size, allowed.base + allowed.size);
        if (end > start) result.push({ base: start, size: end - start });
      }
    }
    return result.sort((a, b) => a.base - b.base);
  }

  #checkOpen(): void {
    if (this.#finished) throw new InvalidArgumentError('the early allocator has finished: memory now belongs to the page allocator');
  }
}
