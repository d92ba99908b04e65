// Physically contiguous pages for device DMA (virtqueues, buffers), per owner.
//
// A first-fit page bitmap over a region the kernel set aside at boot. Everything an owner
// holds is returned when it dies, so a crashing driver cannot leak the pool dry.

import { PAGE_SIZE } from '../hal/address.js';
import type { Ram } from '../hal/ram.js';

export class DmaPool {
  readonly base: number;
  readonly pages: number;
  private readonly used: Uint8Array;
  private readonly owners = new Map<number, { owner: string; pages: number }>();
  private readonly ram: Ram;

  constructor(ram: Ram, base: number, size: number) {
    this.ram = ram;
    this.base = base;
    this.pages = Math.floor(size / PAGE_SIZE);
    this.used = new Uint8Array(this.pages);
  }

  /** Zeroed pages for `owner`; `alignment` is a power of two ≥ 4096. Throws RangeError when full. */
  allocate(owner: string, bytes: number, alignment = PAGE_SIZE): number {
    const count = Math.ceil(bytes / PAGE_SIZE);
    const step = Math.max(1, alignment / PAGE_SIZE);
    for (let first = 0; first + count <= this.pages; first += step) {
      let free = true;
      for (let page = first; page < first + count; page++) {
        if (this.used[page]) { free = false; break; }
      }
      if (!free) continue;
      this.used.fill(1, first, first + count);
      const address = this.base + first * PAGE_SIZE;
      this.owners.set(address, { owner, pages: count });
      this.ram.fill(address, count * PAGE_SIZE, 0);
      return address;
    }
    throw new RangeError(`DMA pool exhausted: ${bytes} bytes for ${owner}`);
  }

  /** Returns every block `owner` holds; returns how many pages came back. */
  releaseAll(owner: string): number {
    let released = 0;
    for (const [address, block] of this.owners) {
      if (block.owner !== owner) continue;
      const first = (address - this.base) / PAGE_SIZE;
      this.used.fill(0, first, first + block.pages);
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
}
