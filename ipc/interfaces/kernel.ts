// The kernel's own service: what the console and the control CLI ask of the system.
//
// Served by the kernel thread. Reaching it needs "kernel" in a server's talksTo.

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';
import { errorClass, registerError } from '../errors.js';

const Name = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
const Done = Type.Object({ message: Type.String() });

export const ProcessRow = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('server'), Type.Literal('driver')]),
  generation: Type.Integer(),
  state: Type.String(),
  restarts: Type.Integer(),
  uptimeMs: Type.Number(),
  messages: Type.Integer(),
  /** Messages too large for a ring that went through lent RAM pages (ipc/bulk.ts). */
  bulk: Type.Integer(),
  /** Bytes of JavaScript heap the program's thread uses (its isolate's, as of its last heartbeat; 0 before one). */
  heapBytes: Type.Integer({ minimum: 0 }),
  device: Type.Optional(Type.String()),
});

/** Messages between one client and one server over one interface since boot (all its channels, restarts included). */
export const TrafficRow = Type.Object({
  client: Type.String(),
  server: Type.String(),
  interface: Type.String(),
  /** Frames the client sent: calls and one-way sends. */
  calls: Type.Integer({ minimum: 0 }),
  /** Frames the server sent back: replies, errors and notifications. */
  replies: Type.Integer({ minimum: 0 }),
});
export type TrafficRow = Static<typeof TrafficRow>;

export const kernelInterface = defineInterface({
  name: 'kernel',
  ops: {
    list: { id: 1, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(ProcessRow) }),
      doc: 'One row per server and driver instance, in boot order.' },
    restart: { id: 2, kind: 'call', args: Name, reply: Done, errors: ['NOT_FOUND', 'START_FAILED'], doc: 'Stops NAME and starts its next generation.' },
    stop: { id: 3, kind: 'call', args: Name, reply: Done, errors: ['NOT_FOUND', 'STOP_REFUSED'], doc: 'Stops NAME; it stays stopped until started.' },
    start: { id: 4, kind: 'call', args: Name, reply: Done, errors: ['NOT_FOUND', 'LOAD_FAILED', 'START_FAILED'],
      doc: 'Starts a stopped or failed NAME; a boot driver that was unloaded binds again to its devices.' },
    kill: { id: 5, kind: 'call', args: Name, reply: Done, errors: ['NOT_FOUND'], doc: 'Makes NAME crash, for the supervisor to handle.' },
    shutdown: { id: 6, kind: 'call', args: Type.Object({ status: Type.Integer({ minimum: 0, maximum: 255 }) }), reply: Done,
      doc: 'Stops every server, then powers the board off with the exit status.' },
    reboot: { id: 7, kind: 'call', args: Type.Object({}), reply: Done, doc: 'Stops every server and resets the board.' },
    memoryMap: { id: 8, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ text: Type.String() }) },
    deviceTree: { id: 9, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ text: Type.String() }) },
    kexec: { id: 11, kind: 'call', args: Type.Object({ image: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })) }), reply: Done,
      errors: ['KEXEC_FAILED'],
      doc: 'Loads IMAGE (default: the running build) and enters it keeping RAM, handing preserved memory over with KHO.' },
    kho: { id: 12, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ text: Type.String() }),
      doc: 'KHO state: scratch, outgoing FDT, subtrees, preserved blocks per order, tree pages; the incoming handover.' },
    khoDump: { id: 13, kind: 'call', args: Type.Object({ directory: Type.String({ minLength: 1, maxLength: 4096 }) }), reply: Done,
      doc: 'Writes the outgoing KHO FDT and every subtree blob to host files in DIRECTORY (debugfs kho/out).' },
    proceed: { id: 14, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({}),
      doc: 'After shutdown, reboot or kexec: the caller has shown the answer, go ahead now (otherwise the kernel goes ahead after a grace period).' },
    traffic: { id: 15, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(TrafficRow) }),
      doc: 'IPC messages since boot per client, server and interface, counted in the channels\' rings (the live view\'s IPC graph).' },
    initramfs: { id: 16, kind: 'call', idempotent: true, args: Type.Object({}),
      reply: Type.Object({ start: Type.Integer({ minimum: 0 }), end: Type.Integer({ minimum: 0 }) }),
      doc: 'Where the initrd is in RAM (/chosen linux,initrd-start and -end): the cpio newc initramfs the VFS unpacks into the root. Reserved RAM, readable by any program.' },
    changes: { id: 17, kind: 'call', idempotent: true,
      args: Type.Object({ after: Type.Integer({ minimum: 0 }), waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000, description: 'default 20000' })) }),
      reply: Type.Object({ epoch: Type.Integer({ minimum: 0, description: 'changes of the program list since boot' }) }),
      doc: 'Answers once the program list has changed since epoch AFTER (a program added or removed, or its state, hence generation or restarts, changed), or after WAITMS with the epoch unchanged: who shows ps asks list on change, not on a timer. Messages and uptime do not count as changes.' },
    waitForBoot: { id: 10, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ bootMs: Type.Number() }),
      doc: 'Resolves once every boot server has signalled ready (or failed).' },
  },
});

/** A restart or start ended with NAME not running (the message says its state). */
export class StartFailedError extends errorClass('START_FAILED') {}

/** Stopping NAME would make the rest of the system fail; the message says why. */
export class StopRefusedError extends errorClass('STOP_REFUSED') {}

registerError(StartFailedError.code, (message, data) => new StartFailedError(message, data));
registerError(StopRefusedError.code, (message, data) => new StopRefusedError(message, data));
