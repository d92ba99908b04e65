// A character device: a byte stream in each direction (consoles, serial ports).
//
// Input is pulled: the reader calls `read`, which waits (up to `waitMs`) for bytes. The
// driver keeps what arrived until the reader says it holds it, and stops taking input from
// the device while it keeps `READ_BUFFER_BYTES` (the device keeps the rest), so nothing
// typed is lost to a slow reader. Input is a numbered stream: each input byte, and each
// hangup, is one position of the driver generation's `stream`. A read answers with what
// follows the reader's `from` and says where it starts (`at`) and where the next read
// should start (`next`); the driver forgets input only when a later read's `from` passes
// it. So a reader that keeps `from` with what it read (in preserved memory) and dies at any
// moment — before or after the reply reached it — reads the same input again in its next
// generation, never less and never twice. A driver that restarts starts a new stream (its
// number differs): a `from` of another stream forgets nothing, and a pending read fails
// with PEER_RESTARTED.
// Writes are taken in the order they arrive, whole: two clients' writes never interleave.
//
// The class library drivers/lib/char_driver.ts serves this for any stream driver.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

/** Input a driver holds for its reader before it leaves the rest in the device. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** The most bytes one `read` returns. */
export const READ_MAXIMUM_BYTES = 16 * 1024;
/** The longest a `read` may wait; shorter than a call's default timeout (10 s). */
export const READ_MAXIMUM_WAIT_MS = 5000;

/** A stream number or position: u32 (positions wrap around). */
const StreamNumber = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });

export const chardevInterface = defineInterface({
  name: 'chardev',
  ops: {
    write: { id: 1, kind: 'call', args: Type.Object({ data: Type.Uint8Array({ maxByteLength: 32768 }) }),
      reply: Type.Object({ written: Type.Integer() }),
      doc: 'Queues bytes for output; resolves when the device has taken them. Writes are taken whole, in the order they arrive.' },
    read: { id: 2, kind: 'call',
      args: Type.Object({
        maximumBytes: Type.Integer({ minimum: 1, maximum: READ_MAXIMUM_BYTES }),
        waitMs: Type.Integer({ minimum: 0, maximum: READ_MAXIMUM_WAIT_MS }),
        /** The caller already knows the far end hung up: wait for the next connection's input instead of being told again. */
        afterHangup: Type.Boolean(),
        /** The stream `from` counts in: the `stream` of the read that gave it (0 before any read). */
        stream: StreamNumber,
        /** The caller holds everything of `stream` before this position (a previous reply's `next`): the driver may forget it. */
        from: StreamNumber,
      }),
      reply: Type.Object({
        data: Type.Uint8Array(),
        ended: Type.Boolean(),
        /** This driver generation's input stream (never 0). */
        stream: StreamNumber,
        /** The stream position of data[0]. */
        at: StreamNumber,
        /** The position after this reply: past its data, and past the hangup it ends with, if `ended` is this reply's own. */
        next: StreamNumber,
      }),
      doc: 'Input bytes, in order, as soon as there are some (at most maximumBytes; empty after waitMs with none). '
        + '`ended`: after these bytes the far end is hung up (end of input; a socket console: its client left). '
        + 'Bytes never span a hangup: a read stops at one, and the next connection\'s input comes in later reads. '
        + 'Nothing is taken away by a read: the same input comes again until a read\'s `from` passes it.' },
  },
});
