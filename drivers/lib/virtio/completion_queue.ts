// A virtqueue as promises: post a chain, await the bytes the device wrote.
//
// post() waits for free descriptors when the queue is full, so callers never see
// "queue full"; service() (from the interrupt handler) settles every chain the device
// returned. After the device is reset, waiting and later posts reject with
// VirtioQueueError QUEUE_STOPPED, and chains in flight are never settled by the device:
// stop() rejects them.
//
// Example:
//   const requests = new CompletionQueue(transport.queues[0]!);
//   const length = await requests.post([{ address, length: 64, writable: true }]);
//   ...interrupt: transport.takeInterrupt(); requests.service();

import { VirtioQueueError } from './errors.js';
import type { DriverBuffer, SplitQueueDriver } from './split_queue_driver.js';

interface Waiting {
  resolve(length: number): void;
  reject(error: Error): void;
}

export class CompletionQueue {
  private readonly queue: SplitQueueDriver;
  private readonly roomWaiters: Array<() => void> = [];
  private readonly inFlight = new Set<Waiting>();
  private stopped = false;

  constructor(queue: SplitQueueDriver) {
    this.queue = queue;
  }

  /** Publishes `buffers` as one chain and notifies the device; resolves with the bytes it wrote. */
  async post(buffers: readonly DriverBuffer[]): Promise<number> {
    if (buffers.length > this.queue.size) throw new RangeError(`a chain of ${buffers.length} buffers does not fit a queue of ${this.queue.size}`);
    for (;;) {
      if (this.stopped) throw new VirtioQueueError('QUEUE_STOPPED', `queue ${this.queue.index} was reset`);
      if (this.queue.freeDescriptors >= buffers.length) break;
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    return new Promise<number>((resolve, reject) => {
      const waiting: Waiting = { resolve, reject };
      this.inFlight.add(waiting);
      this.queue.add(buffers, waiting);
      this.queue.kick();
    });
  }

  /** Settles every chain the device has returned; call after each interrupt. */
  service(): void {
    for (const used of this.queue.takeUsed()) {
      const waiting = used.token as Waiting;
      this.inFlight.delete(waiting);
      waiting.resolve(used.length);
    }
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  /** The device was reset: every chain in flight and every waiter rejects with QUEUE_STOPPED. */
  stop(): void {
    this.stopped = true;
    const error = new VirtioQueueError('QUEUE_STOPPED', `queue ${this.queue.index} was reset with requests in flight`);
    for (const waiting of this.inFlight) waiting.reject(error);
    this.inFlight.clear();
    for (const wake of this.roomWaiters.splice(0)) wake();
  }
}
