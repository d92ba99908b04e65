// A fixed set of equal DMA buffers, lent out one at a time: requests borrow a buffer for
// the time the device works on it and give it back, waiting when all are lent.
//
//   const buffers = DmaBuffers.carve(arena, 4, 4096);
//   const address = await buffers.take();
//   try { ...device fills address... } finally { buffers.give(address); }

import type { DmaArena } from './dma_arena.js';

export class DmaBuffers {
  readonly size: number;
  private readonly free: number[];
  private readonly waiters: Array<(address: number) => void> = [];

  private constructor(addresses: number[], size: number) {
    this.free = addresses;
    this.size = size;
  }

  /** `count` buffers of `size` bytes from `arena` (16-byte aligned); throws RangeError if it is too small. */
  static carve(arena: DmaArena, count: number, size: number): DmaBuffers {
    return new DmaBuffers(Array.from({ length: count }, () => arena.allocate(size, 16)), size);
  }

  /** A free buffer's physical address, waiting for one if all are lent. */
  take(): Promise<number> {
    const address = this.free.pop();
    if (address !== undefined) return Promise.resolve(address);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Returns a buffer from take(); the longest waiter gets it. */
  give(address: number): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(address);
    else this.free.push(address);
  }
}
