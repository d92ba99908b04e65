// Per-owner page accounting with optional limits (from the boot manifest).
//
// Owners are small integers: 0 is the kernel (boot-time reservations), 0xffff the pseudo-owner
// of blocks whose owner let go while mappings still hold them, and the ids between name servers.
// The counts live in typed arrays indexed by owner id so that the allocator's hot path reads
// them directly (`pages[owner]`, `limits[owner]`); they are views of the memory server's state
// region (or the heap), and every change is logged in its journal first.

import { InvalidArgumentError, LimitExceededError } from './errors.js';
import { Journal } from './journal.js';

/** Owner of boot-time reservations: kernel data, reserved memory, KHO-preserved blocks until restored. */
export const KERNEL_OWNER = 0;
/** Owner of blocks whose owner let go while address spaces still map them. */
export const SHARED_OWNER = 0xffff;
export const MAXIMUM_OWNER = 0xffff;
/** `limits[owner]` of an owner without a limit. */
export const NO_LIMIT = 0xffff_ffff;

export interface OwnerUsage {
  readonly owner: number;
  readonly pages: number;
  readonly limit: number | undefined;
}

export function isOwner(owner: number): boolean {
  return owner >= 0 && owner <= MAXIMUM_OWNER && (owner | 0) === owner;
}

/** Throws InvalidArgumentError unless `owner` is an owner id. */
export function checkOwner(owner: number): void {
  if (!isOwner(owner)) throw new InvalidArgumentError(`owner must be an integer 0..${MAXIMUM_OWNER}, got ${owner}`, { owner: Number(owner) });
}

export class OwnerAccounts {
  /** Pages charged to each owner. */
  readonly pages: Uint32Array;
  /** Most pages each owner may hold (NO_LIMIT: unlimited). */
  readonly limits: Uint32Array;
  readonly #journal: Journal;

  /** Accounts kept in `pages` and `limits` (MAXIMUM_OWNER + 1 entries each), changed through `journal`. */
  constructor(pages: Uint32Array = new Uint32Array(MAXIMUM_OWNER + 1), limits: Uint32Array = new Uint32Array(MAXIMUM_OWNER + 1).fill(NO_LIMIT), journal: Journal = Journal.disabled()) {
    this.pages = pages;
    this.limits = limits;
    this.#journal = journal;
  }

  /** Nothing charged, no limits. */
  reset(): void {
    this.pages.fill(0);
    this.limits.fill(NO_LIMIT);
  }

  /** The error for `owner` asking for `requested` more pages than its limit allows. */
  limitExceeded(owner: number, requested: number): LimitExceededError {
    return new LimitExceededError(`owner ${owner} would exceed its limit of ${this.limits[owner]} pages (holds ${this.pages[owner]}, asks ${requested})`, {
      owner,
      limit: this.limits[owner],
      pages: this.pages[owner],
      requested,
    });
  }

  /** Throws LimitExceededError if `owner` may not take `requested` more pages. */
  checkRoom(owner: number, requested: number): void {
    if (this.pages[owner]! + requested > this.limits[owner]!) throw this.limitExceeded(owner, requested);
  }

  /** Sets the most pages `owner` may hold (undefined: no limit). What it holds already is kept. */
  setLimit(owner: number, pages: number | undefined): void {
    checkOwner(owner);
    if (pages !== undefined && !(Number.isSafeInteger(pages) && pages >= 0 && pages < NO_LIMIT)) {
      throw new InvalidArgumentError(`limit must be a non-negative page count, got ${pages}`, { pages });
    }
    this.#journal.record(this.limits, owner);
    this.limits[owner] = pages ?? NO_LIMIT;
  }

  move(from: number, to: number, pages: number): void {
    this.#journal.record(this.pages, from);
    this.pages[from] -= pages;
    this.#journal.record(this.pages, to);
    this.pages[to] += pages;
  }

  /** Pages charged to all owners together. */
  total(): number {
    let sum = 0;
    const pages = this.pages;
    for (let owner = 0; owner <= MAXIMUM_OWNER; owner++) sum += pages[owner]!;
    return sum;
  }

  /** Owners that hold pages or have a limit, by id. */
  list(): OwnerUsage[] {
    const owners: OwnerUsage[] = [];
    for (let owner = 0; owner <= MAXIMUM_OWNER; owner++) {
      const limit = this.limits[owner]!;
      if (this.pages[owner]! > 0 || limit !== NO_LIMIT) owners.push({ owner, pages: this.pages[owner]!, limit: limit === NO_LIMIT ? undefined : limit });
    }
    return owners;
  }
}
