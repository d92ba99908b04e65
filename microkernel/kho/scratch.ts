// Scratch areas (KHO-ABI.md §4): contiguous RAM that holds no preserved page, where the
// next kernel is loaded and makes all its early allocations.
//
// Linux allocates nr_memory_nodes + 2 areas: lowmem (below ARCH_LOW_ADDRESS_LIMIT), global,
// and one per NUMA node. baton's board has one memory node (one RAM region), so it has
// three areas, in this order: [lowmem, global, node 0]. ARCH_LOW_ADDRESS_LIMIT is 4 GiB
// (as x86-64 and arm64), so on a board whose RAM ends at or below 4 GiB "global" comes out
// as 0 bytes under the default scale, exactly as on a small x86 VM; a zero-size area is
// kept in the array (Linux does too) and placed at the top of RAM.
//
// Sizes: scale (default 200 %) × what the kernel reserved at boot, rounded up to
// CMA_MIN_ALIGNMENT_BYTES (one 2 MiB pageblock), or explicit via kho_scratch=L,G,N.
// Placement is memblock's default, top-down: each area goes as high as it fits, aligned.
// In RAM the array is `struct kho_scratch { u64 addr; u64 size; }` × n, little-endian.

import { hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { KhoError } from './errors.js';
import type { PhysRange } from './page_allocator.js';

export interface ScratchArea {
  readonly addr: number;
  readonly size: number;
}

export const SCRATCH_ENTRY_SIZE = 16;
/** CMA_MIN_ALIGNMENT_BYTES: one pageblock (order 9, 2 MiB). */
export const SCRATCH_ALIGNMENT = 2 * 1024 * 1024;
/** ARCH_LOW_ADDRESS_LIMIT: the lowmem area lies below this address. */
export const ARCH_LOW_ADDRESS_LIMIT = 2 ** 32;
export const DEFAULT_SCRATCH_SCALE = 200;
/** kho_fill_kimage places the scratch array 64 KiB aligned, top-down, inside scratch. */
export const SCRATCH_ARRAY_ALIGNMENT = 64 * 1024;

/** What `kho_scratch=` asked for. */
export type ScratchConfig =
  | { readonly kind: 'scale'; readonly percent: number }
  | { readonly kind: 'sizes'; readonly lowmem: number; readonly global: number; readonly perNode: number };

export const DEFAULT_SCRATCH_CONFIG: ScratchConfig = { kind: 'scale', percent: DEFAULT_SCRATCH_SCALE };

export interface ScratchSizes {
  readonly lowmem: number;
  readonly global: number;
  readonly node: number;
}

/** Bytes the kernel reserved during boot (memblock_reserved_kern_size). */
export interface KernelReservation {
  readonly total: number;
  /** Part of `total` below ARCH_LOW_ADDRESS_LIMIT. */
  readonly belowLowLimit: number;
}

/**
 * Parses the value of `kho_scratch=` as kho_parse_scratch_size does: "N%" (decimal, up to
 * 10 characters with the '%'), or "L,G,N" with memparse sizes (K/M/G/T/P/E suffixes, 0x hex,
 * leading-0 octal) whose sum is not zero. Throws EINVAL.
 */
export function parseKhoScratch(text: string): ScratchConfig {
  if (text.length === 0) throw new KhoError('EINVAL', 'kho_scratch= is empty');
  if (text.endsWith('%')) {
    const digits = text.slice(0, -1);
    if (text.length > 11 || !/^\+?[0-9]+$/.test(digits)) throw new KhoError('EINVAL', `kho_scratch=${text}: not a percentage`);
    const percent = Number(digits.replace('+', ''));
    if (percent > 0xffff_ffff) throw new KhoError('EINVAL', `kho_scratch=${text}: percentage out of range`);
    return { kind: 'scale', percent };
  }
  const sizes: number[] = [];
  let rest = text;
  for (let index = 0; index < 3; index++) {
    if (index > 0) {
      if (!rest.startsWith(',')) throw new KhoError('EINVAL', `kho_scratch=${text}: expected three sizes L,G,N`);
      rest = rest.slice(1);
    }
    const parsed = memparse(rest);
    if (parsed === null) throw new KhoError('EINVAL', `kho_scratch=${text}: "${rest}" does not start with a size`);
    sizes.push(parsed.value);
    rest = parsed.rest;
  }
  if (rest.length > 0) throw new KhoError('EINVAL', `kho_scratch=${text}: trailing "${rest}"`);
  const [lowmem, global, perNode] = sizes as [number, number, number];
  if (lowmem + global + perNode === 0) throw new KhoError('EINVAL', `kho_scratch=${text}: all sizes are zero`);
  return { kind: 'sizes', lowmem, global, perNode };
}

/** The kernel's memparse: a number (base 0 rules) with an optional K/M/G/T/P/E suffix; null if no digits. */
export function memparse(text: string): { value: number; rest: string } | null {
  const match = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)/.exec(text);
  if (!match) return null;
  const digits = match[1]!;
  let value = digits.startsWith('0x') || digits.startsWith('0X') ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : Number(digits);
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 }[match[2]!.toLowerCase() as '' | 'k']!;
  value *= 2 ** shift;
  if (!Number.isSafeInteger(value)) throw new KhoError('EINVAL', `size "${match[0]}" is too large`);
  return { value, rest: text.slice(match[0].length) };
}

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Area sizes as scratch_size_update / scratch_size_node compute them for one memory node. */
export function scratchSizes(config: ScratchConfig, reserved: KernelReservation): ScratchSizes {
  if (config.kind === 'sizes') {
    return {
      lowmem: config.lowmem,
      global: config.global,
      node: roundUp(config.perNode, SCRATCH_ALIGNMENT),
    };
  }
  const scale = config.percent;
  const lowmem = roundUp(Math.floor((reserved.belowLowLimit * scale) / 100), SCRATCH_ALIGNMENT);
  const global = roundUp(Math.max(0, Math.floor((reserved.total * scale) / 100) - lowmem), SCRATCH_ALIGNMENT);
  const node = roundUp(Math.floor((reserved.total * scale) / 100), SCRATCH_ALIGNMENT);
  return { lowmem, global, node };
}

/**
 * Places the three areas top-down inside `free` (RAM not yet reserved), lowmem below
 * `lowLimit`. Throws ENOMEM naming the area that does not fit ("Failed to reserve lowmem
 * scratch buffer"), after which Linux disables KHO.
 */
export function placeScratchAreas(sizes: ScratchSizes, free: readonly PhysRange[], lowLimit = ARCH_LOW_ADDRESS_LIMIT): ScratchArea[] {
  let ranges = free.map((range) => ({ start: range.start, end: range.end }));
  const take = (what: string, size: number, limit: number): ScratchArea => {
    let best = -1;
    for (const range of ranges) {
      const top = Math.floor((Math.min(range.end, limit) - size) / SCRATCH_ALIGNMENT) * SCRATCH_ALIGNMENT;
      if (top >= range.start && top > best) best = top;
    }
    if (best < 0) throw new KhoError('ENOMEM', `Failed to reserve ${what} scratch buffer (${size} bytes)`);
    ranges = ranges.flatMap((range) => {
      if (best + size <= range.start || best >= range.end || size === 0) return [range];
      return [{ start: range.start, end: best }, { start: best + size, end: range.end }].filter((part) => part.end > part.start);
    });
    return { addr: best, size };
  };
  return [take('lowmem', sizes.lowmem, lowLimit), take('global', sizes.global, Infinity), take('nid 0', sizes.node, Infinity)];
}

/** Writes `areas` as the kho_scratch array at `pa`; returns its length in bytes. */
export function writeScratchArray(ram: Ram, pa: number, areas: readonly ScratchArea[]): number {
  areas.forEach((area, index) => {
    ram.writeU64Number(pa + index * SCRATCH_ENTRY_SIZE, area.addr);
    ram.writeU64Number(pa + index * SCRATCH_ENTRY_SIZE + 8, area.size);
  });
  return areas.length * SCRATCH_ENTRY_SIZE;
}

/**
 * Reads the kho_scratch array at [pa, pa+length): length/16 entries (a partial tail entry is
 * ignored, as Linux's integer division does). Throws EUCLEAN if the array or an area is not
 * inside RAM.
 */
export function readScratchArray(ram: Ram, pa: number, length: number): ScratchArea[] {
  if (!Number.isSafeInteger(pa) || !Number.isSafeInteger(length) || length < 0 || !ram.contains(pa, length)) {
    throw new KhoError('EUCLEAN', `scratch array ${hex(pa)}+${length} is not inside RAM`);
  }
  const areas: ScratchArea[] = [];
  for (let index = 0; index < Math.floor(length / SCRATCH_ENTRY_SIZE); index++) {
    const addr = ram.readU64(pa + index * SCRATCH_ENTRY_SIZE);
    const size = ram.readU64(pa + index * SCRATCH_ENTRY_SIZE + 8);
    if (addr > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER) || !ram.contains(Number(addr), Number(size))) {
      throw new KhoError('EUCLEAN', `scratch area ${index} (0x${addr.toString(16)}+0x${size.toString(16)}) is not inside RAM`);
    }
    areas.push({ addr: Number(addr), size: Number(size) });
  }
  return areas;
}

/**
 * Where kho_fill_kimage would put an array of `length` bytes: the highest 64 KiB-aligned
 * spot inside a scratch area that avoids `occupied` ranges. Throws ENOMEM if none fits.
 */
export function placeScratchArray(areas: readonly ScratchArea[], length: number, occupied: readonly PhysRange[] = []): number {
  let best = -1;
  for (const area of areas) {
    let top = Math.floor((area.addr + area.size - length) / SCRATCH_ARRAY_ALIGNMENT) * SCRATCH_ARRAY_ALIGNMENT;
    while (top >= area.addr && top > best) {
      const clash = occupied.find((range) => top < range.end && range.start < top + length);
      if (!clash) {
        best = top;
        break;
      }
      top = Math.floor((clash.start - length) / SCRATCH_ARRAY_ALIGNMENT) * SCRATCH_ARRAY_ALIGNMENT;
    }
  }
  if (best < 0) throw new KhoError('ENOMEM', `no room for a ${length}-byte scratch array inside the scratch areas`);
  return best;
}
