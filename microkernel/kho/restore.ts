// The next kernel's per-page KHO bookkeeping: what kho_preserved_memory_reserve writes into
// each preserved head page's page->private ({u32 order; u32 magic 'KHOP'}), and the restore
// calls that consume it (KHO-ABI.md §3 "Next kernel").
//
// baton has no struct page, so the marks live in one byte per RAM page: 0 = no magic,
// order + 1 = magic with that order, RESTORED = magic cleared by a restore (kept distinct
// only to give a clearer error for a second restore). Checks are Linux's: the page must be
// RAM, carry the magic (which also rejects a pa not aligned to its block) and have order
// ≤ MAX_PAGE_ORDER; a restore clears the magic, so a second one fails. restorePages is
// stricter than Linux: every block of the split must carry exactly the split's order
// (Linux silently mis-restores a mismatched range), and nothing is cleared unless all pass.

import { PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { forEachSplitBlock } from './block_split.js';
import { KhoError } from './errors.js';
import { MAX_PAGE_ORDER } from './key.js';
import type { PageAllocator } from './preserve.js';

/** 'KHOP' */
export const KHO_PAGE_MAGIC = 0x4b484f50;

export type RestoreRejection = 'outside-ram' | 'misaligned' | 'not-preserved' | 'already-restored' | 'order-too-large' | 'order-mismatch';

const NO_MAGIC = 0;
const RESTORED = 0xff;

export class KhoRestorer {
  readonly ram: Ram;
  readonly #marks: Uint8Array;
  readonly #allocator: PageAllocator | null;

  /** `allocator` receives the blocks restoreFree gives back. */
  constructor(ram: Ram, allocator: PageAllocator | null = null) {
    this.ram = ram;
    this.#marks = new Uint8Array(ram.size / PAGE_SIZE);
    this.#allocator = allocator;
  }

  /** kho_preserved_memory_reserve's mark: head page of block (pa, order) gets {order, KHOP}. */
  mark(pa: number, order: number): void {
    this.#marks[this.#pageIndex(pa)] = order + 1;
  }

  /** page->private of the page at `pa` as Linux would hold it: order | magic << 32, or 0. */
  pagePrivate(pa: number): bigint {
    const mark = this.#marks[this.#pageIndex(pa)]!;
    if (mark === NO_MAGIC || mark === RESTORED) return 0n;
    return (BigInt(KHO_PAGE_MAGIC) << 32n) | BigInt(mark - 1);
  }

  /** The order marked on the head page at `pa`, or undefined if it carries no magic. */
  markedOrder(pa: number): number | undefined {
    if (!this.ram.contains(pa, PAGE_SIZE) || pa % PAGE_SIZE !== 0) return undefined;
    const mark = this.#marks[this.#pageIndex(pa)]!;
    return mark === NO_MAGIC || mark === RESTORED ? undefined : mark - 1;
  }

  /** kho_restore_folio: takes the folio at `pa` and returns its order. Throws EINVAL (see RestoreRejection). */
  restoreFolio(pa: number): number {
    const order = this.#check(pa);
    this.#marks[this.#pageIndex(pa)] = RESTORED;
    return order;
  }

  /**
   * kho_restore_pages: takes the `count` pages from `pa`, which must have been preserved by
   * preservePages(pa, count). All-or-nothing; throws EINVAL.
   */
  restorePages(pa: number, count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) throw new KhoError('EINVAL', `page count ${count} is not a non-negative integer`);
    if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0) this.#reject(pa, 'misaligned');
    forEachSplitBlock(pa, count, (blockPa, order) => {
      const marked = this.#check(blockPa);
      if (marked !== order) this.#reject(blockPa, 'order-mismatch', `preserved as order ${marked}, the range ${hex(pa)}+${count} pages splits it as order ${order}`);
    });
    forEachSplitBlock(pa, count, (blockPa) => { this.#marks[this.#pageIndex(blockPa)] = RESTORED; });
  }

  /** kho_restore_free: restores the folio at `pa` and frees it to the allocator. */
  restoreFree(pa: number): void {
    if (!this.#allocator) throw new KhoError('EINVAL', 'restoreFree needs an allocator');
    const order = this.restoreFolio(pa);
    this.#allocator.freePages(pa, order);
  }

  #check(pa: number): number {
    if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0) this.#reject(pa, 'misaligned');
    if (!this.ram.contains(pa, PAGE_SIZE)) this.#reject(pa, 'outside-ram');
    const mark = this.#marks[this.#pageIndex(pa)]!;
    if (mark === NO_MAGIC) this.#reject(pa, 'not-preserved', 'no KHO magic: never preserved, or not the head of its block');
    if (mark === RESTORED) this.#reject(pa, 'already-restored');
    const order = mark - 1;
    if (order > MAX_PAGE_ORDER) this.#reject(pa, 'order-too-large', `order ${order} exceeds MAX_PAGE_ORDER ${MAX_PAGE_ORDER}`);
    return order;
  }

  #pageIndex(pa: number): number {
    return (pa - this.ram.base) / PAGE_SIZE;
  }

  #reject(pa: number, reason: RestoreRejection, detail?: string): never {
    const where = Number.isFinite(pa) ? hex(pa) : String(pa);
    throw new KhoError('EINVAL', `cannot restore ${where}: ${reason}${detail ? ` (${detail})` : ''}`, { pa, reason });
  }
}
