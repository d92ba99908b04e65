// The character-device class library: serves the chardev interface for any stream
// device (console, serial, entropy-as-stream), so a driver writes only "send these bytes"
// and reports what arrived.
//
//   export default defineCharDriver({
//     async init(device) { ...; device.received(bytes) on input ... },
//     write(device, bytes) { ...queue bytes to the hardware... },
//   });

import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import type { CallContext } from '../../ipc/define.js';
import type { ServerDefinition } from '../../microkernel/userlib/server.js';
import { defineDriver, type DriverContext } from './driver.js';

/** Input kept for a reader that has not called listen yet (bytes). */
const EARLY_INPUT_LIMIT = 64 * 1024;

export interface CharDevice extends DriverContext {
  /** Bytes arrived from the device: delivered to the reader. */
  received(data: Uint8Array): void;
  /** The far end hung up (end of input). */
  hangup(): void;
}

export interface CharDriverDefinition {
  init(device: CharDevice): void | Promise<void>;
  /** Sends bytes; resolves when the device has taken them. */
  write(device: CharDevice, data: Uint8Array): void | Promise<void>;
  interrupt?(device: CharDevice): void;
  stop?(device: CharDevice): void | Promise<void>;
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
  let reader: number | undefined;
  let early: Array<{ kind: 'input'; data: Uint8Array } | { kind: 'hangup' }> = [];
  let earlyBytes = 0;

  const deliver = (event: { kind: 'input'; data: Uint8Array } | { kind: 'hangup' }) => {
    if (!device) return;
    if (reader === undefined) {
      if (event.kind === 'input') {
        if (earlyBytes + event.data.length > EARLY_INPUT_LIMIT) return;
        earlyBytes += event.data.length;
      }
      early.push(event);
      return;
    }
    const server = device.server;
    if (event.kind === 'input') server.notify(reader, chardevInterface, 'input', { device: device.name, data: event.data });
    else server.notify(reader, chardevInterface, 'hangup', { device: device.name });
  };

  return defineDriver({
    async init(driver) {
      device = {
        ...driver,
        received: (data) => deliver({ kind: 'input', data: data.slice() }),
        hangup: () => deliver({ kind: 'hangup' }),
      };
      const bound = device;
      driver.server.serve(chardevInterface, {
        write: async ({ data }) => {
          await definition.write(bound, data);
          return { written: data.length };
        },
        listen: (_, call: CallContext) => {
          reader = call.channelId;
          const pending = early;
          early = [];
          earlyBytes = 0;
          for (const event of pending) deliver(event);
          return {};
        },
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
