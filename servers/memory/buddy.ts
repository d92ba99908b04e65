// The buddy page allocator: 4 KiB pages in power-of-two blocks of order 0..MAX_PAGE_ORDER.
//
// As in Linux's mm/page_alloc.c, a block of order k is 2^k pages aligned to 2^k pages (by
// physical page number, so an order-10 block is a 4 MiB-aligned Sv32 megapage). Allocation takes
// the smallest free block of at least the wanted order and splits it, putting the upper halves
// on the free lists; freeing merges a block with its buddy (the block at index ^ 2^k) while the
// buddy is free and of the same order.
//
// Per-page metadata lives in typed arrays indexed by page number minus the first page of the
// span (the span starts 4 MiB-aligned so index alignment equals physical alignment). Only a
// block's first page (its head) carries a state; every other page of a block is INTERIOR (0),
// which lets `#headOf` find the block holding any page in at most 11 probes:
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
import type { Journal } from './journal.js';
import { KERNEL_OWNER, MAXIMUM_OWNER, OwnerAccounts, type OwnerUsage, SHARED_OWNER, checkOwner } from './owner_accounts.js';
import { type AllocatorStorage, HOT_CACHE_CAPACITY, SCALAR_CACHED, SCALAR_FREE_PAGES, SCALAR_MANAGED_PAGES, heapStorage } from './state_region.js';

export const MAX_PAGE_ORDER = 10;
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

const INTERIOR = 0;
const FREE = 1;
const ALLOCATED = 2;
const UNAVAILABLE = 3;
/** A free order-0 page parked in the hot-page cache instead of the free lists. */
const CACHED = 4;
const STATE_MASK = 7;
const RESERVED = 8;
const ANONYMOUS = 16;
const END = -1;
const SPAN_ALIGNMENT_PAGES = 1 << MAX_PAGE_ORDER;
/** Order-0 pages kept out of the free lists for quick reuse (Linux's per-CPU page lists). */
export const HOT_CACHE_PAGES = HOT_CACHE_CAPACITY;

export type BlockState = 'free' | 'allocated' | 'unavailable';

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
  /** Physical address of page index 0 (4 MiB-aligned, at or below RAM's base). */
  readonly #spanBase: number;
  readonly #pageCount: number;
  readonly #state: Uint8Array;
  readonly #order: Uint8Array;
  readonly #owner: Uint16Array;
  readonly #references: Uint32Array;
  readonly #next: Int32Array;
  readonly #previous: Int32Array;
  readonly #heads: Int32Array;
  readonly #freeCounts: Int32Array;
  readonly #cache: Int32Array;
  /** [hot-cache length, free pages, managed pages] (SCALAR_*). */
  readonly #scalars: Int32Array;
  readonly #accounts: OwnerAccounts;
  /** The accounts' per-owner page counts, held directly for the hot paths. */
  readonly #charges: Uint32Array;
  /** Each array's byteOffset in the buffer, for the journal. */
  readonly #stateAt: number;
  readonly #orderAt: number;
  readonly #ownerAt: number;
  readonly #referencesAt: number;
  readonly #nextAt: number;
  readonly #previousAt: number;
  readonly #headsAt: number;
  readonly #freeCountsAt: number;
  readonly #cacheAt: number;
  readonly #scalarsAt: number;
  readonly #chargesAt: number;
  /** Logs every word before it changes (state region), or nothing (heap). */
  readonly #journal: Journal;

  /**
   * An allocator over all of `ram` with no free memory yet: give it ranges with addFreeRange().
   * Its records go in `storage` (a formatted state region's, or the heap by default); with
   * `attach` they are the ones a previous generation left there, kept as they are.
   */
  constructor(ram: Ram, storage?: AllocatorStorage, attach = false) {
    this.ram = ram;
    const firstPage = Math.floor(ram.base / PAGE_SIZE);
    const spanFirstPage = firstPage - (firstPage % SPAN_ALIGNMENT_PAGES);
    this.#spanBase = spanFirstPage * PAGE_SIZE;
    this.#pageCount = Math.ceil(ram.end / PAGE_SIZE) - spanFirstPage;
    const store = storage ?? heapStorage(this.#pageCount);
    if (store.pageCount !== this.#pageCount) throw new InvalidArgumentError(`allocator storage covers ${store.pageCount} pages, RAM needs ${this.#pageCount}`);
    this.#state = store.state;
    this.#order = store.order;
    this.#owner = store.owner;
    this.#references = store.references;
    this.#next = store.next;
    this.#previous = store.previous;
    this.#heads = store.heads;
    this.#freeCounts = store.freeCounts;
    this.#cache = store.cache;
    this.#scalars = store.scalars;
    this.#journal = store.journal;
    this.#accounts = new OwnerAccounts(store.charges, store.limits, store.journal);
    this.#charges = store.charges;
    this.#stateAt = store.state.byteOffset;
    this.#orderAt = store.order.byteOffset;
    this.#ownerAt = store.owner.byteOffset;
    this.#referencesAt = store.references.byteOffset;
    this.#nextAt = store.next.byteOffset;
    this.#previousAt = store.previous.byteOffset;
    this.#headsAt = store.heads.byteOffset;
    this.#freeCountsAt = store.freeCounts.byteOffset;
    this.#cacheAt = store.cache.byteOffset;
    this.#scalarsAt = store.scalars.byteOffset;
    this.#chargesAt = store.charges.byteOffset;
    if (attach) return;
    this.#state.fill(UNAVAILABLE);
    this.#order.fill(0);
    this.#owner.fill(0);
    this.#references.fill(0);
    this.#next.fill(END);
    this.#previous.fill(END);
    this.#heads.fill(END);
    this.#freeCounts.fill(0);
    this.#scalars.fill(0);
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
      if (this.#state[index] !== UNAVAILABLE) {
        throw new InvalidBlockError('ADDRESS_IN_USE', `page ${hex(this.#addressOf(index))} is already managed by the page allocator`, { address: this.#addressOf(index) });
      }
    }
    let index = first;
    while (index < end) {
      let order = 0;
      while (order < MAX_PAGE_ORDER && (index & ((2 << order) - 1)) === 0 && index + (2 << order) <= end) order++;
      for (let page = index; page < index + (1 << order); page++) this.#set8(this.#state, this.#stateAt, page, INTERIOR);
      this.#add(SCALAR_MANAGED_PAGES, 1 << order);
      this.#insertFree(index, order);
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
    const usage = this.#charges;
    if (usage[owner]! + pages > this.#accounts.limits[owner]!) throw this.#accounts.limitExceeded(owner, pages);
    let index: number;
    if (order === 0 && this.#scalars[SCALAR_CACHED]! > 0) {
      index = this.#cache[this.#add(SCALAR_CACHED, -1)]!;
    } else {
      index = this.#takeBlock(order);
      if (index === END && this.#scalars[SCALAR_CACHED]! > 0) {
        this.drainCache();
        index = this.#takeBlock(order);
      }
      if (index === END) throw new OutOfMemoryError(`no free block of order ${order} (${pages} pages); ${this.freePages} pages free`, { order, freePages: this.freePages });
    }
    this.#set8(this.#order, this.#orderAt, index, order);
    this.#set16(this.#owner, this.#ownerAt, index, owner);
    this.#setU32(this.#references, this.#referencesAt, index, 1);
    this.#set8(this.#state, this.#stateAt, index, flags & AllocationFlags.Anonymous ? ALLOCATED | ANONYMOUS : ALLOCATED);
    this.#setU32(usage, this.#chargesAt, owner, usage[owner]! + pages);
    this.#add(SCALAR_FREE_PAGES, -pages);
    const address = this.#spanBase + index * PAGE_SIZE;
    if (flags & AllocationFlags.Zeroed) {
      const offset = address - this.ram.base;
      this.ram.bytes.fill(0, offset, offset + pages * PAGE_SIZE);
    }
    return address as PhysAddr;
  }

  /** Returns every page of the hot-page cache to the free lists, merging buddies. */
  drainCache(): void {
    while (this.#scalars[SCALAR_CACHED]! > 0) {
      const index = this.#cache[this.#add(SCALAR_CACHED, -1)]!;
      this.#set8(this.#state, this.#stateAt, index, INTERIOR);
      this.#add(SCALAR_FREE_PAGES, -1);
      this.#insertFree(index, 0);
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
    if (this.#state[index]! & ANONYMOUS) {
      throw new InvalidBlockError('NOT_OWNER', `block ${hex(address)} is an address-space frame: unmap it instead of freeing it`, { address, owner });
    }
    if (this.#owner[index] !== owner) {
      throw new InvalidBlockError('NOT_OWNER', `block ${hex(address)} belongs to owner ${this.#owner[index]}, not ${owner}`, { address, owner, actualOwner: this.#owner[index] });
    }
    if (this.#references[index]! > 1) {
      this.#setU32(this.#references, this.#referencesAt, index, this.#references[index]! - 1);
      this.#moveUsage(index, SHARED_OWNER);
      return false;
    }
    this.#release(index);
    return true;
  }

  /** Adds a reference to the block holding the page at `address` (any page of it). Returns the block's head. */
  retain(address: number): PhysAddr {
    const index = this.#allocatedBlockOf(address, 'retain');
    this.#setU32(this.#references, this.#referencesAt, index, this.#references[index]! + 1);
    return this.#addressOf(index);
  }

  /** Drops a reference to the block holding `address` (any page of it); frees it at zero. Returns true if freed. */
  release(address: number): boolean {
    const index = this.#allocatedBlockOf(address, 'release');
    this.#setU32(this.#references, this.#referencesAt, index, this.#references[index]! - 1);
    if (this.#references[index]! > 0) return false;
    this.#release(index);
    return true;
  }

  /** Makes `owner` the owner of the block headed at `address` (its accounting moves too). */
  transfer(address: number, owner: number): void {
    checkOwner(owner);
    const index = this.#allocatedHead(address, 'transfer');
    if (this.#owner[index] !== owner) this.#accounts.checkRoom(owner, 1 << this.#order[index]!);
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
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0 || first + size / PAGE_SIZE > this.#pageCount) {
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
    if (pages > this.#scalars[SCALAR_MANAGED_PAGES]!) throw new OutOfMemoryError(`${pages} pages is more than the ${this.#scalars[SCALAR_MANAGED_PAGES]} the allocator manages`, { pages, freePages: this.freePages });
    this.#accounts.checkRoom(owner, pages);
    this.drainCache();
    let found = END;
    let runStart = END;
    let runEnd = END;
    const fits = (): boolean => {
      if (runStart === END) return false;
      const address = this.#addressOf(runStart);
      const first = runStart + (Math.ceil(address / alignment) * alignment - address) / PAGE_SIZE;
      if (first + pages > runEnd) return false;
      found = first;
      return true;
    };
    for (let index = 0; index < this.#pageCount && found === END;) {
      const state = this.#state[index]! & STATE_MASK;
      const size = state === INTERIOR ? 1 : 1 << this.#order[index]!;
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
    while (index < this.#pageCount && this.#accounts.pages[owner]! > 0) {
      const state = this.#state[index]! & STATE_MASK;
      const size = state === INTERIOR ? 1 : 1 << this.#order[index]!;
      if (state === ALLOCATED && this.#owner[index] === owner) {
        if (this.#state[index]! & ANONYMOUS) {
          this.#moveUsage(index, SHARED_OWNER);
        } else if (this.#references[index]! > 1) {
          this.#setU32(this.#references, this.#referencesAt, index, this.#references[index]! - 1);
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
    const offset = address - this.#spanBase;
    if (!(offset >= 0 && offset < this.#pageCount * PAGE_SIZE)) return -1;
    const head = this.#headOf(Math.floor(offset / PAGE_SIZE));
    return head >= 0 && (this.#state[head]! & STATE_MASK) === ALLOCATED ? this.#owner[head]! : -1;
  }

  /** The block holding `address` (any byte), or undefined if it is outside the span. */
  blockAt(address: number): BlockInfo | undefined {
    const offset = address - this.#spanBase;
    if (!(offset >= 0 && offset < this.#pageCount * PAGE_SIZE)) return undefined;
    const head = this.#headOf(Math.floor(offset / PAGE_SIZE));
    if (head < 0) throw new Error(`buddy allocator corrupted: no block head for ${hex(address)}`);
    const state = this.#state[head]! & STATE_MASK;
    const allocated = state === ALLOCATED;
    return {
      base: this.#addressOf(head),
      order: this.#order[head]!,
      state: allocated ? 'allocated' : state === FREE || state === CACHED ? 'free' : 'unavailable',
      reserved: (this.#state[head]! & RESERVED) !== 0,
      anonymous: (this.#state[head]! & ANONYMOUS) !== 0,
      owner: allocated ? this.#owner[head]! : -1,
      references: allocated ? this.#references[head]! : 0,
    };
  }

  /** Every block on the free lists (not the hot-page cache: drainCache() first), in address order. */
  freeBlocks(): { base: PhysAddr; order: number }[] {
    const blocks: { base: PhysAddr; order: number }[] = [];
    this.#forEachHead((index, state, order) => {
      if (state === FREE) blocks.push({ base: this.#addressOf(index), order });
    });
    return blocks;
  }

  get freePages(): number {
    return this.#scalars[SCALAR_FREE_PAGES]!;
  }

  buddyInfo(): BuddyInfo {
    let reservedPages = 0;
    this.#forEachHead((index, state, order) => {
      if (state === ALLOCATED && this.#state[index]! & RESERVED) reservedPages += 1 << order;
    });
    const owners: OwnerUsage[] = this.#accounts.list();
    return {
      freeBlocks: Array.from(this.#freeCounts),
      cachedPages: this.#scalars[SCALAR_CACHED]!,
      totalPages: this.#scalars[SCALAR_MANAGED_PAGES]!,
      freePages: this.freePages,
      usedPages: this.#scalars[SCALAR_MANAGED_PAGES]! - this.freePages,
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
    for (let index = 0; index < this.#pageCount;) {
      const state = this.#state[index]! & STATE_MASK;
      const order = this.#order[index]!;
      if (state === INTERIOR) fail(`page ${index} is interior but starts no block`);
      if (order > MAX_PAGE_ORDER || index % (1 << order) !== 0 || index + (1 << order) > this.#pageCount) fail(`block ${index} order ${order} misaligned or out of span`);
      for (let page = index + 1; page < index + (1 << order); page++) if (this.#state[page] !== INTERIOR) fail(`page ${page} inside block ${index} is not interior`);
      if ((state === UNAVAILABLE || state === CACHED) && order !== 0) fail(`unavailable or cached page ${index} has order ${order}`);
      if (state === CACHED) {
        cachedPages++;
        freePages++;
        managed++;
        if (!this.#cache.subarray(0, this.#scalars[SCALAR_CACHED]).includes(index)) fail(`page ${index} is marked cached but not in the cache`);
      }
      if (state === FREE) {
        freeHeads[order]++;
        freePages += 1 << order;
        managed += 1 << order;
        const buddy = index ^ (1 << order);
        if (order < MAX_PAGE_ORDER && buddy < this.#pageCount && this.#state[buddy] === FREE && this.#order[buddy] === order) fail(`free buddies ${index} and ${buddy} of order ${order} not merged`);
      }
      if (state === ALLOCATED) {
        if (this.#references[index] === 0) fail(`allocated block ${index} has no references`);
        usage.set(this.#owner[index]!, (usage.get(this.#owner[index]!) ?? 0) + (1 << order));
        managed += 1 << order;
      }
      index += 1 << order;
    }
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      let count = 0;
      let previous = END;
      for (let index = this.#heads[order]!; index !== END; index = this.#next[index]!) {
        if (this.#state[index] !== FREE || this.#order[index] !== order) fail(`list ${order} holds ${index} which is not a free block of that order`);
        if (this.#previous[index] !== previous) fail(`list ${order} back link broken at ${index}`);
        previous = index;
        if (++count > this.#pageCount) fail(`list ${order} has a cycle`);
      }
      if (count !== freeHeads[order] || count !== this.#freeCounts[order]) fail(`order ${order}: ${freeHeads[order]} free blocks, ${count} listed, ${this.#freeCounts[order]} counted`);
    }
    const [cached, countedFree, countedManaged] = [this.#scalars[SCALAR_CACHED]!, this.freePages, this.#scalars[SCALAR_MANAGED_PAGES]!];
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
    const order = this.#order[index]!;
    const owner = this.#owner[index]!;
    this.#setU32(this.#charges, this.#chargesAt, owner, this.#charges[owner]! - (1 << order));
    const cached = this.#scalars[SCALAR_CACHED]!;
    if (order === 0 && cached < HOT_CACHE_PAGES) {
      this.#setI32(this.#cache, this.#cacheAt, cached, index);
      this.#set8(this.#state, this.#stateAt, index, CACHED);
      this.#add(SCALAR_CACHED, 1);
      this.#add(SCALAR_FREE_PAGES, 1);
      return;
    }
    this.#set8(this.#state, this.#stateAt, index, INTERIOR);
    this.#insertFree(index, order);
  }

  /**
   * Takes a free block of exactly `order` off the free lists, splitting the smallest larger one;
   * returns its index, or END if no list holds a block large enough.
   */
  #takeBlock(order: number): number {
    const heads = this.#heads;
    let current = order;
    while (current <= MAX_PAGE_ORDER && heads[current] === END) current++;
    if (current > MAX_PAGE_ORDER) return END;
    // Pop the list head, then split: every list between `order` and `current` is empty, so each
    // upper half becomes the only block on its list.
    const index = heads[current]!;
    const following = this.#next[index]!;
    this.#setI32(heads, this.#headsAt, current, following);
    if (following !== END) this.#setI32(this.#previous, this.#previousAt, following, END);
    this.#setI32(this.#freeCounts, this.#freeCountsAt, current, this.#freeCounts[current]! - 1);
    while (current > order) {
      current--;
      const buddy = index + (1 << current);
      this.#set8(this.#order, this.#orderAt, buddy, current);
      this.#setI32(this.#next, this.#nextAt, buddy, END);
      this.#setI32(this.#previous, this.#previousAt, buddy, END);
      this.#set8(this.#state, this.#stateAt, buddy, FREE);
      this.#setI32(heads, this.#headsAt, current, buddy);
      this.#setI32(this.#freeCounts, this.#freeCountsAt, current, this.#freeCounts[current]! + 1);
    }
    return index;
  }

  /** Adds free pages [index, index + 2^order) (state of the head not yet FREE) and merges upwards. */
  #insertFree(index: number, order: number): void {
    const state = this.#state;
    const orders = this.#order;
    const count = this.#pageCount;
    this.#add(SCALAR_FREE_PAGES, 1 << order);
    while (order < MAX_PAGE_ORDER) {
      const buddy = index ^ (1 << order);
      if (buddy >= count || state[buddy] !== FREE || orders[buddy] !== order) break;
      this.#unlink(buddy, order);
      this.#set8(state, this.#stateAt, buddy, INTERIOR);
      this.#set8(state, this.#stateAt, index, INTERIOR);
      index &= ~(1 << order);
      order++;
    }
    this.#set8(orders, this.#orderAt, index, order);
    this.#set8(state, this.#stateAt, index, FREE);
    this.#push(index, order);
  }

  #push(index: number, order: number): void {
    const head = this.#heads[order]!;
    this.#setI32(this.#next, this.#nextAt, index, head);
    this.#setI32(this.#previous, this.#previousAt, index, END);
    if (head !== END) this.#setI32(this.#previous, this.#previousAt, head, index);
    this.#setI32(this.#heads, this.#headsAt, order, index);
    this.#setI32(this.#freeCounts, this.#freeCountsAt, order, this.#freeCounts[order]! + 1);
  }

  #unlink(index: number, order: number): void {
    const next = this.#next[index]!;
    const previous = this.#previous[index]!;
    if (previous !== END) this.#setI32(this.#next, this.#nextAt, previous, next);
    else this.#setI32(this.#heads, this.#headsAt, order, next);
    if (next !== END) this.#setI32(this.#previous, this.#previousAt, next, previous);
    this.#setI32(this.#freeCounts, this.#freeCountsAt, order, this.#freeCounts[order]! - 1);
  }

  // Each writes `array[index] = value`, logging the old value in the journal first (one per
  // element type, so every call site stays monomorphic; `at` is the array's byteOffset, read
  // once: the typed-array getter is not inlined and would cost more than the rest).
  #set8(array: Uint8Array, at: number, index: number, value: number): void {
    this.#journal.record8(array, at, index);
    array[index] = value;
  }

  #set16(array: Uint16Array, at: number, index: number, value: number): void {
    this.#journal.record16(array, at, index);
    array[index] = value;
  }

  #setU32(array: Uint32Array, at: number, index: number, value: number): void {
    this.#journal.recordU32(array, at, index);
    array[index] = value;
  }

  #setI32(array: Int32Array, at: number, index: number, value: number): void {
    this.#journal.recordI32(array, at, index);
    array[index] = value;
  }

  /** Adds `delta` to scalar `which` (journaled); returns the new value. */
  #add(which: number, delta: number): number {
    const value = this.#scalars[which]! + delta;
    this.#setI32(this.#scalars, this.#scalarsAt, which, value);
    return value;
  }

  /** Head index of the block holding page `index`, or -1 (only if the metadata is corrupted). */
  #headOf(index: number): number {
    const state = this.#state;
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const head = index & ~((1 << order) - 1);
      if (state[head] !== INTERIOR) return index - head < 1 << this.#order[head]! ? head : -1;
    }
    return -1;
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
      this.#carve(index, order);
      this.#set16(this.#owner, this.#ownerAt, index, owner);
      this.#setU32(this.#references, this.#referencesAt, index, 1);
      this.#set8(this.#state, this.#stateAt, index, state);
      this.#setU32(this.#charges, this.#chargesAt, owner, this.#charges[owner]! + (1 << order));
      heads.push(this.#addressOf(index));
    }
    return heads;
  }

  /** Appends to `blocks` the free blocks covering [index, index + 2^order); throws ADDRESS_IN_USE if any page is not free. */
  #collectFreeBlocks(index: number, order: number, blocks: [number, number][]): void {
    const head = this.#headOf(index);
    const headState = head >= 0 ? this.#state[head]! & STATE_MASK : UNAVAILABLE;
    if (headState !== FREE) {
      const address = this.#addressOf(index);
      throw new InvalidBlockError('ADDRESS_IN_USE', `page ${hex(address)} is not free (${headState === ALLOCATED ? `owned by ${this.#owner[head]}` : 'not managed'})`, { address });
    }
    if (head + (1 << this.#order[head]!) >= index + (1 << order)) {
      blocks.push([index, order]);
      return;
    }
    // The free block at `index` is smaller than the wanted one: cover each half separately.
    this.#collectFreeBlocks(index, order - 1, blocks);
    this.#collectFreeBlocks(index + (1 << (order - 1)), order - 1, blocks);
  }

  /** Isolates the block [index, 2^order) out of the free block containing it, which must exist. */
  #carve(index: number, order: number): void {
    let head = this.#headOf(index);
    let current = this.#order[head]!;
    this.#unlink(head, current);
    this.#add(SCALAR_FREE_PAGES, -(1 << current));
    while (current > order) {
      current--;
      const upper = head + (1 << current);
      const give = index >= upper ? head : upper;
      this.#set8(this.#order, this.#orderAt, give, current);
      this.#set8(this.#state, this.#stateAt, give, FREE);
      this.#push(give, current);
      this.#add(SCALAR_FREE_PAGES, 1 << current);
      if (give === head) head = upper;
    }
    this.#set8(this.#order, this.#orderAt, head, order);
  }

  #moveUsage(index: number, owner: number): void {
    const pages = 1 << this.#order[index]!;
    this.#accounts.move(this.#owner[index]!, owner, pages);
    this.#set16(this.#owner, this.#ownerAt, index, owner);
  }

  /** Index of the allocated block headed exactly at `address`; typed error otherwise. */
  #allocatedHead(address: number, what: string): number {
    const index = this.#pageIndex(address, `${what} address`);
    const state = this.#state[index]! & STATE_MASK;
    if (state === ALLOCATED) return index;
    if (state === FREE || state === CACHED) throw new InvalidBlockError('DOUBLE_FREE', `${what}: block ${hex(address)} is already free`, { address });
    if (state === UNAVAILABLE) throw new InvalidBlockError('NOT_MANAGED', `${what}: page ${hex(address)} is not managed by the page allocator`, { address });
    const head = this.#headOf(index);
    const headState = this.#state[head]! & STATE_MASK;
    throw new InvalidBlockError('NOT_BLOCK_HEAD', `${what}: ${hex(address)} is inside the ${headState === FREE ? 'free' : 'allocated'} block at ${hex(this.#addressOf(head))}, not its head`, { address, head: this.#addressOf(head) });
  }

  /** Index of the head of the allocated block holding page `address`; typed error otherwise. */
  #allocatedBlockOf(address: number, what: string): number {
    const index = this.#pageIndex(address, `${what} address`);
    const head = this.#headOf(index);
    const state = head >= 0 ? this.#state[head]! & STATE_MASK : UNAVAILABLE;
    if (state === ALLOCATED) return head;
    if (state === FREE || state === CACHED) throw new InvalidBlockError('DOUBLE_FREE', `${what}: page ${hex(address)} is free`, { address });
    throw new InvalidBlockError('NOT_MANAGED', `${what}: page ${hex(address)} is not managed by the page allocator`, { address });
  }

  /**
   * Page index of a page-aligned address inside the span; InvalidArgumentError otherwise. Pages of
   * the span outside RAM are UNAVAILABLE, so callers report them as not managed.
   */
  #pageIndex(address: number, what: string): number {
    const index = (address - this.#spanBase) / PAGE_SIZE;
    if (!(index >= 0 && index < this.#pageCount && (index | 0) === index)) {
      throw new InvalidArgumentError(`${what} ${typeof address === 'number' ? hex(address) : String(address)} is not a page of RAM`, { address: Number(address) });
    }
    return index;
  }

  #addressOf(index: number): PhysAddr {
    return (this.#spanBase + index * PAGE_SIZE) as PhysAddr;
  }

  #forEachHead(visit: (index: number, state: number, order: number) => void): void {
    for (let index = 0; index < this.#pageCount;) {
      const state = this.#state[index]! & STATE_MASK;
      const order = state === INTERIOR ? 0 : this.#order[index]!;
      if (state !== INTERIOR) visit(index, state, order);
      index += 1 << order;
    }
  }
}
