// A block device: fixed-size sectors, read and written by sector range.
//
// Data moves by reference, never through the IPC ring: the client names a buffer in RAM
// and the device moves the bytes by DMA straight into or out of it. Today the reference
// is the physical address of DMA memory the client owns (ServerContext.allocateDma);
// when the memory server hands out grants, a `{ kind: 'grant', ... }` member joins the
// BufferReference union and clients switch to it without any other change.
//
// Every request is checked before it reaches the device:
//
//   ZERO_LENGTH   bytes is 0
//   UNALIGNED     bytes is not a whole number of sectors
//   OUT_OF_RANGE  the range runs past the last sector (data: sector, bytes, sectors)
//   READ_ONLY     a write to a read-only disk
//   INVALID_ARGUMENT  the buffer is not inside RAM, or longer than maxTransferBytes
//   IO_ERROR      the device failed the request (virtio status IOERR / UNSUPP)
//   PEER_RESTARTED  the driver died with the request in flight: the request may or may
//                 not have reached the disk (reads and flushes are retried once for you)
//
// A write is acknowledged only after the device has written it to its backing store; a
// flush is acknowledged once every earlier acknowledged write is durable.
//
// The class library drivers/lib/block_driver.ts serves this for any block driver.

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';
import { IpcError, errorClass } from '../errors.js';

/** Where a request's data lives: for now, a physical address of client-owned DMA memory. */
export const BufferReference = Type.Union([
  Type.Object({
    kind: Type.Literal('physical'),
    address: Type.Integer({ minimum: 0, description: 'physical address of the first byte' }),
  }, { additionalProperties: false }),
]);
export type BufferReference = Static<typeof BufferReference>;

const Transfer = Type.Object({
  sector: Type.Integer({ minimum: 0, description: 'first sector' }),
  bytes: Type.Integer({ minimum: 0, description: 'length, a whole number of sectors' }),
  buffer: BufferReference,
});

export const DiskInfo = Type.Object({
  sectorBytes: Type.Integer({ minimum: 1 }),
  sectors: Type.Integer({ minimum: 0 }),
  readOnly: Type.Boolean(),
  serial: Type.String(),
  maxTransferBytes: Type.Integer({ minimum: 1 }),
});
export type DiskInfo = Static<typeof DiskInfo>;

export const DiskStats = Type.Object({
  reads: Type.Integer(),
  writes: Type.Integer(),
  flushes: Type.Integer(),
  /** Requests completed successfully. */
  served: Type.Integer(),
  /** Requests refused or failed (any error reply). */
  errors: Type.Integer(),
  inFlight: Type.Integer(),
  bytesRead: Type.Integer(),
  bytesWritten: Type.Integer(),
});
export type DiskStats = Static<typeof DiskStats>;

const BLOCK_ERRORS = ['ZERO_LENGTH', 'UNALIGNED', 'OUT_OF_RANGE', 'INVALID_ARGUMENT', 'IO_ERROR', 'PEER_RESTARTED'];

/** The request names no data (bytes = 0). */
export class ZeroLengthError extends errorClass('ZERO_LENGTH') {}

/** The length is not a whole number of sectors. */
export class UnalignedError extends errorClass('UNALIGNED') {}

/** The sector range runs past the end of the disk. */
export class OutOfRangeError extends IpcError {
  static readonly code = 'OUT_OF_RANGE';
  constructor(message: string, data?: { sector: number; bytes: number; sectors: number }) {
    super(OutOfRangeError.code, message, data);
  }
}

/** The disk is read-only. */
export class ReadOnlyError extends errorClass('READ_ONLY') {}

/** The device reported failure for the request. */
export class DeviceIoError extends errorClass('IO_ERROR') {}

/**
 * The block service of one disk.
 *
 * @example
 * const disk = context.connect(blockInterface, 'virtio-blk');
 * const buffer = await context.allocateDma(4096);
 * await disk.read({ sector: 0, bytes: 4096, buffer: { kind: 'physical', address: buffer } });
 */
export const blockInterface = defineInterface({
  name: 'block',
  ops: {
    info: { id: 1, kind: 'call', idempotent: true, args: Type.Object({}), reply: DiskInfo,
      doc: 'Sector size, capacity in sectors, read-only, serial, largest request.' },
    read: { id: 2, kind: 'call', idempotent: true, args: Transfer, reply: Type.Object({ bytes: Type.Integer() }), errors: BLOCK_ERRORS,
      doc: 'Reads `bytes` from `sector` on into the buffer.' },
    write: { id: 3, kind: 'call', args: Transfer, reply: Type.Object({ bytes: Type.Integer() }), errors: [...BLOCK_ERRORS, 'READ_ONLY'],
      doc: 'Writes `bytes` from the buffer to `sector` on; resolves once the device has stored them.' },
    flush: { id: 4, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({}), errors: ['IO_ERROR', 'PEER_RESTARTED'],
      doc: 'Makes every write acknowledged so far durable.' },
    stats: { id: 5, kind: 'call', idempotent: true, args: Type.Object({}), reply: DiskStats,
      doc: 'Counters of this driver generation.' },
  },
  errors: [ZeroLengthError, UnalignedError, OutOfRangeError, ReadOnlyError, DeviceIoError],
});

