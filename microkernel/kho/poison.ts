// kho_poison: at kexec, fill every page that is not handed over with a pattern, so state a
// server forgot to preserve shows up at once in the next kernel instead of surviving by luck.
//
// Kept: every preserved block (tree walk), every page of the radix tree itself, and the
// caller's extra ranges (the scratch array, the next device tree, ...). The root KHO FDT is
// a preserved block already. Work is one byte per RAM page to mark what is kept, then one
// native fill per unkept run, so the cost is a pass over RAM at fill speed.

import { PAGE_SIZE } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import type { PhysRange } from './page_allocator.js';
import type { KhoRadixTree } from './radix_tree.js';
import { blockSize } from './key.js';

/** POISON_FREE as the slab allocator writes it, repeated: 0x6b6b6b6b. */
export const KHO_POISON_PATTERN = 0x6b6b6b6b;

export interface PoisonResult {
  /** Bytes overwritten with the pattern. */
  readonly poisonedBytes: number;
  /** Number of contiguous runs filled. */
  readonly runs: number;
}

/**
 * Fills all RAM outside the preserved blocks, the tree pages and `keep` with `pattern`
 * (a u32 stored little-endian). Ranges partly outside RAM are clipped; `keep` ranges are
 * widened to whole pages. Throws EUCLEAN (from the walk) if the tree is corrupt, before
 * anything is written.
 */
export function poisonUnpreserved(tree: KhoRadixTree, keep: readonly PhysRange[] = [], pattern = KHO_POISON_PATTERN): PoisonResult {
  const ram: Ram = tree.ram;
  const pages = ram.size / PAGE_SIZE;
  const kept = new Uint8Array(pages);
  const markRange = (start: number, end: number): void => {
    const first = Math.max(0, Math.floor((start - ram.base) / PAGE_SIZE));
    const last = Math.min(pages, Math.ceil((end - ram.base) / PAGE_SIZE));
    if (last > first) kept.fill(1, first, last);
  };
  tree.walk((pa, order) => { markRange(pa, pa + blockSize(order)); });
  tree.forEachPage((pa) => { markRange(pa, pa + PAGE_SIZE); });
  for (const range of keep) markRange(range.start, range.end);

  const words = new Uint32Array(ram.buffer);
  const wordsPerPage = PAGE_SIZE / 4;
  let poisonedBytes = 0;
  let runs = 0;
  let page = kept.indexOf(0);
  while (page >= 0) {
    let end = kept.indexOf(1, page);
    if (end < 0) end = pages;
    words.fill(pattern >>> 0, page * wordsPerPage, end * wordsPerPage);
    poisonedBytes += (end - page) * PAGE_SIZE;
    runs++;
    page = end < pages ? kept.indexOf(0, end) : -1;
  }
  return { poisonedBytes, runs };
}
