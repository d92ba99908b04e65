// The block-device class library, after MINIX's libblockdriver: serves the block
// interface (ipc/interfaces/block.ts) for any disk, so a block driver writes only
// "submit this request to the device" and, when the device has finished it, "complete".
//
//   export default defineBlockDriver({
//     async init(disk) { ...bring the device up...; return { sectors, sectorBytes: 512, readOnly, serial } },
//     submit(disk, request) { ...start it on the device; false when the device has no room... },
//     interrupt(disk) { ...for each finished request: disk.complete(request, 'ok') },
//   });
//
// What the library does, so no driver has to:
//   - checks every request before the driver sees it: zero length, unaligned length, out
//     of range, write to a read-only disk, buffer outside RAM or larger than the disk's
//     largest transfer (each a typed error, see the interface);
//   - keeps requests the device has no room for, in arrival order, and submits them as
//     completions free room — many requests are in flight at once;
//   - answers the client only when the driver completes the request, so nothing is
//     acknowledged before the device has done it;
//   - counts reads, writes, flushes, requests served and errors (the `stats` op);
//   - on a clean stop, lets the requests in flight finish before the driver's stop.
// If the driver dies instead, the kernel closes its channels: every request in flight
// fails in its client with PEER_RESTARTED, never silently.

import { blockInterface, DeviceIoError, OutOfRangeError, ReadOnlyError, UnalignedError, ZeroLengthError, type BufferReference, type DiskStats } from '../../ipc/interfaces/block.js';
import { InvalidArgumentError, NotSupportedError, PermissionDeniedError } from '../../ipc/errors.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import type { ServerDefinition } from '../../microkernel/userlib/server.js';
import { defineDriver, type DriverContext } from './driver.js';

/** Largest single request when the driver does not say (4 MiB). */
export const DEFAULT_MAX_TRANSFER_BYTES = 4 * 1024 * 1024;
/** How long a clean stop waits for requests in flight. */
const STOP_DRAIN_MS = 500;

export type BlockOperation = 'read' | 'write' | 'flush';

/** One checked request, as the driver submits it to its device. */
export interface BlockRequest {
  /** Unique within this generation of the driver. */
  readonly id: number;
  readonly operation: BlockOperation;
  /** First sector (0 for flush). */
  readonly sector: number;
  /** Length in bytes, a whole number of sectors (0 for flush). */
  readonly bytes: number;
  /** Physical address of the client's buffer: the device reads from or writes into it directly (0 for flush). */
  readonly address: number;
}

/** How the device finished a request. */
export type BlockCompletion = 'ok' | 'io-error' | 'unsupported';

/** What init reports about the disk. */
export interface BlockGeometry {
  readonly sectors: number;
  readonly sectorBytes: number;
  readonly readOnly: boolean;
  readonly serial: string;
  /** Largest request the device takes at once (default DEFAULT_MAX_TRANSFER_BYTES). */
  readonly maxTransferBytes?: number;
}

export interface BlockDevice extends DriverContext {
  /** The device finished `request`: answers its client. Call once per submitted request. */
  complete(request: BlockRequest, status: BlockCompletion): void;
}

export interface BlockDriverDefinition {
  /** Brings the device up and describes the disk. Requests arrive only after it resolves. */
  init(disk: BlockDevice): BlockGeometry | Promise<BlockGeometry>;
  /** Starts `request` on the device; returns false if the device has no room now (it is submitted again after the next completion). */
  submit(disk: BlockDevice, request: BlockRequest): boolean;
  /** The device raised its interrupt: complete what it finished. */
  interrupt?(disk: BlockDevice): void;
  /** Checks the device's queues are intact (DriverDefinition.audit). */
  audit?(disk: BlockDevice): void;
  /** A clean stop, after the requests in flight finished (or STOP_DRAIN_MS passed). */
  stop?(disk: BlockDevice): void | Promise<void>;
}

interface Pending {
  readonly request: BlockRequest;
  resolve(value: { bytes: number } | Record<string, never>): void;
  reject(error: Error): void;
}

type Transfer = { sector: number; bytes: number; buffer: BufferReference };

/**
 * Makes a driver module out of a block driver's submit/complete handlers.
 *
 * @example
 * export default defineBlockDriver({
 *   async init(disk) { ...; return { sectors: 2048, sectorBytes: 512, readOnly: false, serial: 'disk0' }; },
 *   submit(disk, request) { return device.start(request); },   // false: no room now
 *   interrupt(disk) { for (const done of device.finished()) disk.complete(done, 'ok'); },
 * });
 */
export function defineBlockDriver(definition: BlockDriverDefinition): ServerDefinition {
  let disk: BlockDevice | undefined;
  let geometry: Required<BlockGeometry> | undefined;
  let nextId = 1;
  const inFlight = new Map<number, Pending>();
  const waiting: Pending[] = [];
  let drained: (() => void) | undefined;
  const stats: { -readonly [K in keyof DiskStats]: DiskStats[K] } = {
    reads: 0, writes: 0, flushes: 0, served: 0, errors: 0, inFlight: 0, bytesRead: 0, bytesWritten: 0,
  };

  /** Submits waiting requests in order until the device has no room. */
  const pump = (): void => {
    while (disk && waiting.length > 0) {
      const next = waiting[0]!;
      inFlight.set(next.request.id, next);
      if (!definition.submit(disk, next.request)) {
        inFlight.delete(next.request.id);
        return;
      }
      waiting.shift();
    }
  };

  const enqueue = (operation: BlockOperation, sector: number, bytes: number, address: number) =>
    new Promise<{ bytes: number } | Record<string, never>>((resolve, reject) => {
      waiting.push({ request: { id: nextId++, operation, sector, bytes, address }, resolve, reject });
      pump();
    });

  const complete = (request: BlockRequest, status: BlockCompletion): void => {
    const pending = inFlight.get(request.id);
    if (!pending || pending.request !== request) {
      disk?.log.warn({ request: request.id }, 'complete() for a request that is not in flight: ignored');
      return;
    }
    inFlight.delete(request.id);
    if (status === 'ok') {
      stats.served++;
      if (request.operation === 'read') stats.bytesRead += request.bytes;
      if (request.operation === 'write') stats.bytesWritten += request.bytes;
      pending.resolve(request.operation === 'flush' ? {} : { bytes: request.bytes });
    } else {
      stats.errors++;
      const what = request.operation === 'flush' ? 'flush' : `${request.operation} of ${request.bytes} bytes at sector ${request.sector}`;
      pending.reject(status === 'unsupported'
        ? new NotSupportedError(`${disk?.name}: the device does not support ${request.operation}`)
        : new DeviceIoError(`${disk?.name}: ${what} failed in the device`, { sector: request.sector, bytes: request.bytes }));
    }
    pump();
    if (inFlight.size === 0 && waiting.length === 0) drained?.();
  };

  /** Checks a transfer completely before anything happens; returns the buffer's address. */
  const check = (operation: 'read' | 'write', { sector, bytes, buffer }: Transfer, ram: DriverContext['ram']): number => {
    const shape = geometry!;
    if (bytes === 0) throw new ZeroLengthError(`${operation} of 0 bytes: a request needs at least one sector`);
    if (bytes % shape.sectorBytes !== 0) {
      throw new UnalignedError(`${operation} of ${bytes} bytes: not a whole number of ${shape.sectorBytes}-byte sectors`);
    }
    if (operation === 'write' && shape.readOnly) throw new ReadOnlyError(`${disk!.name} is read-only`);
    const count = bytes / shape.sectorBytes;
    if (!Number.isSafeInteger(sector + count) || sector + count > shape.sectors) {
      throw new OutOfRangeError(`${operation} of sectors ${sector}..${sector + count - 1}: the disk has ${shape.sectors} sectors (0..${shape.sectors - 1})`,
        { sector, bytes, sectors: shape.sectors });
    }
    if (bytes > shape.maxTransferBytes) {
      throw new InvalidArgumentError(`${operation} of ${bytes} bytes: larger than this disk's largest transfer, ${shape.maxTransferBytes} bytes`);
    }
    if (!ram.contains(buffer.address, bytes)) {
      throw new InvalidArgumentError(`buffer 0x${buffer.address.toString(16)}+${bytes} is not inside RAM`);
    }
    return buffer.address;
  };

  const counted = async <T>(action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      if (!(error instanceof DeviceIoError || error instanceof NotSupportedError)) stats.errors++; // completion errors are counted in complete()
      throw error;
    }
  };

  return defineDriver({
    async init(driver) {
      disk = { ...driver, complete };
      const described = await definition.init(disk);
      geometry = { ...described, maxTransferBytes: described.maxTransferBytes ?? DEFAULT_MAX_TRANSFER_BYTES };
      const bound = disk;
      driver.server.serve(blockInterface, {
        info: () => ({ ...geometry! }),
        read: (args, call) => counted(async () => {
          const address = check('read', args, bound.ram);
          if (bound.server.system.checked) await checkLent(bound, call.clientName, address, args.bytes, 'write');
          stats.reads++;
          return enqueue('read', args.sector, args.bytes, address) as Promise<{ bytes: number }>;
        }),
        write: (args, call) => counted(async () => {
          const address = check('write', args, bound.ram);
          if (bound.server.system.checked) await checkLent(bound, call.clientName, address, args.bytes, 'read');
          stats.writes++;
          return enqueue('write', args.sector, args.bytes, address) as Promise<{ bytes: number }>;
        }),
        flush: () => counted(async () => {
          stats.flushes++;
          await enqueue('flush', 0, 0, 0);
          return {};
        }),
        stats: () => ({ ...stats, inFlight: inFlight.size + waiting.length }),
      });
    },
    interrupt() {
      if (disk) definition.interrupt?.(disk);
    },
    audit() {
      if (disk) definition.audit?.(disk);
    },
    async stop() {
      if (!disk) return;
      if (inFlight.size > 0 || waiting.length > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, STOP_DRAIN_MS);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      await definition.stop?.(disk);
    },
  });
}

/**
 * Checked mode (the `checked` boot argument, on in the whole-system tests): before the
 * device touches a client's buffer on its behalf, the memory service confirms the client
 * owns it or was lent it; otherwise the request is refused and who and where are logged.
 */
async function checkLent(driver: DriverContext, client: string | undefined, address: number, bytes: number, access: 'read' | 'write'): Promise<void> {
  const verdict = await driver.server.connect(memoryInterface, 'memory').checkAccess({ ...(client ? { accessor: client } : {}), pa: address, length: bytes, access });
  if (verdict.allowed) return;
  const where = `0x${address.toString(16)}+${bytes}`;
  driver.log.warn({ client, address, bytes, owner: verdict.owner }, `checked mode: ${client ?? 'a client'} passed ${where}, which it neither owns nor was lent (${verdict.reason ?? 'no access'})`);
  throw new PermissionDeniedError(`checked mode: buffer ${where} is neither owned by nor lent to ${client ?? 'the caller'}`);
}
