// A KHO boot: take every block the previous kernel preserved out of the page allocator
// before anything is allocated (KHO-ABI.md §3 "Next kernel"; Linux's kho_memory_init).
//
// reviveHandover (microkernel/kho/incoming.ts) validates the whole handover first and only
// then calls back for the scratch array and each preserved block; this module turns each
// callback into a page allocator reservation owned by the preserved-state owner ("kho"),
// so the blocks are never handed out and reclaiming any other server never frees them.
// The incoming radix tree's own pages are reserved too: Linux reads the tree once in early
// boot and lets its pages go, but baton's KHO server walks it again when it starts, so they
// stay with the KHO owner. FIXME: an operation for the KHO server to release them.
// A page that is already out of the allocator (the kernel reserved it, or an earlier key
// covered it) is counted, not an error. A handover that fails validation reserves nothing:
// revival is disabled, with the reason, and the boot goes on without incoming state.

import { PAGE_SIZE } from '../../hal/address.js';
import { IpcError } from '../../ipc/errors.js';
import { reviveHandover, type HandoverPointers, type KhoIncoming } from '../../microkernel/kho/incoming.js';
import { KhoRadixTree } from '../../microkernel/kho/radix_tree.js';
import { formatSize } from '../../hal/size_text.js';
import type { PhysicalRange } from './memory_map.js';
import type { MemoryServer } from './memory_server.js';

/** Preserved ranges (merged) beyond this are summarised in `mem` instead of listed in the map. */
const MAXIMUM_PAINTED_RANGES = 1024;
export const PRESERVED_PURPOSE = 'KHO preserved';
export const SCRATCH_ARRAY_PURPOSE = 'KHO scratch array';
export const TREE_PURPOSE = 'KHO incoming radix tree';

export type HandoverRevival =
  | {
      readonly revived: true;
      readonly handover: KhoIncoming;
      /** Preserved blocks (keys) in the incoming tree, and the bytes they cover. */
      readonly blocks: number;
      readonly preservedBytes: number;
      /** Pages taken out of the page allocator now (blocks, scratch array, tree pages). */
      readonly reservedPages: number;
      /** Pages of the incoming radix tree (kept for the KHO server). */
      readonly treePages: number;
      /** Pages of preserved blocks that were already out of the allocator. */
      readonly unavailablePages: number;
    }
  | { readonly revived: false; readonly reason: string };

/**
 * Validates the handover at `pointers` and reserves its scratch array and every preserved
 * block for `owner` in `memory`. Never throws for a bad handover: returns the reason instead.
 * Must run before `memory` serves any allocation.
 */
export function reserveHandover(memory: MemoryServer, pointers: HandoverPointers, owner: number): HandoverRevival {
  const reservedRanges: PhysicalRange[] = [];
  let reservedPages = 0;
  let unavailablePages = 0;
  const reserve = (pa: number, size: number): void => {
    const base = Math.floor(pa / PAGE_SIZE) * PAGE_SIZE;
    const length = Math.ceil((pa + size) / PAGE_SIZE) * PAGE_SIZE - base;
    if (length === 0) return;
    reservedRanges.push({ base, size: length });
    try {
      memory.reserve(base, length, owner);
      reservedPages += length / PAGE_SIZE;
      return;
    } catch (error) {
      if (!(error instanceof IpcError)) throw error;
    }
    // Part of it is out of the allocator already: take the pages that are still free.
    for (let page = base; page < base + length; page += PAGE_SIZE) {
      if (memory.buddy.blockAt(page)?.state === 'free') {
        memory.reserve(page, PAGE_SIZE, owner);
        reservedPages++;
      } else {
        unavailablePages++;
      }
    }
  };
  const revival = reviveHandover(memory.ram, pointers, { reserve });
  if (!revival.revived) return revival;
  const { handover } = revival;
  const [scratchArray, ...blocks] = reservedRanges.splice(0);
  // Validated by the walk above: every table page is a page of RAM.
  KhoRadixTree.open(memory.ram, handover.treeRootPa).forEachPage((pa) => reserve(pa, PAGE_SIZE));
  const treePages = reservedRanges.length;

  // The map shows the scratch array, the preserved blocks and the tree (merged) with their purpose.
  if (scratchArray) memory.memoryMap.reserve(scratchArray, SCRATCH_ARRAY_PURPOSE);
  for (const [ranges, purpose] of [[blocks, PRESERVED_PURPOSE], [reservedRanges, TREE_PURPOSE]] as const) {
    const merged = mergeRanges(ranges);
    if (merged.length <= MAXIMUM_PAINTED_RANGES) for (const range of merged) memory.memoryMap.reserve(range, purpose);
  }
  return { revived: true, handover, blocks: handover.blockCount, preservedBytes: handover.preservedBytes, reservedPages, treePages, unavailablePages };
}

/** One line for the log and `mem`. */
export function describeRevival(revival: HandoverRevival, ownerName: string): string {
  if (!revival.revived) return `KHO handover: revival disabled: ${revival.reason}`;
  const unavailable = revival.unavailablePages ? ` (${revival.unavailablePages} ${revival.unavailablePages === 1 ? 'page was' : 'pages were'} already out of it)` : '';
  return `KHO handover: ${revival.blocks} preserved blocks (${formatSize(revival.preservedBytes)}) reserved for ${ownerName}, ` +
    `with the scratch array and ${revival.treePages} radix tree pages: ${revival.reservedPages} pages taken out of the page allocator${unavailable}`;
}

function mergeRanges(ranges: readonly PhysicalRange[]): PhysicalRange[] {
  const sorted = [...ranges].sort((a, b) => a.base - b.base);
  const merged: { base: number; size: number }[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.base <= last.base + last.size) last.size = Math.max(last.size, range.base + range.size - last.base);
    else merged.push({ base: range.base, size: range.size });
  }
  return merged;
}
