// The buddy allocator's records of every page and its free lists (buddy.ts has the
// allocator: what it hands out to whom, and the checks).
//
// Per-page metadata lives in typed arrays indexed by page number minus the first page of the
// span (4 MiB-aligned, so index alignment equals physical alignment), in the storage the
// allocator was given (state_region.ts: a RAM region that outlives a generation, or the heap).
// Only a block's first page (its head) carries a state; every other page of a block is INTERIOR.
// Every write goes through a setter that logs the old value in the journal first, so a
// generation that dies mid-operation is rolled back by the next one. The free lists are
// intrusive doubly linked lists per order (next/previous at free heads, END ends a list);
// takeBlock splits, insertFree merges with free buddies, carve cuts one block out of a free one.

import { type PhysAddr, PAGE_SIZE } from '../../hal/address.js';
import type { Journal } from './journal.js';
import { type AllocatorStorage, SCALAR_FREE_PAGES } from './state_region.js';

export const MAX_PAGE_ORDER = 10;

export const INTERIOR = 0;
export const FREE = 1;
export const ALLOCATED = 2;
export const UNAVAILABLE = 3;
/** A free order-0 page parked in the hot-page cache instead of the free lists. */
export const CACHED = 4;
export const STATE_MASK = 7;
export const RESERVED = 8;
export const ANONYMOUS = 16;
export const END = -1;
export const SPAN_ALIGNMENT_PAGES = 1 << MAX_PAGE_ORDER;

/** The records, read directly by the allocator; written only through the setters below. */
export class PageRecords {
  /** Physical address of page index 0 (4 MiB-aligned, at or below RAM's base). */
  readonly spanBase: number;
  readonly pageCount: number;
  readonly state: Uint8Array;
  readonly order: Uint8Array;
  readonly owner: Uint16Array;
  readonly references: Uint32Array;
  readonly next: Int32Array;
  readonly previous: Int32Array;
  readonly heads: Int32Array;
  readonly freeCounts: Int32Array;
  readonly cache: Int32Array;
  /** [hot-cache length, free pages, managed pages] (SCALAR_*). */
  readonly scalars: Int32Array;
  /** The owner accounts' per-owner page counts, held directly for the hot paths. */
  readonly charges: Uint32Array;
  /** Each array's byteOffset in the buffer, for the journal (read once: the getter is not inlined). */
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

  constructor(store: AllocatorStorage, spanBase: number) {
    this.spanBase = spanBase;
    this.pageCount = store.pageCount;
    this.state = store.state;
    this.order = store.order;
    this.owner = store.owner;
    this.references = store.references;
    this.next = store.next;
    this.previous = store.previous;
    this.heads = store.heads;
    this.freeCounts = store.freeCounts;
    this.cache = store.cache;
    this.scalars = store.scalars;
    this.charges = store.charges;
    this.#journal = store.journal;
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
  }

  /** Every page unavailable, every list empty, every count zero (a fresh allocator; not journaled). */
  reset(): void {
    this.state.fill(UNAVAILABLE);
    this.order.fill(0);
    this.owner.fill(0);
    this.references.fill(0);
    this.next.fill(END);
    this.previous.fill(END);
    this.heads.fill(END);
    this.freeCounts.fill(0);
    this.scalars.fill(0);
  }

  // Each writes one record, logging its old value in the journal first (one per array, so
  // every call site stays monomorphic).
  setState(index: number, value: number): void {
    this.#journal.record8(this.state, this.#stateAt, index);
    this.state[index] = value;
  }

  setOrder(index: number, value: number): void {
    this.#journal.record8(this.order, this.#orderAt, index);
    this.order[index] = value;
  }

  setOwner(index: number, value: number): void {
    this.#journal.record16(this.owner, this.#ownerAt, index);
    this.owner[index] = value;
  }

  setReferences(index: number, value: number): void {
    this.#journal.recordU32(this.references, this.#referencesAt, index);
    this.references[index] = value;
  }

  setCharge(owner: number, value: number): void {
    this.#journal.recordU32(this.charges, this.#chargesAt, owner);
    this.charges[owner] = value;
  }

  setNext(index: number, value: number): void {
    this.#journal.recordI32(this.next, this.#nextAt, index);
    this.next[index] = value;
  }

  setPrevious(index: number, value: number): void {
    this.#journal.recordI32(this.previous, this.#previousAt, index);
    this.previous[index] = value;
  }

  setHead(order: number, value: number): void {
    this.#journal.recordI32(this.heads, this.#headsAt, order);
    this.heads[order] = value;
  }

  setFreeCount(order: number, value: number): void {
    this.#journal.recordI32(this.freeCounts, this.#freeCountsAt, order);
    this.freeCounts[order] = value;
  }

  setCache(slot: number, value: number): void {
    this.#journal.recordI32(this.cache, this.#cacheAt, slot);
    this.cache[slot] = value;
  }

  setScalar(which: number, value: number): void {
    this.#journal.recordI32(this.scalars, this.#scalarsAt, which);
    this.scalars[which] = value;
  }

  /**
   * Takes a free block of exactly `order` off the free lists, splitting the smallest larger one;
   * returns its index, or END if no list holds a block large enough.
   */
  takeBlock(order: number): number {
    const heads = this.heads;
    let current = order;
    while (current <= MAX_PAGE_ORDER && heads[current] === END) current++;
    if (current > MAX_PAGE_ORDER) return END;
    // Pop the list head, then split: every list between `order` and `current` is empty, so each
    // upper half becomes the only block on its list.
    const index = heads[current]!;
    const following = this.next[index]!;
    this.setHead(current, following);
    if (following !== END) this.setPrevious(following, END);
    this.setFreeCount(current, this.freeCounts[current]! - 1);
    while (current > order) {
      current--;
      const buddy = index + (1 << current);
      this.setOrder(buddy, current);
      this.setNext(buddy, END);
      this.setPrevious(buddy, END);
      this.setState(buddy, FREE);
      this.setHead(current, buddy);
      this.setFreeCount(current, this.freeCounts[current]! + 1);
    }
    return index;
  }

  /** Adds free pages [index, index + 2^order) (state of the head not yet FREE) and merges upwards. */
  insertFree(index: number, order: number): void {
    const state = this.state;
    const orders = this.order;
    const count = this.pageCount;
    this.add(SCALAR_FREE_PAGES, 1 << order);
    while (order < MAX_PAGE_ORDER) {
      const buddy = index ^ (1 << order);
      if (buddy >= count || state[buddy] !== FREE || orders[buddy] !== order) break;
      this.unlink(buddy, order);
      this.setState(buddy, INTERIOR);
      this.setState(index, INTERIOR);
      index &= ~(1 << order);
      order++;
    }
    this.setOrder(index, order);
    this.setState(index, FREE);
    this.push(index, order);
  }

  push(index: number, order: number): void {
    const head = this.heads[order]!;
    this.setNext(index, head);
    this.setPrevious(index, END);
    if (head !== END) this.setPrevious(head, index);
    this.setHead(order, index);
    this.setFreeCount(order, this.freeCounts[order]! + 1);
  }

  unlink(index: number, order: number): void {
    const next = this.next[index]!;
    const previous = this.previous[index]!;
    if (previous !== END) this.setNext(previous, next);
    else this.setHead(order, next);
    if (next !== END) this.setPrevious(next, previous);
    this.setFreeCount(order, this.freeCounts[order]! - 1);
  }

  /** Adds `delta` to scalar `which` (journaled); returns the new value. */
  add(which: number, delta: number): number {
    const value = this.scalars[which]! + delta;
    this.setScalar(which, value);
    return value;
  }

  /** Head index of the block holding page `index`, or -1 (only if the metadata is corrupted). */
  headOf(index: number): number {
    const state = this.state;
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const head = index & ~((1 << order) - 1);
      if (state[head] !== INTERIOR) return index - head < 1 << this.order[head]! ? head : -1;
    }
    return -1;
  }

  /** Isolates the block [index, 2^order) out of the free block containing it, which must exist. */
  carve(index: number, order: number): void {
    let head = this.headOf(index);
    let current = this.order[head]!;
    this.unlink(head, current);
    this.add(SCALAR_FREE_PAGES, -(1 << current));
    while (current > order) {
      current--;
      const upper = head + (1 << current);
      const give = index >= upper ? head : upper;
      this.setOrder(give, current);
      this.setState(give, FREE);
      this.push(give, current);
      this.add(SCALAR_FREE_PAGES, 1 << current);
      if (give === head) head = upper;
    }
    this.setOrder(head, order);
  }

  addressOf(index: number): PhysAddr {
    return (this.spanBase + index * PAGE_SIZE) as PhysAddr;
  }

  forEachHead(visit: (index: number, state: number, order: number) => void): void {
    for (let index = 0; index < this.pageCount;) {
      const state = this.state[index]! & STATE_MASK;
      const order = state === INTERIOR ? 0 : this.order[index]!;
      if (state !== INTERIOR) visit(index, state, order);
      index += 1 << order;
    }
  }
}
