// A translation cache (TLB) for code that executes in Sv32 address spaces.
//
// Keyed by (address space id, virtual page number): a direct-mapped array for 4 KiB leaves and a
// smaller one for 4 MiB megapage leaves (keyed by VPN[1]), both in typed arrays. An entry caches
// the leaf PTE, not a verdict: every lookup re-runs the permission, A and D checks on the cached
// PTE, so a cached translation answers exactly as a page walk would as long as the tables have
// not changed since. Faults are never cached. Whoever changes a PTE must invalidate, with the
// semantics of sfence.vma:
//
//   invalidatePage(space, va)   sfence.vma va, asid: the entry for va's page and any megapage
//                               entry covering va, in that space
//   invalidateSpace(space)      sfence.vma x0, asid: every entry of the space (global ones too,
//                               which is allowed: dropping more than required is always safe)
//   invalidateAll()             sfence.vma x0, x0

import { type Access, type PrivilegeMode, type TranslateOptions, checkLeaf, leafPhysical } from './sv32.js';

/** Returned by lookup() when there is no usable cached entry. */
export const MISS = -1;

const EMPTY = -1;
const NO_OPTIONS: TranslateOptions = {};

export interface CacheStatistics {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly megapageEntries: number;
}

export class TranslationCache {
  readonly #mask: number;
  readonly #space: Int32Array;
  readonly #page: Int32Array;
  readonly #pte: Uint32Array;
  readonly #megaMask: number;
  readonly #megaSpace: Int32Array;
  readonly #megaPage: Int32Array;
  readonly #megaPte: Uint32Array;
  #hits = 0;
  #misses = 0;

  /** `entries` and `megapageEntries` are rounded up to powers of two. */
  constructor(entries = 4096, megapageEntries = 256) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(1, entries)));
    const megaSize = 2 ** Math.ceil(Math.log2(Math.max(1, megapageEntries)));
    this.#mask = size - 1;
    this.#space = new Int32Array(size).fill(EMPTY);
    this.#page = new Int32Array(size);
    this.#pte = new Uint32Array(size);
    this.#megaMask = megaSize - 1;
    this.#megaSpace = new Int32Array(megaSize).fill(EMPTY);
    this.#megaPage = new Int32Array(megaSize);
    this.#megaPte = new Uint32Array(megaSize);
  }

  /** The physical address for `va` if a cached leaf allows the access, else MISS (walk the tables). */
  lookup(space: number, va: number, access: Access, mode: PrivilegeMode, options: TranslateOptions = NO_OPTIONS): number {
    const page = va >>> 12;
    const slot = (Math.imul(space, 0x9e3779b1) ^ page) & this.#mask;
    if (this.#space[slot] === space && this.#page[slot] === page) {
      const pte = this.#pte[slot]!;
      if (checkLeaf(pte, 0, access, mode, options) === undefined) {
        this.#hits++;
        return leafPhysical(pte, 0, va);
      }
    } else {
      const megapage = va >>> 22;
      const megaSlot = (Math.imul(space, 0x9e3779b1) ^ megapage) & this.#megaMask;
      if (this.#megaSpace[megaSlot] === space && this.#megaPage[megaSlot] === megapage) {
        const pte = this.#megaPte[megaSlot]!;
        if (checkLeaf(pte, 1, access, mode, options) === undefined) {
          this.#hits++;
          return leafPhysical(pte, 1, va);
        }
      }
    }
    this.#misses++;
    return MISS;
  }

  /** Caches the leaf `pte` found at `level` (0: 4 KiB page, 1: megapage) for `va`, replacing what shared its slot. */
  insert(space: number, va: number, pte: number, level: number): void {
    if (level === 1) {
      const megapage = va >>> 22;
      const slot = (Math.imul(space, 0x9e3779b1) ^ megapage) & this.#megaMask;
      this.#megaSpace[slot] = space;
      this.#megaPage[slot] = megapage;
      this.#megaPte[slot] = pte;
      return;
    }
    const page = va >>> 12;
    const slot = (Math.imul(space, 0x9e3779b1) ^ page) & this.#mask;
    this.#space[slot] = space;
    this.#page[slot] = page;
    this.#pte[slot] = pte;
  }

  /** sfence.vma va, asid. */
  invalidatePage(space: number, va: number): void {
    const page = va >>> 12;
    const slot = (Math.imul(space, 0x9e3779b1) ^ page) & this.#mask;
    if (this.#space[slot] === space && this.#page[slot] === page) this.#space[slot] = EMPTY;
    const megapage = va >>> 22;
    const megaSlot = (Math.imul(space, 0x9e3779b1) ^ megapage) & this.#megaMask;
    if (this.#megaSpace[megaSlot] === space && this.#megaPage[megaSlot] === megapage) this.#megaSpace[megaSlot] = EMPTY;
  }

  /** sfence.vma x0, asid. */
  invalidateSpace(space: number): void {
    for (let slot = 0; slot <= this.#mask; slot++) if (this.#space[slot] === space) this.#space[slot] = EMPTY;
    for (let slot = 0; slot <= this.#megaMask; slot++) if (this.#megaSpace[slot] === space) this.#megaSpace[slot] = EMPTY;
  }

  /** sfence.vma x0, x0. */
  invalidateAll(): void {
    this.#space.fill(EMPTY);
    this.#megaSpace.fill(EMPTY);
  }

  statistics(): CacheStatistics {
    let entries = 0;
    let megapageEntries = 0;
    for (const space of this.#space) if (space !== EMPTY) entries++;
    for (const space of this.#megaSpace) if (space !== EMPTY) megapageEntries++;
    return { hits: this.#hits, misses: this.#misses, entries, megapageEntries };
  }
}
