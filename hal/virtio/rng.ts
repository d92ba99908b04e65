// virtio-rng, the entropy device (virtio 1.2 §5.4): one requestq; every device-writable
// buffer the driver posts comes back filled with bytes from the host's CSPRNG
// (crypto.randomFillSync). At most 64 KiB of one request is filled; the used length
// says how much, as §5.4.6.1 allows.

import { randomFillSync } from 'node:crypto';
import type { VirtioBackend } from './backend.js';
import { DeviceId, FeatureBit, SPLIT_RING_FEATURES, feature } from './registers.js';
import type { SplitQueueDevice } from './split_queue_device.js';

export const ENTROPY_REQUEST_LIMIT = 64 * 1024;

export interface VirtioEntropyOptions {
  /** QueueNumMax of the request queue (default 64). */
  readonly queueSize?: number;
}

export class VirtioEntropy implements VirtioBackend {
  readonly deviceId = DeviceId.ENTROPY;
  readonly features = feature(FeatureBit.VERSION_1) | SPLIT_RING_FEATURES;
  readonly queueSizes: readonly number[];
  private requests: SplitQueueDevice | undefined;

  constructor(options: VirtioEntropyOptions = {}) {
    this.queueSizes = [options.queueSize ?? 64];
  }

  activate(queues: SplitQueueDevice[]): void {
    this.requests = queues[0];
  }

  queueNotified(): void {
    const queue = this.requests;
    if (queue === undefined) return;
    for (let chain = queue.nextChain(); chain !== undefined; chain = queue.nextChain()) {
      const bytes = new Uint8Array(Math.min(chain.writableLength, ENTROPY_REQUEST_LIMIT));
      randomFillSync(bytes);
      queue.pushUsed(chain.head, queue.write(chain, bytes));
    }
    queue.notifyIfNeeded();
  }

  reset(): void {
    this.requests = undefined;
  }
}
