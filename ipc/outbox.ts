// The sending side of one ring: write now if the ring has room, else keep the frame in a
// local queue, in order, until the consumer has made room.
//
// A frame that does not fit sets the ring's "space wanted" flag (Ring.tryWrite does that);
// the consumer rings this thread's doorbell after reading, and the Endpoint's next pass calls
// flush(). Frames are never dropped while the channel is open. Every write or flush that put
// frames into the ring rings the peer's doorbell once; when that ring found the peer parked
// (it pays a wake-up before it answers), `onPeerWoken` is told.

import type { DoorbellPage } from '../hal/doorbells.js';
import type { Ring } from './ring.js';

/** Ordered, lossless sending into one ring (see the file header). Producer thread only. */
export class Outbox {
  readonly maxFrameBytes: number;
  private readonly ring: Ring;
  private readonly doorbells: DoorbellPage;
  private readonly peerSlot: number;
  private readonly onPeerWoken: () => void;
  private queue: Uint8Array[] = [];
  private queueHead = 0;

  constructor(ring: Ring, doorbells: DoorbellPage, peerSlot: number, onPeerWoken: () => void = () => {}) {
    this.ring = ring;
    this.doorbells = doorbells;
    this.peerSlot = peerSlot;
    this.onPeerWoken = onPeerWoken;
    this.maxFrameBytes = ring.maxFrameBytes;
  }

  /**
   * Sends `frame` (which may be a view into a reused encode buffer: it is copied before
   * this returns). The caller has checked frame.length <= maxFrameBytes.
   */
  write(frame: Uint8Array): void {
    if (this.queueHead === this.queue.length && this.ring.tryWrite(frame)) {
      if (this.doorbells.ring(this.peerSlot)) this.onPeerWoken();
      return;
    }
    // Not frame.slice(): on a Node Buffer (what msgpackr returns) that is a view, not a copy.
    this.queue.push(Uint8Array.prototype.slice.call(frame));
  }

  /** Moves queued frames into the ring while they fit. Returns how many were moved. */
  flush(): number {
    let moved = 0;
    while (this.queueHead < this.queue.length && this.ring.tryWrite(this.queue[this.queueHead]!)) {
      this.queue[this.queueHead++] = EMPTY;
      moved++;
    }
    if (this.queueHead === this.queue.length) {
      if (this.queueHead > 0) {
        this.queue = [];
        this.queueHead = 0;
      }
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (moved > 0 && this.doorbells.ring(this.peerSlot)) this.onPeerWoken();
    return moved;
  }

  /** Frames waiting locally for room in the ring. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Forgets queued frames (the channel closed). */
  clear(): void {
    this.queue = [];
    this.queueHead = 0;
  }
}

const EMPTY = new Uint8Array(0);
