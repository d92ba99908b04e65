// The next kernel's side of a handover: validate what the previous kernel left in RAM,
// reserve every preserved block, and answer subtree lookups (KHO-ABI.md §3 "Next kernel").
//
// Input is what /chosen carries: linux,kho-fdt = <fdt_pa fdt_size> and
// linux,kho-scratch = <array_pa array_len>. reviveHandover never throws for bad data: it
// returns either the revived handover or the reason revival is disabled (Linux prints
// "disabling KHO revival" and boots without incoming state). It decodes and checks
// everything first — FDT header and compatible "kho-v2", preserved-memory-map (8 bytes,
// non-zero, a RAM page), the scratch array, the whole tree walk, every block inside RAM and
// outside scratch — and only then reserves anything, so a bad handover reserves nothing.

import { hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { FdtError, findChild, getProperty, type Fdt } from '../../hal/fdt/tree.js';
import { KhoError } from './errors.js';
import {
  KHO_FDT_COMPATIBLE, KHO_FDT_MEMORY_MAP_PROP_NAME, KHO_FDT_SUB_TREE_PROP_NAME, listSubtrees, readNativeU64, safeStrings,
  type Subtree,
} from './kho_fdt.js';
import { blockSize } from './key.js';
import { KhoRadixTree } from './radix_tree.js';
import { KhoRestorer } from './restore.js';
import type { PageAllocator } from './preserve.js';
import { readScratchArray, type ScratchArea } from './scratch.js';

/** The two /chosen properties, as numbers. */
export interface HandoverPointers {
  readonly fdtPa: number;
  readonly fdtSize: number;
  readonly scratchPa: number;
  readonly scratchSize: number;
}

export interface ReviveOptions {
  /** memblock_reserve: called for the scratch array, then each preserved block, after validation. */
  reserve?(pa: number, size: number): void;
  /** Where restoreFree returns blocks (the new kernel's page allocator). */
  allocator?: PageAllocator;
}

export type Revival =
  | { readonly revived: true; readonly handover: KhoIncoming }
  | { readonly revived: false; readonly reason: string };

/** Validates the handover at `pointers` and, if sound, reserves and marks every preserved block. */
export function reviveHandover(ram: Ram, pointers: HandoverPointers, options: ReviveOptions = {}): Revival {
  let validated: Validated;
  try {
    validated = validate(ram, pointers);
  } catch (error) {
    if (error instanceof KhoError) return { revived: false, reason: error.message.replace(/^[A-Z0-9]+: /, '') };
    throw error;
  }
  const restorer = new KhoRestorer(ram, options.allocator ?? null);
  options.reserve?.(pointers.scratchPa, pointers.scratchSize);
  const { addresses, orders, count } = validated.blocks;
  for (let index = 0; index < count; index++) {
    options.reserve?.(addresses[index]!, blockSize(orders[index]!));
    restorer.mark(addresses[index]!, orders[index]!);
  }
  return { revived: true, handover: new KhoIncoming(ram, pointers, validated, restorer) };
}

interface BlockList {
  addresses: Float64Array;
  orders: Uint8Array;
  count: number;
}

interface Validated {
  readonly fdt: Fdt;
  readonly treeRootPa: number;
  readonly scratch: ScratchArea[];
  readonly blocks: BlockList;
}

function validate(ram: Ram, pointers: HandoverPointers): Validated {
  const { fdtPa, fdtSize, scratchPa, scratchSize } = pointers;
  if (![fdtPa, fdtSize, scratchPa, scratchSize].every((value) => Number.isSafeInteger(value) && value >= 0)) {
    throw new KhoError('EINVAL', 'handover pointers are not non-negative integers');
  }
  if (fdtSize === 0 || !ram.contains(fdtPa, fdtSize)) throw new KhoError('EINVAL', `failed to map FDT ${hex(fdtPa)}+${fdtSize}: not inside RAM`);
  let fdt: Fdt;
  try {
    fdt = decodeFdt(ram.read(fdtPa, fdtSize));
  } catch (error) {
    if (error instanceof FdtError) throw new KhoError('EINVAL', `handover FDT (${hex(fdtPa)}) is invalid: ${error.message}`);
    throw error;
  }
  const compatible = getProperty(fdt.root, 'compatible');
  if (!compatible || !safeStrings(compatible).includes(KHO_FDT_COMPATIBLE)) {
    const found = compatible ? safeStrings(compatible).join(', ') || 'unreadable' : 'none';
    throw new KhoError('EINVAL', `handover FDT (${hex(fdtPa)}) is incompatible with '${KHO_FDT_COMPATIBLE}' (compatible: ${found})`);
  }
  const memoryMap = getProperty(fdt.root, KHO_FDT_MEMORY_MAP_PROP_NAME);
  if (!memoryMap || memoryMap.length !== 8) throw new KhoError('EINVAL', `failed to get preserved memory map (${KHO_FDT_MEMORY_MAP_PROP_NAME} missing or not 8 bytes)`);
  const treeRootPa = readNativeU64(fdt.root, KHO_FDT_MEMORY_MAP_PROP_NAME);
  if (treeRootPa === 0) throw new KhoError('EINVAL', `${KHO_FDT_MEMORY_MAP_PROP_NAME} is 0`);
  if (treeRootPa === null) throw new KhoError('EINVAL', `${KHO_FDT_MEMORY_MAP_PROP_NAME} is beyond 2^53`);

  const scratch = readScratchArray(ram, scratchPa, scratchSize);
  if (scratch.length === 0) throw new KhoError('EINVAL', `scratch array ${hex(scratchPa)}+${scratchSize} holds no area`);

  const tree = KhoRadixTree.open(ram, treeRootPa);
  const blocks: BlockList = { addresses: new Float64Array(1024), orders: new Uint8Array(1024), count: 0 };
  tree.walk((pa, order) => {
    const size = blockSize(order);
    if (!ram.contains(pa, size)) throw new KhoError('EUCLEAN', `preserved order-${order} block ${hex(pa)} is not inside RAM`);
    for (const area of scratch) {
      if (pa < area.addr + area.size && area.addr < pa + size) {
        throw new KhoError('EUCLEAN', `preserved order-${order} block ${hex(pa)} overlaps scratch area ${hex(area.addr)}+${hex(area.size)}`);
      }
    }
    if (blocks.count === blocks.addresses.length) {
      const addresses = new Float64Array(blocks.count * 2);
      addresses.set(blocks.addresses);
      const orders = new Uint8Array(blocks.count * 2);
      orders.set(blocks.orders);
      blocks.addresses = addresses;
      blocks.orders = orders;
    }
    blocks.addresses[blocks.count] = pa;
    blocks.orders[blocks.count] = order;
    blocks.count++;
  });
  return { fdt, treeRootPa, scratch, blocks };
}

/** A revived handover: the incoming FDT, scratch areas, preserved blocks and restore calls. */
export class KhoIncoming {
  readonly ram: Ram;
  readonly pointers: HandoverPointers;
  readonly fdt: Fdt;
  readonly treeRootPa: number;
  readonly scratchAreas: readonly ScratchArea[];
  /** kho_restore_folio / kho_restore_pages / kho_restore_free. */
  readonly restorer: KhoRestorer;
  readonly #blocks: BlockList;

  /** @internal built by reviveHandover */
  constructor(ram: Ram, pointers: HandoverPointers, validated: Validated, restorer: KhoRestorer) {
    this.ram = ram;
    this.pointers = pointers;
    this.fdt = validated.fdt;
    this.treeRootPa = validated.treeRootPa;
    this.scratchAreas = validated.scratch;
    this.#blocks = validated.blocks;
    this.restorer = restorer;
  }

  /** Number of preserved blocks (keys) in the incoming tree. */
  get blockCount(): number {
    return this.#blocks.count;
  }

  /** Bytes covered by all preserved blocks (overlapping keys counted twice). */
  get preservedBytes(): number {
    let total = 0;
    for (let index = 0; index < this.#blocks.count; index++) total += blockSize(this.#blocks.orders[index]!);
    return total;
  }

  /** Calls `visit` for every preserved block in the tree's ascending key order. */
  forEachBlock(visit: (pa: number, order: number) => void): void {
    for (let index = 0; index < this.#blocks.count; index++) visit(this.#blocks.addresses[index]!, this.#blocks.orders[index]!);
  }

  /** Block counts indexed by order. */
  blockCountsByOrder(): number[] {
    const counts = new Array<number>(53).fill(0);
    for (let index = 0; index < this.#blocks.count; index++) counts[this.#blocks.orders[index]!]!++;
    return counts;
  }

  subtrees(): Subtree[] {
    return listSubtrees(this.fdt.root);
  }

  /**
   * kho_retrieve_subtree: the pa of client `name`'s blob. ENOENT if there is no such child,
   * EINVAL if its preserved-data is missing or not 8 bytes.
   */
  retrieveSubtree(name: string): number {
    const child = findChild(this.fdt.root, name);
    if (!child) throw new KhoError('ENOENT', `no incoming subtree ${JSON.stringify(name)}`);
    const value = getProperty(child, KHO_FDT_SUB_TREE_PROP_NAME);
    if (!value || value.length !== 8) throw new KhoError('EINVAL', `subtree ${name} has no 8-byte ${KHO_FDT_SUB_TREE_PROP_NAME}`);
    const pa = readNativeU64(child, KHO_FDT_SUB_TREE_PROP_NAME);
    if (pa === null) throw new KhoError('EINVAL', `subtree ${name} points beyond 2^53`);
    return pa;
  }

  /** A copy of the incoming FDT blob (debugfs kho/in/fdt). */
  fdtBytes(): Uint8Array {
    return this.ram.read(this.pointers.fdtPa, this.pointers.fdtSize);
  }

  /**
   * A copy of subtree `name`'s blob if it is an FDT inside RAM (debugfs kho/in/sub_fdts/NAME),
   * else null. kho-v2 records no blob size, so only FDT blobs have a known length.
   */
  subtreeFdtBytes(name: string): Uint8Array | null {
    return readFdtBlob(this.ram, this.retrieveSubtree(name));
  }
}

/** kho_retrieve_subtree with Linux's first check: ENOENT when this boot has no incoming handover. */
export function retrieveSubtree(incoming: KhoIncoming | null, name: string): number {
  if (!incoming) throw new KhoError('ENOENT', 'not a KHO boot: no incoming handover');
  return incoming.retrieveSubtree(name);
}

/** The FDT blob at `pa` (totalsize bytes) if one is there and inside RAM, else null. */
export function readFdtBlob(ram: Ram, pa: number): Uint8Array | null {
  if (!ram.contains(pa, 8)) return null;
  const magic = ram.view.getUint32(ram.offset(pa, 4));
  const totalSize = ram.view.getUint32(ram.offset(pa + 4, 4));
  if (magic !== 0xd00dfeed || !ram.contains(pa, totalSize)) return null;
  return ram.read(pa, totalSize);
}
