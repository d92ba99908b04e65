// A small physical page allocator over ranges of guest RAM, one byte of state per page.
//
// It stands in for "the kernel's page allocator" around the KHO core: the outgoing side
// takes tree tables, chunk pages and kho_alloc_preserve folios from it; the incoming side
// starts it over the scratch areas only, reserves every preserved block the tree lists,
// and only then adds the rest of RAM (Linux's memblock scratch-only phase, then buddy).
// Blocks are naturally aligned (a block of order o starts at a multiple of 4 KiB << o).

import { PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { KhoError } from './errors.js';
import type { TablePageSource } from './radix_tree.js';

export interface PhysRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

const UNAVAILABLE = 0; // not managed (outside the ranges handed to the allocator)
const FREE = 1;
const USED = 2;

export class PageFrameAllocator implements TablePageSource {
  readonly ram: Ram;
  readonly #state: Uint8Array;
  #freePages = 0;
  #cursor = 0;

  /** Manages the pages of `ranges` (page-aligned, inside RAM); everything else is unavailable. */
  constructor(ram: Ram, ranges: readonly PhysRange[] = [{ start: ram.base, end: ram.end }]) {
    this.ram = ram;
    this.#state = new Uint8Array(ram.size / PAGE_SIZE);
    for (const range of ranges) this.addRange(range);
  }

  get freePageCount(): number {
    return this.#freePages;
  }

  /** Hands the pages of `range` to the allocator (those already used or reserved stay so). */
  addRange(range: PhysRange): void {
    const [first, last] = this.#pageSpan(range.start, range.end - range.start);
    for (let page = first; page < last; page++) {
      if (this.#state[page] === UNAVAILABLE) {
        this.#state[page] = FREE;
        this.#freePages++;
      }
    }
  }

  /** Marks every page touching [pa, pa+size) used, whatever its state (memblock_reserve); the part outside RAM is ignored. */
  reserve(pa: number, size: number): void {
    const first = Math.max(0, Math.floor((pa - this.ram.base) / PAGE_SIZE));
    const last = Math.min(this.#state.length, Math.ceil((pa + size - this.ram.base) / PAGE_SIZE));
    for (let page = first; page < last; page++) {
      if (this.#state[page] === FREE) this.#freePages--;
      this.#state[page] = USED;
    }
  }

  /** Physical address of a zeroed, naturally aligned block of 2^order pages, or null if none is free. */
  allocatePages(order: number): number | null {
    const count = 2 ** order;
    const total = this.#state.length;
    if (!Number.isInteger(order) || order < 0 || count > total) return null;
    const alignment = this.#alignmentOffset(count);
    for (let pass = 0; pass < 2; pass++) {
      const from = pass === 0 ? this.#cursor : 0;
      const to = pass === 0 ? total : Math.min(this.#cursor + count, total);
      let page = Math.ceil((from - alignment) / count) * count + alignment;
      while (page + count <= to) {
        const blocker = this.#firstNotFree(page, count);
        if (blocker < 0) {
          this.#state.fill(USED, page, page + count);
          this.#freePages -= count;
          this.#cursor = page + count;
          const pa = this.ram.base + page * PAGE_SIZE;
          this.ram.fill(pa, count * PAGE_SIZE, 0);
          return pa;
        }
        page = Math.ceil((blocker + 1 - alignment) / count) * count + alignment;
      }
    }
    return null;
  }

  /** Returns a block from allocatePages (or pages reserved earlier) to the free pool. */
  freePages(pa: number, order: number): void {
    const [first, last] = this.#pageSpan(pa, 2 ** order * PAGE_SIZE);
    for (let page = first; page < last; page++) {
      if (this.#state[page] !== USED) throw new KhoError('EINVAL', `freeing page ${hex(this.ram.base + page * PAGE_SIZE)} that is not in use`);
    }
    this.#state.fill(FREE, first, last);
    this.#freePages += last - first;
  }

  allocatePage(): number | null {
    return this.allocatePages(0);
  }

  freePage(pa: number): void {
    this.freePages(pa, 0);
  }

  isFree(pa: number): boolean {
    return this.#state[(pa - this.ram.base) / PAGE_SIZE] === FREE;
  }

  // RAM page index of the first page not free in [page, page+count), or −1.
  #firstNotFree(page: number, count: number): number {
    for (let index = page; index < page + count; index++) if (this.#state[index] !== FREE) return index;
    return -1;
  }

  // Page index offset that makes a block of `count` pages naturally aligned in physical address.
  #alignmentOffset(count: number): number {
    const basePage = this.ram.base / PAGE_SIZE;
    return (count - (basePage % count)) % count;
  }

  #pageSpan(pa: number, size: number): [number, number] {
    if (pa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || !this.ram.contains(pa, size)) {
      throw new KhoError('EINVAL', `range ${hex(pa)}+${size} is not whole pages of RAM`);
    }
    const first = (pa - this.ram.base) / PAGE_SIZE;
    return [first, first + size / PAGE_SIZE];
  }
}
