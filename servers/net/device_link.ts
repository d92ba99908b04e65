// The stack's way to its network device: frames from the netdev service's `receive`
// into the stack, frames from the stack out through `send`, batched and in order.
//
// Only one send call is in flight; frames queued meanwhile go in the next (at most
// NETDEV_BATCH_FRAMES each; beyond OUTBOX_FRAMES waiting, new frames are dropped and
// counted, as a full transmit queue does). The receive loop runs until stop(); when the
// driver restarts or is briefly gone it tries again a second later.

import type { ClientOf } from '../../ipc/define.js';
import { NETDEV_BATCH_FRAMES, type netdevInterface } from '../../ipc/interfaces/netdev.js';
import type { Logger } from '../../microkernel/userlib/logger.js';

export const OUTBOX_FRAMES = 1024;
const RETRY_MS = 1000;

export class DeviceLink {
  private readonly outbox: Uint8Array[] = [];
  private sending = false;
  private running = true;
  dropped = 0;
  linkUp = false;

  constructor(
    private readonly netdev: ClientOf<typeof netdevInterface>,
    private readonly log: Logger,
    private readonly deliver: (frame: Uint8Array) => void,
  ) {}

  /** Queues a frame for the device. */
  transmit(frame: Uint8Array): void {
    if (!this.running) return;
    if (this.outbox.length >= OUTBOX_FRAMES) {
      this.dropped++;
      return;
    }
    this.outbox.push(frame);
    if (!this.sending) void this.pump();
  }

  /** Runs the receive loop until stop(). */
  async receiveLoop(): Promise<void> {
    while (this.running) {
      try {
        const { frames, linkUp } = await this.netdev.receive({ maximumFrames: NETDEV_BATCH_FRAMES, waitMs: 1000 });
        this.linkUp = linkUp;
        for (const frame of frames) {
          try {
            this.deliver(frame);
          } catch (error) {
            this.log.warn({ error: (error as Error).message }, 'a received frame could not be handled');
          }
        }
      } catch (error) {
        if (!this.running) return;
        this.log.info({ error: (error as Error).message }, 'receiving from the network device failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  stop(): void {
    this.running = false;
    this.outbox.length = 0;
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.running && this.outbox.length > 0) {
        const frames = this.outbox.splice(0, NETDEV_BATCH_FRAMES);
        try {
          await this.netdev.send({ frames });
        } catch (error) {
          this.dropped += frames.length;
          this.log.info({ error: (error as Error).message, frames: frames.length }, 'frames could not be sent to the network device');
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
