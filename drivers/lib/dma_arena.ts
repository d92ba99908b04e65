// A driver's DMA arena: one contiguous block obtained from the system at init, carved
// up synchronously (queue rings, buffers) — the virtio library allocates without waiting.

import type { DriverContext } from './driver.js';

export class DmaArena {
  readonly base: number;
  readonly size: number;
  private next: number;

  private constructor(base: number, size: number) {
    this.base = base;
    this.size = size;
    this.next = base;
  }

  /** Obtains `size` bytes of zeroed DMA memory for `driver`. */
  static async obtain(driver: DriverContext, size: number): Promise<DmaArena> {
    return new DmaArena(await driver.allocateDma(size, 4096), size);
  }

  /** `bytes` bytes aligned to `alignment` (a power of two); throws RangeError when the arena is used up. */
  allocate(bytes: number, alignment = 16): number {
    const address = Math.ceil(this.next / alignment) * alignment;
    if (address + bytes > this.base + this.size) throw new RangeError(`DMA arena of ${this.size} bytes exhausted`);
    this.next = address + bytes;
    return address;
  }
}
