// The page-range split of kho_preserve_pages / kho_unpreserve_pages / kho_restore_pages
// (KHO-ABI.md §3): [pfn, pfn + n) is cut greedily into maximal naturally aligned
// power-of-two blocks, order = min(ctz(pfn), floor(log2(end − pfn))).
// E.g. an aligned 1 GiB range is one order-18 block; shifted by 4 KiB it is 19 blocks of
// orders 0, 1, …, 17, 0. Preserve, unpreserve and restore must see the same (start, n).

import { PAGE_SIZE } from '../../hal/address.js';
import { fls } from './key.js';

const TWO_POW_32 = 2 ** 32;

/** Number of trailing zero bits of a positive integer < 2^53 (64 for 0, as the kernel's ctz on pfn 0). */
export function countTrailingZeros(value: number): number {
  if (value === 0) return 64;
  const low = value % TWO_POW_32;
  if (low !== 0) return 31 - Math.clz32(low & -low);
  const high = Math.floor(value / TWO_POW_32);
  return 32 + 31 - Math.clz32(high & -high);
}

/**
 * Calls `visit(pa, order)` for each block of the split of `count` pages from page-aligned
 * `pa`, in ascending address order; stops early and returns false if `visit` returns false.
 */
export function forEachSplitBlock(pa: number, count: number, visit: (pa: number, order: number) => boolean | void): boolean {
  let pfn = pa / PAGE_SIZE;
  const end = pfn + count;
  while (pfn < end) {
    const order = Math.min(countTrailingZeros(pfn), fls(end - pfn) - 1);
    if (visit(pfn * PAGE_SIZE, order) === false) return false;
    pfn += 2 ** order;
  }
  return true;
}

/** The split as a list of blocks. */
export function splitIntoBlocks(pa: number, count: number): { pa: number; order: number }[] {
  const blocks: { pa: number; order: number }[] = [];
  forEachSplitBlock(pa, count, (blockPa, order) => { blocks.push({ pa: blockPa, order }); });
  return blocks;
}
