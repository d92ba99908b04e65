// The view server's end of the view console: JSON lines in both directions (the messages
// of hal/live_view/protocol.ts). It reads the device in a loop, as the console's terminals
// do (a read cut off by a driver restart is simply read again), and writes messages one
// after another, each whole, in pieces the chardev takes. Lines from the board are checked
// before they are acted on; one that is not a message is logged and skipped.

import type { Logger } from '../../microkernel/userlib/logger.js';
import type { ClientOf } from '../../ipc/define.js';
import { READ_MAXIMUM_BYTES, READ_MAXIMUM_WAIT_MS, type chardevInterface } from '../../ipc/interfaces/chardev.js';
import { parseControl, type FromSystem, type ToSystem } from '../../hal/live_view/protocol.js';

const WRITE_PIECE_BYTES = 32768;
/** Between read attempts while the device's driver is stopped or missing. */
const RETRY_MS = 1000;

/** A line from the board, checked: what it asks, or why it is not a message. */
export function parseToSystem(line: string): ToSystem | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const message = value as { t?: unknown; viewers?: unknown };
  if (message?.t === 'watch') return Number.isSafeInteger(message.viewers) && (message.viewers as number) >= 0 ? { t: 'watch', viewers: message.viewers as number } : 'watch needs a viewer count';
  return parseControl(line);
}

export class ViewLink {
  private readonly device: ClientOf<typeof chardevInterface>;
  private readonly log: Logger;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private partial = '';
  /** Where the next read starts in the driver's input stream (what was read before is acknowledged by it). */
  private place = { stream: 0, next: 0 };
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** A write failed: what was published may not have arrived. */
  onLost: () => void = () => undefined;

  constructor(device: ClientOf<typeof chardevInterface>, log: Logger) {
    this.device = device;
    this.log = log;
  }

  /** One read from where the last ended (acknowledging it); throws when the driver cannot be reached. */
  private async read(waitMs: number): Promise<Uint8Array> {
    const reply = await this.device.read({ maximumBytes: READ_MAXIMUM_BYTES, waitMs, afterHangup: false, stream: this.place.stream, from: this.place.next });
    this.place = { stream: reply.stream, next: (reply.at + reply.data.length) >>> 0 };
    return reply.data;
  }

  /**
   * Skips what the board sent a previous generation (a control it did not answer would
   * otherwise run twice); the board sends `watch` again when this generation says hello.
   */
  async skipStale(): Promise<void> {
    try {
      while ((await this.read(0)).length > 0);
    } catch {
      // the driver is not there yet: nothing to skip
    }
  }

  /** Reads the board's messages until close(), handing each to `handle`. */
  async run(handle: (message: ToSystem) => void): Promise<void> {
    while (!this.closed) {
      let data: Uint8Array;
      try {
        data = await this.read(READ_MAXIMUM_WAIT_MS);
      } catch {
        if (!this.closed) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      const lines = (this.partial + this.decoder.decode(data, { stream: true })).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim().length === 0) continue;
        const message = parseToSystem(line);
        if (typeof message === 'string') this.log.warn(`view: ignored a line from the board: ${message}`);
        else handle(message);
      }
    }
  }

  /** Queues `message`; resolves once the device took it (or the write failed: onLost is called). */
  send(message: FromSystem): Promise<void> {
    const bytes = this.encoder.encode(JSON.stringify(message) + '\n');
    this.writing = this.writing.then(async () => {
      try {
        for (let offset = 0; offset < bytes.length; offset += WRITE_PIECE_BYTES) {
          await this.device.write({ data: bytes.subarray(offset, offset + WRITE_PIECE_BYTES) });
        }
      } catch (error) {
        if (!this.closed) this.log.debug(`view: a message to the board was lost: ${(error as Error).message}`);
        this.onLost();
      }
    });
    return this.writing;
  }

  close(): void {
    this.closed = true;
  }
}
