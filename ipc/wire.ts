// The wire format: every frame is one msgpack array (plain msgpack, no msgpackr records).
//
//   kind          direction        array
//   1 CALL        client → server  [1, callId, opId, args]
//   2 SEND        client → server  [2, opId, args]
//   3 REPLY       server → client  [3, callId, value]
//   4 ERROR       server → client  [4, callId, code, message]  or  [4, callId, code, message, data]
//   5 NOTIFICATION server → client [5, notificationId, args]
//
// callId is an integer 1 .. 2^32-1 chosen by the client; opId and notificationId are the
// ids of the interface definition. Decoding is split from shape checks: parseRequest and
// parseResponse turn an untrusted decoded value into a typed frame or say why they cannot,
// recovering the call id when there is one so the error can be answered.

import { checkBulkReference, type BulkReference } from './bulk.js';
import { Packr, RESET_BUFFER_MODE, Unpackr } from 'msgpackr';
import type { WireError } from './errors.js';

export const FRAME_CALL = 1;
export const FRAME_SEND = 2;
export const FRAME_REPLY = 3;
export const FRAME_ERROR = 4;
export const FRAME_NOTIFICATION = 5;
/** A CALL too large for the ring, lent in RAM pages (see bulk.ts): [6, callId, reference]. */
export const FRAME_BULK_CALL = 6;
/** A REPLY or ERROR too large for the ring, lent in RAM pages: [7, callId, reference]. */
export const FRAME_BULK_REPLY = 7;
/** The client has read a lent reply; the server may take its pages back: [8, callId]. */
export const FRAME_BULK_DONE = 8;

/** Largest call id; ids wrap around to 1 after it. */
export const MAX_CALL_ID = 0xffff_ffff;

// RESET_BUFFER_MODE: every frame is encoded at the same place in the encoder's buffer (it is
// copied into a ring, or sliced into a local queue, before the next encode).
const packer = new Packr({ useRecords: false });
// copyBuffers: decoded `bin` values are private copies, so frames can be decoded straight
// from a reused scratch buffer.
const unpacker = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false, copyBuffers: true });

/**
 * Encodes a CALL frame. The result is a view into a reused buffer: write or copy it before
 * the next encode (Uint8Array.prototype.slice: Buffer#slice does not copy). Throws whatever
 * msgpackr throws for values it cannot encode.
 *
 * @example
 * ring.tryWrite(encodeCall(7, op.id, { path: '/' }));
 */
export function encodeCall(callId: number, opId: number, args: unknown): Uint8Array {
  return packer.pack([FRAME_CALL, callId, opId, args], RESET_BUFFER_MODE);
}

/** Encodes a SEND frame (same buffer rules as encodeCall). */
/** A BULK_CALL: the CALL frame with `callId` is in RAM at `reference`. */
export function encodeBulkCall(callId: number, reference: BulkReference): Uint8Array {
  return packer.pack([FRAME_BULK_CALL, callId, reference], RESET_BUFFER_MODE);
}

export function encodeBulkReply(callId: number, reference: BulkReference): Uint8Array {
  return packer.pack([FRAME_BULK_REPLY, callId, reference], RESET_BUFFER_MODE);
}

export function encodeBulkDone(callId: number): Uint8Array {
  return packer.pack([FRAME_BULK_DONE, callId], RESET_BUFFER_MODE);
}

export function encodeSend(opId: number, args: unknown): Uint8Array {
  return packer.pack([FRAME_SEND, opId, args], RESET_BUFFER_MODE);
}

/** Encodes a REPLY frame (same buffer rules as encodeCall). */
export function encodeReply(callId: number, value: unknown): Uint8Array {
  return packer.pack([FRAME_REPLY, callId, value], RESET_BUFFER_MODE);
}

/** Encodes an ERROR frame (same buffer rules as encodeCall); `data` is left out when undefined. */
export function encodeError(callId: number, error: WireError): Uint8Array {
  return error.data === undefined
    ? packer.pack([FRAME_ERROR, callId, error.code, error.message], RESET_BUFFER_MODE)
    : packer.pack([FRAME_ERROR, callId, error.code, error.message, error.data], RESET_BUFFER_MODE);
}

/** Encodes a NOTIFICATION frame (same buffer rules as encodeCall). */
export function encodeNotification(notificationId: number, args: unknown): Uint8Array {
  return packer.pack([FRAME_NOTIFICATION, notificationId, args], RESET_BUFFER_MODE);
}

/**
 * Decodes the frame in `bytes[0, length)` (non-shared memory; decoded values do not refer to
 * it afterwards). Returns the value, or the reason it cannot be decoded.
 */
export function decodeFrame(bytes: Uint8Array, length = bytes.length): { readonly value: unknown } | { readonly error: string } {
  if (length === 0) return { error: 'empty frame' };
  try {
    return { value: unpacker.unpack(bytes, length) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : 'undecodable frame' };
  }
}

/** A client → server frame whose shape has been checked (args not yet: see define.ts). */
export type Request =
  | { readonly kind: typeof FRAME_CALL; readonly callId: number; readonly opId: number; readonly args: unknown }
  | { readonly kind: typeof FRAME_SEND; readonly opId: number; readonly args: unknown }
  | { readonly kind: typeof FRAME_BULK_CALL; readonly callId: number; readonly reference: BulkReference }
  | { readonly kind: typeof FRAME_BULK_DONE; readonly callId: number };

/** A server → client frame whose shape has been checked. */
export type Response =
  | { readonly kind: typeof FRAME_REPLY; readonly callId: number; readonly value: unknown }
  | { readonly kind: typeof FRAME_ERROR; readonly callId: number; readonly error: WireError }
  | { readonly kind: typeof FRAME_NOTIFICATION; readonly notificationId: number; readonly args: unknown }
  | { readonly kind: typeof FRAME_BULK_REPLY; readonly callId: number; readonly reference: BulkReference };

/** A frame that has no valid shape; callId is set when one could be recovered. */
export interface Malformed {
  readonly kind: 'malformed';
  readonly reason: string;
  readonly callId?: number;
}

/** Checks the shape of a decoded client → server frame. */
export function parseRequest(value: unknown): Request | Malformed {
  if (!Array.isArray(value) || value.length === 0) return { kind: 'malformed', reason: 'frame is not a non-empty array' };
  const kind = value[0];
  if (kind === FRAME_CALL) {
    const callId = value[1];
    if (!isCallId(callId)) return { kind: 'malformed', reason: 'CALL frame without a valid call id' };
    if (value.length !== 4) return { kind: 'malformed', reason: `CALL frame has ${value.length} elements, not 4`, callId };
    const opId = value[2];
    if (!isWireId(opId)) return { kind: 'malformed', reason: 'CALL frame without a valid op id', callId };
    return { kind: FRAME_CALL, callId, opId, args: value[3] };
  }
  if (kind === FRAME_SEND) {
    if (value.length !== 3 || !isWireId(value[1])) return { kind: 'malformed', reason: 'SEND frame is not [2, opId, args]' };
    return { kind: FRAME_SEND, opId: value[1], args: value[2] };
  }
  if (kind === FRAME_BULK_CALL) {
    const callId = value[1];
    if (!isCallId(callId)) return { kind: 'malformed', reason: 'BULK_CALL frame without a valid call id' };
    const reference = value.length === 3 ? checkBulkReference(value[2]) : undefined;
    if (!reference) return { kind: 'malformed', reason: 'BULK_CALL frame is not [6, callId, {pa, length, grant}]', callId };
    return { kind: FRAME_BULK_CALL, callId, reference };
  }
  if (kind === FRAME_BULK_DONE) {
    if (value.length !== 2 || !isCallId(value[1])) return { kind: 'malformed', reason: 'BULK_DONE frame is not [8, callId]' };
    return { kind: FRAME_BULK_DONE, callId: value[1] };
  }
  return { kind: 'malformed', reason: `unexpected frame kind ${describeKind(kind)} from a client` };
}

/** Checks the shape of a decoded server → client frame. */
export function parseResponse(value: unknown): Response | Malformed {
  if (!Array.isArray(value) || value.length === 0) return { kind: 'malformed', reason: 'frame is not a non-empty array' };
  const kind = value[0];
  if (kind === FRAME_REPLY || kind === FRAME_ERROR) {
    const callId = value[1];
    if (!isCallId(callId)) return { kind: 'malformed', reason: 'reply without a valid call id' };
    if (kind === FRAME_REPLY) {
      if (value.length !== 3) return { kind: 'malformed', reason: `REPLY frame has ${value.length} elements, not 3`, callId };
      return { kind: FRAME_REPLY, callId, value: value[2] };
    }
    const [, , code, message, data] = value as unknown[];
    if ((value.length !== 4 && value.length !== 5) || typeof code !== 'string' || code.length === 0 || typeof message !== 'string') {
      return { kind: 'malformed', reason: 'ERROR frame is not [4, callId, code, message, data?]', callId };
    }
    return { kind: FRAME_ERROR, callId, error: value.length === 5 ? { code, message, data } : { code, message } };
  }
  if (kind === FRAME_BULK_REPLY) {
    const callId = value[1];
    if (!isCallId(callId)) return { kind: 'malformed', reason: 'BULK_REPLY without a valid call id' };
    const reference = value.length === 3 ? checkBulkReference(value[2]) : undefined;
    if (!reference) return { kind: 'malformed', reason: 'BULK_REPLY frame is not [7, callId, {pa, length, grant}]', callId };
    return { kind: FRAME_BULK_REPLY, callId, reference };
  }
  if (kind === FRAME_NOTIFICATION) {
    if (value.length !== 3 || !isWireId(value[1])) return { kind: 'malformed', reason: 'NOTIFICATION frame is not [5, id, args]' };
    return { kind: FRAME_NOTIFICATION, notificationId: value[1], args: value[2] };
  }
  return { kind: 'malformed', reason: `unexpected frame kind ${describeKind(kind)} from a server` };
}

function isCallId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_CALL_ID;
}

function isWireId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0x7fff_ffff;
}

function describeKind(kind: unknown): string {
  return typeof kind === 'number' ? String(kind) : typeof kind;
}
