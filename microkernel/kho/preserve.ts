// The outgoing side's preservation API, with Linux's semantics (KHO-ABI.md §3, §5).
//
//   preserveFolio(pa, order)      one key                       kho_preserve_folio
//   preservePages(pa, count)      maximal aligned split         kho_preserve_pages
//   allocPreserve(size)           zeroed folio, preserved       kho_alloc_preserve
//   unpreserve*                   the same keys cleared         kho_unpreserve_*
//
// Preserving is idempotent (one bit per key, no reference count); one unpreserve clears it.
// Blocks must be RAM, aligned, and outside the scratch areas (Linux checks the latter only
// with CONFIG_KEXEC_HANDOVER_DEBUG; baton always does). Errors are KhoErrors: EINVAL for
// bad arguments, ENOMEM when the tree or the allocator runs out of pages, E2BIG for
// allocations above MAX_PAGE_ORDER.

import { PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { forEachSplitBlock } from './block_split.js';
import { KhoError } from './errors.js';
import { MAX_PAGE_ORDER, blockSize, checkBlock } from './key.js';
import type { KhoRadixTree } from './radix_tree.js';
import type { ScratchArea } from './scratch.js';

/** Physically contiguous, naturally aligned blocks of 2^order zeroed pages. */
export interface PageAllocator {
  /** Physical address of a zeroed block, or null when memory is exhausted. */
  allocatePages(order: number): number | null;
  freePages(pa: number, order: number): void;
}

export class KhoPreserver {
  readonly ram: Ram;
  readonly tree: KhoRadixTree;
  readonly allocator: PageAllocator;
  readonly #scratch: readonly ScratchArea[];
  // Order of each block handed out by allocPreserve, so unpreserveFree(pa) knows its size
  // (Linux reads it from the folio).
  readonly #allocations = new Map<number, number>();

  constructor(tree: KhoRadixTree, allocator: PageAllocator, scratch: readonly ScratchArea[] = []) {
    this.ram = tree.ram;
    this.tree = tree;
    this.allocator = allocator;
    this.#scratch = scratch;
  }

  get scratchAreas(): readonly ScratchArea[] {
    return this.#scratch;
  }

  /** Preserves the folio at `pa` of `order` as exactly one key. */
  preserveFolio(pa: number, order: number): void {
    this.#checkPreservable(pa, order);
    this.tree.add(pa, order);
  }

  /** Clears the key (pa, order); returns whether it was preserved. */
  unpreserveFolio(pa: number, order: number): boolean {
    checkBlock(pa, order);
    return this.tree.delete(pa, order);
  }

  /** Whether exactly the key (pa, order) is preserved. */
  isPreserved(pa: number, order: number): boolean {
    checkBlock(pa, order);
    return this.tree.has(pa, order);
  }

  /**
   * Preserves `count` pages from page-aligned `pa`, split into maximal naturally aligned
   * blocks. On failure the blocks already added are removed again and the error rethrown.
   */
  preservePages(pa: number, count: number): void {
    this.#checkRange(pa, count);
    let failedAt = -1;
    try {
      forEachSplitBlock(pa, count, (blockPa, order) => {
        failedAt = blockPa;
        this.tree.add(blockPa, order);
      });
    } catch (error) {
      forEachSplitBlock(pa, count, (blockPa, order) => {
        if (blockPa >= failedAt) return false;
        this.tree.delete(blockPa, order);
      });
      throw error;
    }
  }

  /** Clears the keys of the same split; must be called with the (pa, count) given to preservePages. */
  unpreservePages(pa: number, count: number): void {
    checkPageRange(pa, count);
    forEachSplitBlock(pa, count, (blockPa, order) => { this.tree.delete(blockPa, order); });
  }

  /**
   * Allocates a zeroed folio of get_order(size) and preserves it; returns its address.
   * EINVAL for size 0, E2BIG above MAX_PAGE_ORDER, ENOMEM when no block is free.
   */
  allocPreserve(size: number): number {
    if (!Number.isSafeInteger(size) || size <= 0) throw new KhoError('EINVAL', `allocation size ${size} is not a positive integer`);
    const order = getOrder(size);
    if (order > MAX_PAGE_ORDER) throw new KhoError('E2BIG', `${size} bytes needs order ${order}, above MAX_PAGE_ORDER ${MAX_PAGE_ORDER}`);
    const pa = this.allocator.allocatePages(order);
    if (pa === null) throw new KhoError('ENOMEM', `no free order-${order} block`);
    try {
      this.preserveFolio(pa, order);
    } catch (error) {
      this.allocator.freePages(pa, order);
      throw error;
    }
    this.#allocations.set(pa, order);
    return pa;
  }

  /** Unpreserves and frees a block from allocPreserve; EINVAL if `pa` is not one. */
  unpreserveFree(pa: number): void {
    const order = this.#allocations.get(pa);
    if (order === undefined) throw new KhoError('EINVAL', `${hex(pa)} was not allocated by allocPreserve`);
    this.#allocations.delete(pa);
    this.tree.delete(pa, order);
    this.allocator.freePages(pa, order);
  }

  /** The order of a live allocPreserve block, or undefined. */
  allocationOrder(pa: number): number | undefined {
    return this.#allocations.get(pa);
  }

  #checkPreservable(pa: number, order: number): void {
    checkBlock(pa, order);
    const size = blockSize(order);
    if (!this.ram.contains(pa, size)) throw new KhoError('EINVAL', `order-${order} block at ${hex(pa)} is not inside RAM`);
    this.#checkScratch(pa, size);
  }

  #checkRange(pa: number, count: number): void {
    checkPageRange(pa, count);
    if (count === 0) return;
    if (!this.ram.contains(pa, count * PAGE_SIZE)) throw new KhoError('EINVAL', `${count} pages at ${hex(pa)} are not inside RAM`);
    this.#checkScratch(pa, count * PAGE_SIZE);
  }

  #checkScratch(pa: number, size: number): void {
    const area = this.#scratch.find((scratch) => pa < scratch.addr + scratch.size && scratch.addr < pa + size);
    if (area) throw new KhoError('EINVAL', `range ${hex(pa)}+${hex(size)} overlaps scratch area ${hex(area.addr)}+${hex(area.size)}`);
  }
}

/** Smallest order whose block holds `size` bytes (the kernel's get_order). */
export function getOrder(size: number): number {
  let order = 0;
  while (blockSize(order) < size) order++;
  return order;
}

function checkPageRange(pa: number, count: number): void {
  if (!Number.isSafeInteger(pa) || pa < 0 || pa % PAGE_SIZE !== 0) throw new KhoError('EINVAL', `${pa} is not a page-aligned physical address`);
  if (!Number.isSafeInteger(count) || count < 0) throw new KhoError('EINVAL', `page count ${count} is not a non-negative integer`);
  if (!Number.isSafeInteger(pa + count * PAGE_SIZE)) throw new KhoError('EINVAL', `${count} pages at ${hex(pa)} exceed the address space`);
}
