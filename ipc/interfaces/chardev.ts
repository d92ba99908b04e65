// A character device: a byte stream in each direction (consoles, serial ports).
//
// The class library drivers/lib/char_driver.ts serves this for any stream driver.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

export const chardevInterface = defineInterface({
  name: 'chardev',
  ops: {
    write: { id: 1, kind: 'call', args: Type.Object({ data: Type.Uint8Array({ maxByteLength: 32768 }) }),
      reply: Type.Object({ written: Type.Integer() }),
      doc: 'Queues bytes for output; resolves when the device has taken them.' },
    listen: { id: 2, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({}),
      doc: 'Makes the caller the reader: input arrives as `input` notifications, end of input as `hangup`, each naming the device.' },
  },
  notifications: {
    input: { id: 100, args: Type.Object({ device: Type.String(), data: Type.Uint8Array() }) },
    hangup: { id: 101, args: Type.Object({ device: Type.String() }) },
  },
});
