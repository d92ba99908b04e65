// The boot-time memory map: what every page of RAM is for, before the page allocator starts.
//
// Built from what the device tree and the board say: the `memory` node's RAM ranges, the
// header's /memreserve/ entries, the /reserved-memory children, the blob itself, the ranges
// kernel data occupies, and (after a kexec with KHO) the scratch regions the previous kernel
// set aside. The result is a sorted list of non-overlapping, page-granular regions, each with
// a kind and a purpose:
//
//   free      usable by the early allocator and then by the page allocator
//   scratch   free, but marked as KHO scratch: the only memory safe to allocate from until
//             the blocks the previous kernel preserved are reserved (KHO-ABI.md section 4)
//   reserved  not available; `purpose` says why ("device tree blob", "memreserve", ...)
//
// Granularity: RAM ranges are rounded inward to whole pages, reservations outward, so a page
// that is partly reserved is wholly reserved. Parts of a reservation outside RAM are dropped.
// Overlapping reservations are allowed (memblock allows them); an overlap gets both purposes.

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import { formatSize } from '../../hal/size_text.js';
import { tableLines } from '../../hal/text_table.js';
import { InvalidArgumentError } from './errors.js';

/** A byte range of physical memory [base, base + size). */
export interface PhysicalRange {
  readonly base: number;
  readonly size: number;
}

export interface NamedRange extends PhysicalRange {
  readonly name: string;
}

/** Everything the boot code knows about physical memory. Only `ram` is required. */
export interface BootMemoryDescription {
  /** The device tree `memory` node(s) `reg` ranges. */
  readonly ram: readonly PhysicalRange[];
  /** The blob header's /memreserve/ entries. */
  readonly memoryReservations?: readonly PhysicalRange[];
  /** Children of /reserved-memory, named by node name. */
  readonly reservedMemory?: readonly NamedRange[];
  /** Where the device tree blob itself lies. */
  readonly deviceTree?: PhysicalRange;
  /** Ranges the kernel's own data occupies (image, boot stacks, ...), named. */
  readonly kernel?: readonly NamedRange[];
  /** KHO scratch regions handed over by the previous kernel. */
  readonly scratch?: readonly PhysicalRange[];
}

export type RegionKind = 'free' | 'scratch' | 'reserved';

export interface MemoryRegion {
  readonly base: PhysAddr;
  readonly size: number;
  readonly kind: RegionKind;
  readonly purpose: string;
}

interface Span {
  start: number;
  end: number;
  kind: RegionKind;
  purpose: string;
}

export const FREE_PURPOSE = 'available';
export const SCRATCH_PURPOSE = 'KHO scratch';

export class MemoryMap {
  #spans: Span[];

  private constructor(spans: Span[]) {
    this.#spans = spans;
  }

  /** Builds the map; throws InvalidArgumentError for a malformed range (negative, not an integer). */
  static build(description: BootMemoryDescription): MemoryMap {
    const ram = description.ram.map((range) => checkRange(range, 'RAM'));
    const spans: Span[] = [];
    for (const [start, end] of mergeIntervals(ram.map(([start, end]) => [roundUp(start), roundDown(end)] as const))) {
      if (end > start) spans.push({ start, end, kind: 'free', purpose: FREE_PURPOSE });
    }
    const map = new MemoryMap(spans);
    for (const range of description.scratch ?? []) map.#paint(range, 'scratch', SCRATCH_PURPOSE, 'scratch');
    for (const range of description.memoryReservations ?? []) map.reserve(range, 'memreserve');
    for (const range of description.reservedMemory ?? []) map.reserve(range, `reserved-memory: ${range.name}`);
    if (description.deviceTree) map.reserve(description.deviceTree, 'device tree blob');
    for (const range of description.kernel ?? []) map.reserve(range, `kernel: ${range.name}`);
    return map;
  }

  /** The regions in address order; adjacent regions never share both kind and purpose. */
  get regions(): readonly MemoryRegion[] {
    return this.#spans.map((span) => ({ base: span.start as PhysAddr, size: span.end - span.start, kind: span.kind, purpose: span.purpose }));
  }

  /**
   * Marks [base, base + size) reserved for `purpose` (rounded out to pages, clipped to RAM).
   * Returns true if every page of it inside RAM was free or scratch before.
   */
  reserve(range: PhysicalRange, purpose: string): boolean {
    return this.#paint(range, 'reserved', purpose, 'reservation');
  }

  /** The ranges of the given kinds, in address order, adjacent ones merged. */
  ranges(kinds: readonly RegionKind[]): PhysicalRange[] {
    const intervals = this.#spans.filter((span) => kinds.includes(span.kind)).map((span) => [span.start, span.end] as const);
    return mergeIntervals(intervals).map(([start, end]) => ({ base: start, size: end - start }));
  }

  /** Ranges the page allocator may take over: free and scratch. */
  freeRanges(): PhysicalRange[] {
    return this.ranges(['free', 'scratch']);
  }

  /** Bytes per kind, and RAM in total. */
  totals(): { ram: number; free: number; scratch: number; reserved: number } {
    const totals = { ram: 0, free: 0, scratch: 0, reserved: 0 };
    for (const span of this.#spans) {
      totals[span.kind] += span.end - span.start;
      totals.ram += span.end - span.start;
    }
    return totals;
  }

  /** One line per region, as `mem` prints it. */
  format(): string[] {
    const rows = this.#spans.map((span) => [`${hex(span.start)}-${hex(span.end - 1)}`, formatSize(span.end - span.start), span.kind, span.purpose]);
    return tableLines([], rows, { align: ['left', 'right'], minimumWidths: [0, 9, 8] });
  }

  /** Paints `kind` over the part of `range` inside RAM. Returns true if it covered only free/scratch pages. */
  #paint(range: PhysicalRange, kind: 'scratch' | 'reserved', purpose: string, what: string): boolean {
    const [rawStart, rawEnd] = checkRange(range, what);
    if (rawEnd === rawStart) return true;
    const start = roundDown(rawStart);
    const end = roundUp(rawEnd);
    if (end <= start) return true;
    let wasFree = true;
    const painted: Span[] = [];
    for (const span of this.#spans) {
      if (span.end <= start || span.start >= end) {
        painted.push(span);
        continue;
      }
      if (span.start < start) painted.push({ ...span, end: start });
      const overlap: Span = { start: Math.max(span.start, start), end: Math.min(span.end, end), kind: span.kind, purpose: span.purpose };
      if (span.kind === 'reserved') {
        wasFree = false;
        if (kind === 'reserved' && !span.purpose.split(' + ').includes(purpose)) overlap.purpose = `${span.purpose} + ${purpose}`;
      } else if (kind === 'reserved' || span.kind === 'free') {
        overlap.kind = kind;
        overlap.purpose = purpose;
      }
      painted.push(overlap);
      if (span.end > end) painted.push({ ...span, start: end });
    }
    this.#spans = coalesce(painted);
    return wasFree;
  }
}

function checkRange(range: PhysicalRange, what: string): [number, number] {
  const { base, size } = range;
  if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(base + size)) {
    throw new InvalidArgumentError(`malformed ${what} range base=${base} size=${size}`, { base, size });
  }
  return [base, base + size];
}

function roundDown(value: number): number {
  return value - (value % PAGE_SIZE);
}

function roundUp(value: number): number {
  return roundDown(value + PAGE_SIZE - 1);
}

/** Sorts and merges overlapping or touching intervals. */
function mergeIntervals(intervals: readonly (readonly [number, number])[]): [number, number][] {
  const sorted = intervals.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** Joins neighbouring spans that touch and agree in kind and purpose. */
function coalesce(spans: Span[]): Span[] {
  const result: Span[] = [];
  for (const span of spans) {
    const last = result[result.length - 1];
    if (last && last.end === span.start && last.kind === span.kind && last.purpose === span.purpose) last.end = span.end;
    else result.push({ ...span });
  }
  return result;
}
