// The boot-time memory plan: which RAM the kernel and board occupy, where the KHO scratch
// areas are, and — on a kexec with KHO — which preserved blocks must not be touched.
//
// As in Linux's early boot (memblock + kho_populate + kho_memory_init): the incoming
// handover is validated and every preserved block reserved before any page is handed out;
// bad KHO data disables revival with a message and the system boots anyway. On a first
// boot the scratch areas are sized from kho_scratch= (default 200% of what the kernel
// reserved) and kept free of preserved memory, for the next kernel to boot in.
//
// The memory server's state region (memoryStateBytes of RAM) is reserved here too and handed
// to every generation of the memory server, so a restarted one reattaches to it. A first boot
// puts it in the lowest free RAM, before the scratch areas are sized (they count it, so the
// next kernel has room for its own); a KHO boot puts it at the top of an incoming scratch
// area, the only RAM no preserved block can be in, above the image and device tree the
// previous kernel loaded at the area's start. The region itself is not handed over: after a
// kexec the new memory server starts afresh from the KHO handover.

import { PAGE_SIZE, hex } from '../hal/address.js';
import { formatSize } from '../hal/size_text.js';
import type { BoardTreeSummary } from '../hal/devicetree.js';
import { fdtRead } from '../hal/fdt/values.js';
import type { Ram } from '../hal/ram.js';
import { KERNEL_IMAGE_SIZE } from '../hal/kernel_entry.js';
import { DmaPool, type PageRange } from './dma_pool.js';
import type { MemoryRegion } from './memory_text.js';
import { memoryStateBytes } from '../ipc/interfaces/memory_state.js';
import { parseKhoBootargs, type KhoBootOptions } from './kho/bootargs.js';
import { reviveHandover, type HandoverPointers } from './kho/incoming.js';
import { placeScratchAreas, scratchSizes, ARCH_LOW_ADDRESS_LIMIT, type ScratchArea } from './kho/scratch.js';

export interface BootMemory {
  readonly regions: MemoryRegion[];
  readonly pool: DmaPool;
  readonly kho: KhoBootOptions;
  readonly scratch: readonly ScratchArea[];
  /** The incoming handover, when this boot revived one. */
  readonly handover: { readonly pointers: HandoverPointers; readonly blocks: number; readonly bytes: number } | undefined;
  /** The memory server's state region (undefined if RAM has no room for it: the memory server cannot then restart). */
  readonly memoryState: { readonly base: number; readonly size: number } | undefined;
}

export const MEMORY_STATE_PURPOSE = 'memory server state';

export interface BootMemoryInputs {
  readonly ram: Ram;
  readonly board: BoardTreeSummary;
  readonly deviceTree: { readonly address: number; readonly size: number };
  readonly initrd: { readonly start: number; readonly end: number };
  print(line: string): void;
}

export const PRESERVED_OWNER = 'kho-preserved';

export function planBootMemory(inputs: BootMemoryInputs): BootMemory {
  const { ram, board, print } = inputs;
  const regions: MemoryRegion[] = [
    { base: ram.base, size: KERNEL_IMAGE_SIZE, purpose: 'kernel image' },
    { base: inputs.deviceTree.address, size: roundUpPage(inputs.deviceTree.size), purpose: 'device tree blob' },
    { base: inputs.initrd.start, size: roundUpPage(inputs.initrd.end - inputs.initrd.start), purpose: 'initrd (initramfs)' },
    ...board.memoryReservations.map((reservation) => ({ base: reservation.address, size: reservation.size, purpose: '/memreserve/' })),
    ...board.reservedMemory.map((region) => ({ base: region.base, size: region.size, purpose: `reserved-memory ${region.name}` })),
  ];
  const kho = parseKhoBootargs(board.bootargs, true);
  for (const error of kho.errors) print(`KHO: ${error}`);

  const preserved: Array<[number, number]> = [];
  let handover: BootMemory['handover'];
  let scratch: ScratchArea[] = [];
  const pointers = incomingPointers(board);
  if (pointers && kho.enabled) {
    const revival = reviveHandover(ram, pointers, { reserve: (pa, size) => void preserved.push([pa, size]) });
    if (revival.revived) {
      scratch = [...revival.handover.scratchAreas];
      handover = { pointers, blocks: revival.handover.blockCount, bytes: revival.handover.preservedBytes };
      print(`KHO: incoming handover at ${hex(pointers.fdtPa)}: ${handover.blocks} preserved blocks, ${formatSize(handover.bytes)} reserved`);
    } else {
      preserved.length = 0;
      print(`KHO: disabling KHO revival: ${revival.reason}`);
    }
  }
  const memoryState = placeMemoryState(ram, regions, scratch, preserved);
  if (memoryState) regions.push({ ...memoryState, purpose: MEMORY_STATE_PURPOSE });
  else print(`memory: no room for the memory server's ${formatSize(memoryStateBytes(ram.base, ram.size))} state region: it cannot restart`);
  if (kho.enabled && scratch.length === 0) {
    const reservedBytes = regions.reduce((total, region) => total + region.size, 0);
    try {
      const sizes = scratchSizes(kho.scratch, { total: reservedBytes, belowLowLimit: reservedBytes });
      scratch = placeScratchAreas(sizes, subtract([{ start: ram.base, end: ram.end }], regions.map(asRange)), ARCH_LOW_ADDRESS_LIMIT)
        .filter((area) => area.size > 0);
      if (kho.scratchArgument !== undefined) print(`KHO: ${scratchReport(kho.scratchArgument, scratch, ram.size)}`);
    } catch (error) {
      print(`KHO: disabled: ${(error as Error).message}${kho.scratchArgument !== undefined ? ` (${kho.scratchArgument})` : ''}`);
    }
  }
  scratch.forEach((area, index) => regions.push({ base: area.addr, size: area.size, purpose: `KHO scratch ${index}` }));

  const free = subtract([{ start: ram.base, end: ram.end }], [...regions.map(asRange)]);
  const pool = new DmaPool(ram, free);
  for (const [pa, size] of preserved) pool.reserve(pa, size, PRESERVED_OWNER);
  return { regions, pool, kho, scratch, handover, memoryState };
}

/**
 * Where the memory server's state goes: the top of an incoming scratch area (a KHO boot),
 * else the lowest free RAM; never over a region or a preserved block.
 */
function placeMemoryState(ram: Ram, regions: readonly MemoryRegion[], incomingScratch: readonly ScratchArea[], preserved: readonly [number, number][]): { base: number; size: number } | undefined {
  const size = memoryStateBytes(ram.base, ram.size);
  const taken = [...regions.map(asRange), ...preserved.map(([pa, bytes]) => ({ start: pa, end: pa + bytes }))];
  const inScratch = subtract(incomingScratch.map((area) => ({ start: area.addr, end: area.addr + area.size })), taken);
  const top = inScratch
    .map((range) => Math.floor((range.end - size) / PAGE_SIZE) * PAGE_SIZE)
    .filter((base, index) => base >= inScratch[index]!.start)
    .sort((a, b) => b - a)[0];
  if (top !== undefined) return { base: top, size };
  const lowest = subtract([{ start: ram.base, end: ram.end }], taken)
    .map((range) => ({ start: Math.ceil(range.start / PAGE_SIZE) * PAGE_SIZE, end: range.end }))
    .find((range) => range.end - range.start >= size);
  return lowest ? { base: lowest.start, size } : undefined;
}

/**
 * What an explicit kho_scratch= did: the areas it gave and their share of RAM, as a warning
 * when they keep more than a quarter of RAM from the page allocator (scratch is reserved).
 */
export function scratchReport(argument: string, areas: readonly ScratchArea[], ramSize: number): string {
  const total = areas.reduce((sum, area) => sum + area.size, 0);
  const share = `${areas.length} scratch areas of ${formatSize(total)} in all, ${Math.round((total / ramSize) * 100)}% of RAM`;
  return total > ramSize / 4
    ? `warning: ${argument}: ${share}, all of it kept from the page allocator (try a smaller kho_scratch)`
    : `${argument}: ${share}`;
}

/** /chosen linux,kho-fdt = <addr size> and linux,kho-scratch = <addr len>, in the root's cells. */
function incomingPointers(board: BoardTreeSummary): HandoverPointers | undefined {
  const fdt = board.chosen['linux,kho-fdt'];
  const scratch = board.chosen['linux,kho-scratch'];
  if (!fdt || !scratch || fdt.length !== 16 || scratch.length !== 16) return undefined;
  const [fdtCell] = fdtRead.cells(fdt, 2, 2);
  const [scratchCell] = fdtRead.cells(scratch, 2, 2);
  if (!fdtCell || !scratchCell) return undefined;
  return { fdtPa: Number(fdtCell.address), fdtSize: Number(fdtCell.size), scratchPa: Number(scratchCell.address), scratchSize: Number(scratchCell.size) };
}

function asRange(region: MemoryRegion): PageRange {
  return { start: region.base, end: region.base + region.size };
}

/** `from` minus every range of `remove`. */
export function subtract(from: readonly PageRange[], remove: readonly PageRange[]): PageRange[] {
  let result = [...from];
  for (const cut of remove) {
    result = result.flatMap((range) => {
      if (cut.end <= range.start || cut.start >= range.end) return [range];
      return [{ start: range.start, end: cut.start }, { start: cut.end, end: range.end }].filter((part) => part.end > part.start);
    });
  }
  return result;
}

function roundUpPage(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}
