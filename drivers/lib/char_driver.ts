// The character-device class library: serves the chardev interface for any stream
// device (console, serial, entropy-as-stream), so a driver writes only "send these bytes"
// and reports what arrived.
//
//   export default defineCharDriver({
//     async init(device) { ...; device.received(bytes) on input ... },
//     write(device, bytes) { ...queue bytes to the hardware... },
//   });
//
// Input waits in an inbox until the reader reads it. Once the inbox holds READ_BUFFER_BYTES,
// `received` answers false: the driver should stop taking input from its device (which
// keeps it) until `resumeInput` is called. Writes are handed to the driver one at a time,
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
  stop?(device: CharDevice): void | Promise<void>;
}

type InboxEvent = { kind: 'input'; data: Uint8Array } | { kind: 'hangup' };

/** What arrived and was not read yet, and the readers waiting for it. */
class Inbox {
  private readonly events: InboxEvent[] = [];
  private bytes = 0;
  /** The far end is hung up as of the last byte read. */
  private hungUp = false;
  private refused = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly resume: () => void) {}

  push(event: InboxEvent): boolean {
    this.events.push(event);
    if (event.kind === 'input') this.bytes += event.data.length;
    for (const wake of [...this.waiters]) wake();
    if (this.bytes >= READ_BUFFER_BYTES) this.refused = true;
    return !this.refused;
  }

  /** Takes input for a reader; `present` says whether the reader is still there to get the reply. */
  async read(maximumBytes: number, waitMs: number, afterHangup: boolean, present: () => boolean): Promise<{ data: Uint8Array; ended: boolean }> {
    // A reader that does not know yet that the far end hung up is told at once.
    if (this.events.length === 0 && !(this.hungUp && !afterHangup)) await this.wait(waitMs);
    // A reader that went while it waited (its console restarted) must not take input with it.
    if (!present()) return { data: new Uint8Array(0), ended: this.hungUp };
    const taken: Uint8Array[] = [];
    let length = 0;
    while (length < maximumBytes && this.events[0]?.kind === 'input') {
      const event = this.events[0];
      const part = event.data.subarray(0, maximumBytes - length);
      taken.push(part);
      length += part.length;
      if (part.length === event.data.length) this.events.shift();
      else this.events[0] = { kind: 'input', data: event.data.subarray(part.length) };
    }
    if (length > 0) this.hungUp = false;
    if (this.events[0]?.kind === 'hangup' && length < maximumBytes) {
      this.events.shift();
      this.hungUp = true;
    }
    this.bytes -= length;
    if (this.refused && this.bytes < READ_BUFFER_BYTES / 2) {
      this.refused = false;
      this.resume();
    }
    const data = new Uint8Array(length);
    let offset = 0;
    for (const part of taken) {
      data.set(part, offset);
      offset += part.length;
    }
    return { data, ended: this.hungUp };
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
        read: ({ maximumBytes, waitMs, afterHangup }, call) => inbox.read(maximumBytes, waitMs, afterHangup, () => driver.server.isOpen(call)),
      });
      await definition.init(bound);
    },
    interrupt: () => {
      if (device) definition.interrupt?.(device);
    },
    stop: async () => {
      if (device) await definition.stop?.(device);
    },
  });
}
