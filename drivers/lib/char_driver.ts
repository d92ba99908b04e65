// The character-device class library: serves the chardev interface for any stream
// device (console, serial, entropy-as-stream), so a driver writes only "send these bytes"
// and reports what arrived.
//
//   export default defineCharDriver({
//     async init(device) { ...; device.received(bytes) on input ... },
//     write(device, bytes) { ...queue bytes to the hardware... },
//   });
//
// Input waits in an inbox until the reader says it holds it (a later read's `from` is past
// it: ipc/interfaces/chardev.ts), so a reader that dies with a reply in flight reads the same
// input again. Once the inbox holds READ_BUFFER_BYTES, `received` answers false: the driver
// should stop taking input from its device (which keeps it) until `resumeInput` is called. Writes are handed to the driver one at a time,
// in the order they arrived, so two clients' output never interleaves.

import { chardevInterface, READ_BUFFER_BYTES } from '../../ipc/interfaces/chardev.js';
import type { ServerDefinition } from '../../microkernel/userlib/server.js';
import { defineDriver, type DriverContext } from './driver.js';

export interface CharDevice extends DriverContext {
  /**
   * Bytes arrived from the device: kept for the reader. Returns false once the reader is
   * READ_BUFFER_BYTES behind: take no more from the device until `resumeInput`.
   */
  received(data: Uint8Array): boolean;
  /** The far end hung up (end of input, or a socket client left). */
  hangup(): void;
}

export interface CharDriverDefinition {
  init(device: CharDevice): void | Promise<void>;
  /** Sends bytes; resolves when the device has taken them. Never called again before it resolves. */
  write(device: CharDevice, data: Uint8Array): void | Promise<void>;
  /** The reader caught up after `received` answered false: take input from the device again. */
  resumeInput?(device: CharDevice): void;
  interrupt?(device: CharDevice): void;
  /** Checks the device's queues are intact (DriverDefinition.audit). */
  audit?(device: CharDevice): void;
  stop?(device: CharDevice): void | Promise<void>;
}

type InboxEvent = { kind: 'input'; data: Uint8Array } | { kind: 'hangup' };

/** What a reader asks of the inbox (the chardev read's arguments). */
interface ReadRequest {
  readonly maximumBytes: number;
  readonly waitMs: number;
  readonly afterHangup: boolean;
  readonly stream: number;
  readonly from: number;
}

/** A number for this generation's input stream: not 0, and not one a reader is likely to hold from another generation. */
function newStreamNumber(): number {
  return (1 + Math.floor(Math.random() * 0xffff_fffe)) >>> 0;
}

/**
 * What arrived and the reader does not hold yet, and the readers waiting for it. Every
 * input byte and every hangup is one position of `stream`; `base` is the position of the
 * first one kept. A read hands out what follows `base` without forgetting it; a later read
 * whose `from` is past it lets it go (the reader has kept it).
 */
class Inbox {
  readonly stream = newStreamNumber();
  private readonly events: InboxEvent[] = [];
  private base = 0;
  /** Positions kept: input bytes plus hangups. */
  private positions = 0;
  private bytes = 0;
  /** The far end is hung up as of `base`. */
  private hungUp = false;
  private refused = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly resume: () => void) {}

  push(event: InboxEvent): boolean {
    this.events.push(event);
    this.positions += event.kind === 'input' ? event.data.length : 1;
    if (event.kind === 'input') this.bytes += event.data.length;
    for (const wake of [...this.waiters]) wake();
    if (this.bytes >= READ_BUFFER_BYTES) this.refused = true;
    return !this.refused;
  }

  /** Takes input for a reader; `present` says whether the reader is still there to get the reply. */
  async read(request: ReadRequest, present: () => boolean): Promise<{ data: Uint8Array; ended: boolean; stream: number; at: number; next: number }> {
    this.forget(request.stream, request.from);
    // A reader that does not know yet that the far end hung up is told at once.
    if (this.events.length === 0 && !(this.hungUp && !request.afterHangup)) await this.wait(request.waitMs);
    // A reader that went while it waited (its console restarted) gets nothing; what it would have got stays kept.
    if (!present()) return { data: new Uint8Array(0), ended: this.hungUp, stream: this.stream, at: this.base, next: this.base };
    const taken: Uint8Array[] = [];
    let length = 0;
    let index = 0;
    for (; length < request.maximumBytes && this.events[index]?.kind === 'input'; index++) {
      const event = this.events[index] as { kind: 'input'; data: Uint8Array };
      const part = event.data.subarray(0, request.maximumBytes - length);
      taken.push(part);
      length += part.length;
      if (part.length < event.data.length) break;
    }
    let ended = length > 0 ? false : this.hungUp;
    let positions = length;
    if (length < request.maximumBytes && this.events[index]?.kind === 'hangup') {
      ended = true;
      positions++;
    }
    const data = new Uint8Array(length);
    let offset = 0;
    for (const part of taken) {
      data.set(part, offset);
      offset += part.length;
    }
    return { data, ended, stream: this.stream, at: this.base, next: (this.base + positions) >>> 0 };
  }

  /** The reader holds everything of `stream` before `from`: forget it (nothing, for another stream or a position not handed out). */
  private forget(stream: number, from: number): void {
    if (stream !== this.stream) return;
    let count = (from - this.base) >>> 0;
    if (count === 0 || count > this.positions) return;
    this.positions -= count;
    this.base = from >>> 0;
    while (count > 0) {
      const event = this.events[0]!;
      if (event.kind === 'hangup') {
        this.events.shift();
        this.hungUp = true;
        count--;
        continue;
      }
      const dropped = Math.min(count, event.data.length);
      if (dropped === event.data.length) this.events.shift();
      else this.events[0] = { kind: 'input', data: event.data.subarray(dropped) };
      this.bytes -= dropped;
      this.hungUp = false;
      count -= dropped;
    }
    if (this.refused && this.bytes < READ_BUFFER_BYTES / 2) {
      this.refused = false;
      this.resume();
    }
  }

  private wait(waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, waitMs);
      this.waiters.add(wake);
    });
  }
}

/**
 * Makes a driver module out of a stream driver's write handler; input goes to `device.received`.
 *
 * @example
 * export default defineCharDriver({
 *   async init(device) { port = openPort(device, (bytes) => device.received(bytes)); },
 *   write: (_, data) => port.send(data),
 * });
 */
export function defineCharDriver(definition: CharDriverDefinition): ServerDefinition {
  let device: CharDevice | undefined;
  const inbox = new Inbox(() => {
    if (device) definition.resumeInput?.(device);
  });
  /** The write in progress: the next one starts when it settles. */
  let writing: Promise<unknown> = Promise.resolve();

  return defineDriver({
    async init(driver) {
      device = {
        ...driver,
        received: (data) => inbox.push({ kind: 'input', data: data.slice() }),
        hangup: () => void inbox.push({ kind: 'hangup' }),
      };
      const bound = device;
      driver.server.serve(chardevInterface, {
        write: ({ data }) => {
          const done = writing.then(() => definition.write(bound, data));
          writing = done.catch(() => undefined);
          return done.then(() => ({ written: data.length }));
        },
        read: (request, call) => inbox.read(request, () => driver.server.isOpen(call)),
      });
      await definition.init(bound);
    },
    interrupt: () => {
      if (device) definition.interrupt?.(device);
    },
    audit: () => {
      if (device) definition.audit?.(device);
    },
    stop: async () => {
      if (device) await definition.stop?.(device);
    },
  });
}
