// What a virtio device model publishes about its queues for introspection, as QEMU's monitor
// answers `info virtio-queue-status`: per queue, its size and how many buffers the driver
// has made available that the device has not returned yet (avail.idx - used.idx). The
// transport writes it (board thread) after every notification and every used-buffer
// interrupt; the kernel reads it for the drivers interface's `devices`. It is not a
// register: a driver never sees it.
//
//   word 0            queue count
//   word 1 + 2q       queue q's size (QueueNum; 0 while not ready)
//   word 2 + 2q       queue q's buffers in use

export const MAXIMUM_STATISTICS_QUEUES = 32;

export interface QueueOccupancy {
  readonly index: number;
  readonly size: number;
  readonly inUse: number;
}

export class QueueStatistics {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;

  constructor(buffer = new SharedArrayBuffer((1 + 2 * MAXIMUM_STATISTICS_QUEUES) * 4)) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
  }

  /** Device side: queue `index` has `size` entries of which `inUse` are the device's. */
  publish(index: number, size: number, inUse: number): void {
    if (index >= MAXIMUM_STATISTICS_QUEUES) return;
    Atomics.store(this.words, 1 + 2 * index, size);
    Atomics.store(this.words, 2 + 2 * index, inUse);
    if (Atomics.load(this.words, 0) <= index) Atomics.store(this.words, 0, index + 1);
  }

  /** Reader side: every queue published so far. */
  read(): QueueOccupancy[] {
    const count = Math.min(Atomics.load(this.words, 0), MAXIMUM_STATISTICS_QUEUES);
    return Array.from({ length: count }, (_, index) => ({
      index,
      size: Atomics.load(this.words, 1 + 2 * index),
      inUse: Atomics.load(this.words, 2 + 2 * index),
    }));
  }
}
