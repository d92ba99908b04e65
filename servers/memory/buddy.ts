// The buddy page allocator: 4 KiB pages in power-of-two blocks of order 0..MAX_PAGE_ORDER.
//
// As in Linux's mm/page_alloc.c, a block of order k is 2^k pages aligned to 2^k pages (by
// physical page number, so an order-10 block is a 4 MiB-aligned Sv32 megapage). Allocation takes
// the smallest free block of at least the wanted order and splits it, putting the upper halves
// on the free lists; freeing merges a block with its buddy (the block at index ^ 2^k) while the
// buddy is free and of the same order.
//
// Per-page metadata and the free lists are page_records.ts (PageRecords: typed arrays indexed
// by page number minus the first page of the span, every write journaled). Only a block's
// first page (its head) carries a state; every other page of a block is INTERIOR (0), which
// lets `headOf` find the block holding any page in at most 11 probes:
//
//   state      FREE | ALLOCATED | CACHED | UNAVAILABLE (not RAM, or RAM not given to the
//              allocator), plus the RESERVED bit on blocks taken out by reserve()
//   order      block order, at heads
//   owner      owner id (0..65535) of an allocated block, at heads
//   references reference count of an allocated block (mappings, retain()), at heads
//   next/prev  intrusive doubly linked free list per order, at free heads (-1 ends a list)
//
// Hot-page cache (Linux's per-CPU page lists): up to HOT_CACHE_PAGES freed order-0 pages are
// parked, CACHED and unmerged, and handed out first by order-0 allocations, so a page that is
// freed and allocated again does not split and merge ten times. The cache is drained back into
// the free lists when an allocation finds no block, before reserve(), and by drainCache().
//
// Reference counts: allocate() returns a block with one reference, the owner's. retain() adds
// one (an address space mapping it), release() drops one; the block is freed when none remain.
// free(address, owner) drops the owner's reference: if mappings still hold the block it moves
// to SHARED_OWNER until they go. freeAll(owner) does that for every block of an owner.
// Anonymous blocks (pager frames) are held by mappings alone: the owner is only charged for
// them, cannot free() them, and freeAll() hands any still mapped (by others) to SHARED_OWNER.
//
// Every caller mistake (double free, not a block head, wrong owner, out of memory, over limit)
// is a typed error thrown before anything is changed.

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { InvalidArgumentError, InvalidBlockError, OutOfMemoryError } from './errors.js';
import { KERNEL_OWNER, MAXIMUM_OWNER, OwnerAccounts, type OwnerUsage, SHARED_OWNER, checkOwner } from './owner_accounts.js';
import {
  ALLOCATED, ANONYMOUS, CACHED, END, FREE, INTERIOR, MAX_PAGE_ORDER, PageRecords, RESERVED, SPAN_ALIGNMENT_PAGES, STATE_MASK, UNAVAILABLE,
} from './page_records.js';
import { type AllocatorStorage, HOT_CACHE_CAPACITY, SCALAR_CACHED, SCALAR_FREE_PAGES, SCALAR_MANAGED_PAGES, heapStorage } from './state_region.js';

export { MAX_PAGE_ORDER } from './page_records.js';
export { KERNEL_OWNER, SHARED_OWNER, MAXIMUM_OWNER, type OwnerUsage } from './owner_accounts.js';

/** Bits for allocate()'s `flags`. */
export const AllocationFlags = {
  None: 0,
  /** Fill the block with zeros in RAM before returning it. */
  Zeroed: 1,
  /**
   * A pager frame: its references are address-space mappings only, the owner holds none. free()
   * refuses it; it is freed when its last mapping goes; freeAll() leaves it to its mappings.
   */
  Anonymous: 2,
} as const;

/** Order-0 pages kept out of the free lists for quick reuse (Linux's per-CPU page lists). */
export const HOT_CACHE_PAGES = HOT_CACHE_CAPACITY;

export type BlockState = 'free' | 'allocated' | 'unavailable';

/** visitBlocks' owner of a free block, and of a page the allocator does not manage. */
export const FREE_BLOCK = -1;
export const UNAVAILABLE_BLOCK = -2;

/** What the allocator knows about the block holding a page. */
export interface BlockInfo {
  readonly base: PhysAddr;
  readonly order: number;
  readonly state: BlockState;
  /** Set on blocks taken out with reserve(). */
  readonly reserved: boolean;
  /** Set on blocks allocated with AllocationFlags.Anonymous. */
  readonly anonymous: boolean;
  /** Owner id if allocated, else -1. */
  readonly owner: number;
  readonly references: number;
}

/** The numbers `mem` prints, like /proc/buddyinfo plus totals. */
export interface BuddyInfo {
  /** Blocks on the free lists per order, index = order (hot-cache pages not included). */
  readonly freeBlocks: readonly number[];
  /** Free order-0 pages parked in the hot-page cache. */
  readonly cachedPages: number;
  /** Pages the allocator manages (free + allocated). */
  readonly totalPages: number;
  readonly freePages: number;
  readonly usedPages: number;
  /** Allocated pages that were taken out with reserve(). */
  readonly reservedPages: number;
  /** Owners that hold pages or have a limit, by id. */
  readonly owners: readonly OwnerUsage[];
}

export class BuddyAllocator {
  readonly ram: Ram;
  /** The per-page records and free lists (page_records.ts), in the storage given. */
  readonly #pages: PageRecords;
  readonly #accounts: OwnerAccounts;

  /**
   * An allocator over all of `ram` with no free memory yet: give it ranges with addFreeRange().
   * Its records go in `storage` (a formatted state region's, or the heap by default); with
   * `attach` they are the ones a previous generation left there, kept as they are.
   */
  constructor(ram: Ram, storage?: AllocatorStorage, attach = false) {
    this.ram = ram;
    const firstPage = Math.floor(ram.base / PAGE_SIZE);
    const spanFirstPage = firstPage - (firstPage % SPAN_ALIGNMENT_PAGES);
    const pageCount = Math.ceil(ram.end / PAGE_SIZE) - spanFirstPage;
    const store = storage ?? heapStorage(pageCount);
    if (store.pageCount !== pageCount) throw new InvalidArgumentError(`allocator storage covers ${store.pageCount} pages, RAM needs ${pageCount}`);
    this.#pages = new PageRecords(store, spanFirstPage * PAGE_SIZE);
    this.#accounts = new OwnerAccounts(store.charges, store.limits, store.journal);
    if (attach) return;
    this.#pages.reset();
    this.#accounts.reset();
  }

  /**
   * The allocator a previous generation left in `storage` (its journal already rolled back).
   * Throws an Error naming the first broken invariant if the records are not consistent.
   */
  static attach(ram: Ram, storage: AllocatorStorage): BuddyAllocator {
    const allocator = new BuddyAllocator(ram, storage, true);
    allocator.checkConsistency();
    return allocator;
  }

  /** Hands [base, base + size) (page aligned, inside RAM, not yet managed) to the allocator as free memory. */
  addFreeRange(base: number, size: number): void {
    if (size === 0) return;
    const first = this.#pageIndex(base, 'free range base');
    if (!Number.isSafeInteger(size) || size < 0 || size % PAGE_SIZE !== 0 || !this.ram.contains(base, size)) {
      throw new InvalidArgumentError(`free range ${hex(base)}+${size} is not whole pages of RAM`, { base, size });
    }
    const end = first + size / PAGE_SIZE;
    for (let index = first; index < end; index++) {
      if (this.#pages.state[index] !== UNAVAILABLE) {
        throw new InvalidBlockError('ADDRESS_IN_USE', `page ${hex(this.#pages.addressOf(index))} is already managed by the page allocator`, { address: this.#pages.addressOf(index) });
      }
    }
    let index = first;
    while (index < end) {
      let order = 0;
      while (order < MAX_PAGE_ORDER && (index & ((2 << order) - 1)) === 0 && index + (2 << order) <= end) order++;
      for (let page = index; page < index + (1 << order); page++) this.#pages.setState(page, INTERIOR);
      this.#pages.add(SCALAR_MANAGED_PAGES, 1 << order);
      this.#pages.insertFree(index, order);
      index += 1 << order;
    }
  }

  /**
   * Allocates a block of 2^order pages for `owner`, with one reference.
   * Throws OutOfMemoryError or LimitExceededError, leaving the allocator unchanged.
   */
  allocate(owner: number, order = 0, flags: number = AllocationFlags.None): PhysAddr {
    if (!(owner >= 0 && owner <= MAXIMUM_OWNER && (owner | 0) === owner)) checkOwner(owner);
    if (!(order >= 0 && order <= MAX_PAGE_ORDER && (order | 0) === order)) {
      throw new InvalidArgumentError(`order must be an integer 0..${MAX_PAGE_ORDER}, got ${order}`, { order });
    }
    const pages = 1 << order;
    const usage = this.#pages.charges;
    if (usage[owner]! + pages > this.#accounts.limits[owner]!) throw this.#accounts.limitExceeded(owner, pages);
    let index: number;
    if (order === 0 && this.#pages.scalars[SCALAR_CACHED]! > 0) {
      index = this.#pages.cache[this.#pages.add(SCALAR_CACHED, -1)]!;
    } else {
      index = this.#pages.takeBlock(order);
      if (index === END && this.#pages.scalars[SCALAR_CACHED]! > 0) {
        this.drainCache();
        index = this.#pages.takeBlock(order);
      }
      if (index === END) throw new OutOfMemoryError(`no free block of order ${order} (${pages} pages); ${this.freePages} pages free`, { order, freePages: this.freePages });
    }
    this.#pages.setOrder(index, order);
    this.#pages.setOwner(index, owner);
    this.#pages.setReferences(index, 1);
    this.#pages.setState(index, flags & AllocationFlags.Anonymous ? ALLOCATED | ANONYMOUS : ALLOCATED);
    this.#pages.setCharge(owner, usage[owner]! + pages);
    this.#pages.add(SCALAR_FREE_PAGES, -pages);
    const address = this.#pages.spanBase + index * PAGE_SIZE;
    if (flags & AllocationFlags.Zeroed) {
      const offset = address - this.ram.base;
      this.ram.bytes.fill(0, offset, offset + pages * PAGE_SIZE);
    }
    return address as PhysAddr;
  }

  /** Returns every page of the hot-page cache to the free lists, merging buddies. */
  drainCache(): void {
    while (this.#pages.scalars[SCALAR_CACHED]! > 0) {
      const index = this.#pages.cache[this.#pages.add(SCALAR_CACHED, -1)]!;
      this.#pages.setState(index, INTERIOR);
      this.#pages.add(SCALAR_FREE_PAGES, -1);
      this.#pages.insertFree(index, 0);
    }
  }

  /**
   * Drops `owner`'s reference to the block whose head is `address`. Returns true if the block went
   * back to the free lists, false if address-space mappings still hold it (it then belongs to
   * SHARED_OWNER until they go). Throws InvalidBlockError for a double free, an address that is
   * not a block head, or a block `owner` does not own.
   */
  free(address: number, owner: number): boolean {
    const index = this.#allocatedHead(address, 'free');
    if (this.#pages.state[index]! & ANONYMOUS) {
      throw new InvalidBlockError('NOT_OWNER', `block ${hex(address)} is an address-space frame: unmap it instead of freeing it`, { address, owner });
    }
    if (this.#pages.owner[index] !== owner) {
      throw new InvalidBlockError('NOT_OWNER', `block ${hex(address)} belongs to owner ${this.#pages.owner[index]}, not ${owner}`, { address, owner, actualOwner: this.#pages.owner[index] });
    }
    if (this.#pages.references[index]! > 1) {
      this.#pages.setReferences(index, this.#pages.references[index]! - 1);
      this.#moveUsage(index, SHARED_OWNER);
      return false;
    }
    this.#release(index);
    return true;
  }

  /** Adds a reference to the block holding the page at `address` (any page of it). Returns the block's head. */
  retain(address: number): PhysAddr {
    const index = this.#allocatedBlockOf(address, 'retain');
    this.#pages.setReferences(index, this.#pages.references[index]! + 1);
    return this.#pages.addressOf(index);
  }

  /** Drops a reference to the block holding `address` (any page of it); frees it at zero. Returns true if freed. */
  release(address: number): boolean {
    const index = this.#allocatedBlockOf(address, 'release');
    this.#pages.setReferences(index, this.#pages.references[index]! - 1);
    if (this.#pages.references[index]! > 0) return false;
    this.#release(index);
    return true;
  }

  /** Makes `owner` the owner of the block headed at `address` (its accounting moves too). */
  transfer(address: number, owner: number): void {
    checkOwner(owner);
    const index = this.#allocatedHead(address, 'transfer');
    if (this.#pages.owner[index] !== owner) this.#accounts.checkRoom(owner, 1 << this.#pages.order[index]!);
    this.#moveUsage(index, owner);
  }

  /**
   * Takes exactly the pages [base, base + size) (page aligned) out of the free lists, as
   * naturally aligned blocks owned by `owner` with the RESERVED mark (for reserved memory and
   * KHO-preserved blocks). Limits do not apply. Throws ADDRESS_IN_USE, changing nothing, if any
   * page is not free. Returns the heads of the blocks it made.
   */
  reserve(base: number, size: number, owner: number = KERNEL_OWNER): PhysAddr[] {
    checkOwner(owner);
    const first = this.#pageIndex(base, 'reserve base');
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0 || first + size / PAGE_SIZE > this.#pages.pageCount) {
      throw new InvalidArgumentError(`reserve size ${size} is not a positive whole number of pages inside RAM`, { base, size });
    }
    this.drainCache();
    return this.#takeRange(first, first + size / PAGE_SIZE, owner, ALLOCATED | RESERVED);
  }

  /**
   * Allocates `pages` physically contiguous pages for `owner` starting at a multiple of
   * `alignment` bytes (a power of two, at least a page), as naturally aligned blocks each with
   * one reference (Linux's alloc_contig_pages): for sizes above MAX_PAGE_ORDER or alignments
   * above the size. Lowest fitting address first. Returns the blocks' heads, lowest first (the
   * first is the range's base). Throws OutOfMemoryError or LimitExceededError, changing nothing.
   */
  allocateContiguous(owner: number, pages: number, alignment: number = PAGE_SIZE, flags: number = AllocationFlags.None): PhysAddr[] {
    checkOwner(owner);
    if (!Number.isSafeInteger(pages) || pages <= 0) throw new InvalidArgumentError(`page count must be a positive integer, got ${pages}`, { pages });
    if (!Number.isSafeInteger(alignment) || alignment < PAGE_SIZE || (alignment & (alignment - 1)) !== 0) {
      throw new InvalidArgumentError(`alignment must be a power of two of at least ${PAGE_SIZE}, got ${alignment}`, { alignment });
    }
    if (flags & AllocationFlags.Anonymous) throw new InvalidArgumentError('contiguous ranges cannot be anonymous frames');
    if (pages > this.#pages.scalars[SCALAR_MANAGED_PAGES]!) throw new OutOfMemoryError(`${pages} pages is more than the ${this.#pages.scalars[SCALAR_MANAGED_PAGES]} the allocator manages`, { pages, freePages: this.freePages });
    this.#accounts.checkRoom(owner, pages);
    this.drainCache();
    let found = END;
    let runStart = END;
    let runEnd = END;
    const fits = (): boolean => {
      if (runStart === END) return false;
      const address = this.#pages.addressOf(runStart);
      const first = runStart + (Math.ceil(address / alignment) * alignment - address) / PAGE_SIZE;
      if (first + pages > runEnd) return false;
      found = first;
      return true;
    };
    for (let index = 0; index < this.#pages.pageCount && found === END;) {
      const state = this.#pages.state[index]! & STATE_MASK;
      const size = state === INTERIOR ? 1 : 1 << this.#pages.order[index]!;
      if (state === FREE) {
        if (runEnd !== index) runStart = index;
        runEnd = index + size;
        fits();
      }
      index += size;
    }
    if (found === END) {
      throw new OutOfMemoryError(`no ${pages} contiguous free pages aligned to ${alignment} bytes; ${this.freePages} pages free`, { pages, alignment, freePages: this.freePages });
    }
    const heads = this.#takeRange(found, found + pages, owner, ALLOCATED);
    if (flags & AllocationFlags.Zeroed) this.ram.fill(heads[0]!, pages * PAGE_SIZE, 0);
    return heads;
  }

  /**
   * Reclaims everything `owner` holds: blocks only it references are freed; blocks that
   * mappings still hold lose the owner's reference and move to SHARED_OWNER, as do anonymous
   * frames (which only mappings hold). Destroy the owner's address spaces first, so that what
   * is left mapped is mapped by others. Returns pages freed. `afterEachBlock` runs after each
   * block is dealt with (the memory server commits its journal there).
   */
  freeAll(owner: number, afterEachBlock?: () => void): number {
    checkOwner(owner);
    if (owner === SHARED_OWNER) throw new InvalidArgumentError('SHARED_OWNER holds blocks for their mappings and cannot be reclaimed');
    let freed = 0;
    let index = 0;
    while (index < this.#pages.pageCount && this.#accounts.pages[owner]! > 0) {
      const state = this.#pages.state[index]! & STATE_MASK;
      const size = state === INTERIOR ? 1 : 1 << this.#pages.order[index]!;
      if (state === ALLOCATED && this.#pages.owner[index] === owner) {
        if (this.#pages.state[index]! & ANONYMOUS) {
          this.#moveUsage(index, SHARED_OWNER);
        } else if (this.#pages.references[index]! > 1) {
          this.#pages.setReferences(index, this.#pages.references[index]! - 1);
          this.#moveUsage(index, SHARED_OWNER);
        } else {
          freed += size;
          this.#release(index);
        }
        afterEachBlock?.();
      }
      index += size;
    }
    return freed;
  }

  /** Sets the most pages `owner` may hold (undefined: no limit). Existing blocks are kept. */
  setLimit(owner: number, pages: number | undefined): void {
    this.#accounts.setLimit(owner, pages);
  }

  /** Pages `owner` holds. */
  usageOf(owner: number): number {
    return this.#accounts.pages[owner] ?? 0;
  }

  /** Owner of the allocated block holding `address` (any byte), or -1 if free, unmanaged or not RAM. */
  ownerAt(address: number): number {
    const offset = address - this.#pages.spanBase;
    if (!(offset >= 0 && offset < this.#pages.pageCount * PAGE_SIZE)) return -1;
    const head = this.#pages.headOf(Math.floor(offset / PAGE_SIZE));
    return head >= 0 && (this.#pages.state[head]! & STATE_MASK) === ALLOCATED ? this.#pages.owner[head]! : -1;
  }

  /** The block holding `address` (any byte), or undefined if it is outside the span. */
  blockAt(address: number): BlockInfo | undefined {
    const offset = address - this.#pages.spanBase;
    if (!(offset >= 0 && offset < this.#pages.pageCount * PAGE_SIZE)) return undefined;
    const head = this.#pages.headOf(Math.floor(offset / PAGE_SIZE));
    if (head < 0) throw new Error(`buddy allocator corrupted: no block head for ${hex(address)}`);
    const state = this.#pages.state[head]! & STATE_MASK;
    const allocated = state === ALLOCATED;
    return {
      base: this.#pages.addressOf(head),
      order: this.#pages.order[head]!,
      state: allocated ? 'allocated' : state === FREE || state === CACHED ? 'free' : 'unavailable',
      reserved: (this.#pages.state[head]! & RESERVED) !== 0,
      anonymous: (this.#pages.state[head]! & ANONYMOUS) !== 0,
      owner: allocated ? this.#pages.owner[head]! : -1,
      references: allocated ? this.#pages.references[head]! : 0,
    };
  }

  /** Every block on the free lists (not the hot-page cache: drainCache() first), in address order. */
  freeBlocks(): { base: PhysAddr; order: number }[] {
    const blocks: { base: PhysAddr; order: number }[] = [];
    this.#pages.forEachHead((index, state, order) => {
      if (state === FREE) blocks.push({ base: this.#pages.addressOf(index), order });
    });
    return blocks;
  }

  /** The first page's physical address and the number of pages the allocator spans (managed or not). */
  get span(): { readonly base: PhysAddr; readonly pages: number } {
    return { base: this.#pages.spanBase as PhysAddr, pages: this.#pages.pageCount };
  }

  /**
   * Visits every block in address order with its first page (index in the span), its pages
   * and its owner: an owner id, FREE_BLOCK (free or in the hot cache) or UNAVAILABLE_BLOCK
   * (not managed: a hole, or reserved before the allocator). For the page map. O(blocks).
   */
  visitBlocks(visit: (firstPage: number, pages: number, owner: number) => void): void {
    this.#pages.forEachHead((index, state, order) => {
      visit(index, 1 << order, state === ALLOCATED ? this.#pages.owner[index]! : state === FREE || state === CACHED ? FREE_BLOCK : UNAVAILABLE_BLOCK);
    });
  }

  get freePages(): number {
    return this.#pages.scalars[SCALAR_FREE_PAGES]!;
  }

  buddyInfo(): BuddyInfo {
    let reservedPages = 0;
    this.#pages.forEachHead((index, state, order) => {
      if (state === ALLOCATED && this.#pages.state[index]! & RESERVED) reservedPages += 1 << order;
    });
    const owners: OwnerUsage[] = this.#accounts.list();
    return {
      freeBlocks: Array.from(this.#pages.freeCounts),
      cachedPages: this.#pages.scalars[SCALAR_CACHED]!,
      totalPages: this.#pages.scalars[SCALAR_MANAGED_PAGES]!,
      freePages: this.freePages,
      usedPages: this.#pages.scalars[SCALAR_MANAGED_PAGES]! - this.freePages,
      reservedPages,
      owners,
    };
  }

  /**
   * Verifies every invariant from scratch (block layout, free lists, counts, accounting, full
   * coalescing). Throws an Error naming the first broken one. For tests and debugging: O(pages).
   */
  checkConsistency(): void {
    const fail = (message: string): never => {
      throw new Error(`buddy allocator inconsistent: ${message}`);
    };
    const usage = new Map<number, number>();
    const freeHeads = new Int32Array(MAX_PAGE_ORDER + 1);
    let freePages = 0;
    let managed = 0;
    let cachedPages = 0;
    for (let index = 0; index < this.#pages.pageCount;) {
      const state = this.#pages.state[index]! & STATE_MASK;
      const order = this.#pages.order[index]!;
      if (state === INTERIOR) fail(`page ${index} is interior but starts no block`);
      if (order > MAX_PAGE_ORDER || index % (1 << order) !== 0 || index + (1 << order) > this.#pages.pageCount) fail(`block ${index} order ${order} misaligned or out of span`);
      for (let page = index + 1; page < index + (1 << order); page++) if (this.#pages.state[page] !== INTERIOR) fail(`page ${page} inside block ${index} is not interior`);
      if ((state === UNAVAILABLE || state === CACHED) && order !== 0) fail(`unavailable or cached page ${index} has order ${order}`);
      if (state === CACHED) {
        cachedPages++;
        freePages++;
        managed++;
        if (!this.#pages.cache.subarray(0, this.#pages.scalars[SCALAR_CACHED]).includes(index)) fail(`page ${index} is marked cached but not in the cache`);
      }
      if (state === FREE) {
        freeHeads[order]++;
        freePages += 1 << order;
        managed += 1 << order;
        const buddy = index ^ (1 << order);
        if (order < MAX_PAGE_ORDER && buddy < this.#pages.pageCount && this.#pages.state[buddy] === FREE && this.#pages.order[buddy] === order) fail(`free buddies ${index} and ${buddy} of order ${order} not merged`);
      }
      if (state === ALLOCATED) {
        if (this.#pages.references[index] === 0) fail(`allocated block ${index} has no references`);
        usage.set(this.#pages.owner[index]!, (usage.get(this.#pages.owner[index]!) ?? 0) + (1 << order));
        managed += 1 << order;
      }
      index += 1 << order;
    }
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      let count = 0;
      let previous = END;
      for (let index = this.#pages.heads[order]!; index !== END; index = this.#pages.next[index]!) {
        if (this.#pages.state[index] !== FREE || this.#pages.order[index] !== order) fail(`list ${order} holds ${index} which is not a free block of that order`);
        if (this.#pages.previous[index] !== previous) fail(`list ${order} back link broken at ${index}`);
        previous = index;
        if (++count > this.#pages.pageCount) fail(`list ${order} has a cycle`);
      }
      if (count !== freeHeads[order] || count !== this.#pages.freeCounts[order]) fail(`order ${order}: ${freeHeads[order]} free blocks, ${count} listed, ${this.#pages.freeCounts[order]} counted`);
    }
    const [cached, countedFree, countedManaged] = [this.#pages.scalars[SCALAR_CACHED]!, this.freePages, this.#pages.scalars[SCALAR_MANAGED_PAGES]!];
    if (cachedPages !== cached) fail(`${cachedPages} pages marked cached, cache holds ${cached}`);
    if (freePages !== countedFree) fail(`free pages ${freePages} but counter says ${countedFree}`);
    if (managed !== countedManaged) fail(`managed pages ${managed} but counter says ${countedManaged}`);
    // Charges are unsigned: if every holder is charged exactly and the totals agree, nobody else is charged.
    for (const [owner, pages] of usage) if (pages !== this.#accounts.pages[owner]) fail(`owner ${owner} holds ${pages} pages but is charged ${this.#accounts.pages[owner]}`);
    const charged = this.#accounts.total();
    if (charged !== managed - freePages) fail(`owners are charged ${charged} pages in all, ${managed - freePages} are allocated`);
  }

  // ---- internals ----

  /** Frees the allocated block at `index` (its references are ignored) and merges it with free buddies. */
  #release(index: number): void {
    const order = this.#pages.order[index]!;
    const owner = this.#pages.owner[index]!;
    this.#pages.setCharge(owner, this.#pages.charges[owner]! - (1 << order));
    const cached = this.#pages.scalars[SCALAR_CACHED]!;
    if (order === 0 && cached < HOT_CACHE_PAGES) {
      this.#pages.setCache(cached, index);
      this.#pages.setState(index, CACHED);
      this.#pages.add(SCALAR_CACHED, 1);
      this.#pages.add(SCALAR_FREE_PAGES, 1);
      return;
    }
    this.#pages.setState(index, INTERIOR);
    this.#pages.insertFree(index, order);
  }











  /**
   * Takes pages [first, end) (all free; ADDRESS_IN_USE, changing nothing, otherwise) as
   * naturally aligned blocks in `state`, owned by `owner` with one reference each. Returns heads.
   */
  #takeRange(first: number, end: number, owner: number, state: number): PhysAddr[] {
    const blocks: [number, number][] = [];
    for (let index = first; index < end;) {
      let order = 0;
      while (order < MAX_PAGE_ORDER && (index & ((2 << order) - 1)) === 0 && index + (2 << order) <= end) order++;
      this.#collectFreeBlocks(index, order, blocks);
      index += 1 << order;
    }
    const heads: PhysAddr[] = [];
    for (const [index, order] of blocks) {
      this.#pages.carve(index, order);
      this.#pages.setOwner(index, owner);
      this.#pages.setReferences(index, 1);
      this.#pages.setState(index, state);
      this.#pages.setCharge(owner, this.#pages.charges[owner]! + (1 << order));
      heads.push(this.#pages.addressOf(index));
    }
    return heads;
  }

  /** Appends to `blocks` the free blocks covering [index, index + 2^order); throws ADDRESS_IN_USE if any page is not free. */
  #collectFreeBlocks(index: number, order: number, blocks: [number, number][]): void {
    const head = this.#pages.headOf(index);
    const headState = head >= 0 ? this.#pages.state[head]! & STATE_MASK : UNAVAILABLE;
    if (headState !== FREE) {
      const address = this.#pages.addressOf(index);
      throw new InvalidBlockError('ADDRESS_IN_USE', `page ${hex(address)} is not free (${headState === ALLOCATED ? `owned by ${this.#pages.owner[head]}` : 'not managed'})`, { address });
    }
    if (head + (1 << this.#pages.order[head]!) >= index + (1 << order)) {
      blocks.push([index, order]);
      return;
    }
    // The free block at `index` is smaller than the wanted one: cover each half separately.
    this.#collectFreeBlocks(index, order - 1, blocks);
    this.#collectFreeBlocks(index + (1 << (order - 1)), order - 1, blocks);
  }


  #moveUsage(index: number, owner: number): void {
    const pages = 1 << this.#pages.order[index]!;
    this.#accounts.move(this.#pages.owner[index]!, owner, pages);
    this.#pages.setOwner(index, owner);
  }

  /** Index of the allocated block headed exactly at `address`; typed error otherwise. */
  #allocatedHead(address: number, what: string): number {
    const index = this.#pageIndex(address, `${what} address`);
    const state = this.#pages.state[index]! & STATE_MASK;
    if (state === ALLOCATED) return index;
    if (state === FREE || state === CACHED) throw new InvalidBlockError('DOUBLE_FREE', `${what}: block ${hex(address)} is already free`, { address });
    if (state === UNAVAILABLE) throw new InvalidBlockError('NOT_MANAGED', `${what}: page ${hex(address)} is not managed by the page allocator`, { address });
    const head = this.#pages.headOf(index);
    const headState = this.#pages.state[head]! & STATE_MASK;
    throw new InvalidBlockError('NOT_BLOCK_HEAD', `${what}: ${hex(address)} is inside the ${headState === FREE ? 'free' : 'allocated'} block at ${hex(this.#pages.addressOf(head))}, not its head`, { address, head: this.#pages.addressOf(head) });
  }

  /** Index of the head of the allocated block holding page `address`; typed error otherwise. */
  #allocatedBlockOf(address: number, what: string): number {
    const index = this.#pageIndex(address, `${what} address`);
    const head = this.#pages.headOf(index);
    const state = head >= 0 ? this.#pages.state[head]! & STATE_MASK : UNAVAILABLE;
    if (state === ALLOCATED) return head;
    if (state === FREE || state === CACHED) throw new InvalidBlockError('DOUBLE_FREE', `${what}: page ${hex(address)} is free`, { address });
    throw new InvalidBlockError('NOT_MANAGED', `${what}: page ${hex(address)} is not managed by the page allocator`, { address });
  }

  /**
   * Page index of a page-aligned address inside the span; InvalidArgumentError otherwise. Pages of
   * the span outside RAM are UNAVAILABLE, so callers report them as not managed.
   */
  #pageIndex(address: number, what: string): number {
    const index = (address - this.#pages.spanBase) / PAGE_SIZE;
    if (!(index >= 0 && index < this.#pages.pageCount && (index | 0) === index)) {
      throw new InvalidArgumentError(`${what} ${typeof address === 'number' ? hex(address) : String(address)} is not a page of RAM`, { address: Number(address) });
    }
    return index;
  }


}
