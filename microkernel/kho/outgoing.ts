// The outgoing side as one object: radix tree + preservation API + root KHO FDT, and the
// last step before kexec (scratch array, optional poison, the /chosen pointers).
//
// create() is kho_init: a zeroed root page, then the FDT page via allocPreserve(PAGE_SIZE).
// open() reattaches to the same state from the FDT's address alone, which is all a
// restarted KHO server needs (the tree root is read from preserved-memory-map).

import { hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { KhoError } from './errors.js';
import type { HandoverPointers } from './incoming.js';
import { KHO_FDT_SIZE, KhoOutgoingFdt } from './kho_fdt.js';
import type { PhysRange } from './page_allocator.js';
import { poisonUnpreserved, type PoisonResult } from './poison.js';
import { KhoPreserver, type PageAllocator } from './preserve.js';
import { KhoRadixTree, type TablePageSource } from './radix_tree.js';
import { SCRATCH_ENTRY_SIZE, placeScratchArray, writeScratchArray, type ScratchArea } from './scratch.js';

export interface HandoverOptions {
  /** Fill every page not handed over with the poison pattern (bootarg kho_poison). */
  readonly poison?: boolean;
  /** Ranges the scratch array must avoid and poison must keep (e.g. the next device tree). */
  readonly keep?: readonly PhysRange[];
}

export interface PreparedHandover {
  readonly pointers: HandoverPointers;
  readonly poison: PoisonResult | null;
}

function pageSource(allocator: PageAllocator): TablePageSource {
  return { allocatePage: () => allocator.allocatePages(0), freePage: (pa) => allocator.freePages(pa, 0) };
}

export class KhoOutgoing {
  readonly ram: Ram;
  readonly tree: KhoRadixTree;
  readonly preserver: KhoPreserver;
  readonly fdt: KhoOutgoingFdt;

  private constructor(tree: KhoRadixTree, preserver: KhoPreserver, fdt: KhoOutgoingFdt) {
    this.ram = tree.ram;
    this.tree = tree;
    this.preserver = preserver;
    this.fdt = fdt;
  }

  /**
   * kho_init: a new tree and FDT. `allocator` must never hand out scratch pages (Linux's
   * unmovable allocations never land in the CMA scratch). Throws ENOMEM.
   */
  static create(ram: Ram, allocator: PageAllocator, scratch: readonly ScratchArea[]): KhoOutgoing {
    const tree = KhoRadixTree.create(ram, pageSource(allocator));
    const preserver = new KhoPreserver(tree, allocator, scratch);
    return new KhoOutgoing(tree, preserver, KhoOutgoingFdt.create(preserver));
  }

  /** Reattaches to the outgoing state whose root FDT is at `fdtPa`. Throws EUCLEAN if it is not one. */
  static open(ram: Ram, fdtPa: number, allocator: PageAllocator, scratch: readonly ScratchArea[]): KhoOutgoing {
    const fdt = KhoOutgoingFdt.open(ram, fdtPa);
    const tree = KhoRadixTree.open(ram, fdt.treeRootPa, pageSource(allocator));
    return new KhoOutgoing(tree, new KhoPreserver(tree, allocator, scratch), fdt);
  }

  get scratchAreas(): readonly ScratchArea[] {
    return this.preserver.scratchAreas;
  }

  /**
   * kho_fill_kimage and friends: writes the scratch array top-down, 64 KiB aligned, into
   * scratch; optionally poisons every page not handed over; returns the values for /chosen.
   */
  prepareHandover(options: HandoverOptions = {}): PreparedHandover {
    const keep = options.keep ?? [];
    const areas = this.scratchAreas;
    if (areas.length === 0) throw new KhoError('EINVAL', 'no scratch areas: the next kernel would have nowhere to boot');
    const length = areas.length * SCRATCH_ENTRY_SIZE;
    const scratchPa = placeScratchArray(areas, length, keep);
    writeScratchArray(this.ram, scratchPa, areas);
    const poison = options.poison ? poisonUnpreserved(this.tree, [...keep, { start: scratchPa, end: scratchPa + length }]) : null;
    return { pointers: { fdtPa: this.fdt.pa, fdtSize: KHO_FDT_SIZE, scratchPa, scratchSize: length }, poison };
  }

  /** One line for boot logs. */
  describe(): string {
    return `KHO: tree root ${hex(this.tree.rootPa)}, FDT ${hex(this.fdt.pa)}, ${this.scratchAreas.length} scratch areas`;
  }
}
