// Physically contiguous pages for servers and drivers (DMA buffers, virtqueues, state),
// per owner — the kernel's stand-in page allocator until the memory server hands pages out.
//
// One byte per RAM page: unavailable (not managed: kernel image, device tree, initrd,
// KHO scratch), free, or used. First-fit with physical alignment. Everything an owner
// holds is returned when it dies (unless the supervisor keeps it for its next generation).

import { PAGE_SIZE } from '../hal/address.js';
import type { Ram } from '../hal/ram.js';

const UNAVAILABLE = 0;
const FREE = 1;
const USED = 2;

export interface PageRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export class DmaPool {
  private readonly ram: Ram;
  private readonly state: Uint8Array;
  private readonly owners = new Map<number, { owner: string; pages: number }>();
  private cursor = 0;

  /** Manages the pages of `ranges` (clipped to whole pages inside RAM). */
  constructor(ram: Ram, ranges: readonly PageRange[]) {
    this.ram = ram;
    this.state = new Uint8Array(ram.size / PAGE_SIZE);
    for (const range of ranges) {
      const first = Math.max(0, Math.ceil((range.start - ram.base) / PAGE_SIZE));
      const last = Math.min(this.state.length, Math.floor((range.end - ram.base) / PAGE_SIZE));
      if (last > first) this.state.fill(FREE, first, last);
    }
  }

  get pages(): number {
    let managed = 0;
    for (const byte of this.state) if (byte !== UNAVAILABLE) managed++;
    return managed;
  }

  get freePages(): number {
    let free = 0;
    for (const byte of this.state) if (byte === FREE) free++;
    return free;
  }

  /** Zeroed pages for `owner`; `alignment` is a power of two ≥ 4096. Throws RangeError when none fit. */
  allocate(owner: string, bytes: number, alignment = PAGE_SIZE): number {
    const count = Math.max(1, Math.ceil(bytes / PAGE_SIZE));
    const step = Math.max(1, alignment / PAGE_SIZE);
    const skew = (Math.ceil(this.ram.base / alignment) * alignment - this.ram.base) / PAGE_SIZE;
    const found = this.search(count, step, skew, this.cursor) ?? this.search(count, step, skew, 0);
    if (found === undefined) throw new RangeError(`out of memory: no ${bytes} contiguous bytes for ${owner}`);
    this.state.fill(USED, found, found + count);
    this.cursor = found + count;
    const address = this.ram.base + found * PAGE_SIZE;
    this.owners.set(address, { owner, pages: count });
    this.ram.fill(address, count * PAGE_SIZE, 0);
    return address;
  }

  /** Takes [address, address+size) out of the free pages for `owner` (preserved memory). */
  reserve(address: number, size: number, owner: string): void {
    const first = Math.floor((address - this.ram.base) / PAGE_SIZE);
    const count = Math.ceil(size / PAGE_SIZE);
    if (first < 0 || first + count > this.state.length) return;
    for (let page = first; page < first + count; page++) if (this.state[page] === FREE) this.state[page] = USED;
    this.owners.set(address, { owner, pages: count });
  }

  /** Returns every block `owner` holds; returns how many pages came back. */
  releaseAll(owner: string): number {
    let released = 0;
    for (const [address, block] of this.owners) {
      if (block.owner !== owner) continue;
      const first = (address - this.ram.base) / PAGE_SIZE;
      this.state.fill(FREE, first, first + block.pages);
      this.owners.delete(address);
      released += block.pages;
    }
    return released;
  }

  usage(): Map<string, number> {
    const result = new Map<string, number>();
    for (const block of this.owners.values()) result.set(block.owner, (result.get(block.owner) ?? 0) + block.pages);
    return result;
  }

  private search(count: number, step: number, skew: number, from: number): number | undefined {
    const start = Math.max(skew, Math.ceil((from - skew) / step) * step + skew);
    outer: for (let first = start; first + count <= this.state.length; first += step) {
      for (let page = first; page < first + count; page++) {
        if (this.state[page] !== FREE) {
          // Jump past the obstacle, keeping alignment.
          first = Math.ceil((page + 1 - skew) / step) * step + skew - step;
          continue outer;
        }
      }
      return first;
    }
    return undefined;
  }
}
