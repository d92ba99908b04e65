// The driver manager, served by the kernel: the device-tree devices and who drives them,
// and loading and unloading drivers in a running system.
//
// Reaching it needs "drivers" in a program's talksTo.

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';
import { IpcError, errorClass } from '../errors.js';

export const DeviceRow = Type.Object({
  /** Device-tree path, e.g. "/soc/virtio_mmio@10001000". */
  path: Type.String(),
  compatible: Type.Array(Type.String()),
  /** Register range (physical address and size in bytes). */
  base: Type.Integer(),
  size: Type.Integer(),
  interrupt: Type.Optional(Type.Integer()),
  /** virtio device id read from the transport (0: empty slot), for virtio-mmio nodes. */
  virtioDeviceId: Type.Optional(Type.Integer()),
  /** Instance bound to it; "kernel" for the devices the kernel drives itself. */
  driver: Type.Optional(Type.String()),
  /** "unbound", or the bound instance's state (running, starting, restarting, failed, ...). */
  state: Type.String(),
  /** Generation of the bound instance, 0 when unbound. */
  generation: Type.Integer(),
  /** Interfaces the bound driver serves. */
  serves: Type.Array(Type.String()),
  /** Times the device raised its interrupt since the board powered on. */
  interrupts: Type.Optional(Type.Integer({ minimum: 0 })),
  /** virtio: each queue's size and the buffers the device holds (made available by the driver, not yet used), as the device model publishes them. */
  queues: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), size: Type.Integer(), inUse: Type.Integer() }))),
});

export type DeviceRow = Static<typeof DeviceRow>;

export const DriverRow = Type.Object({
  name: Type.String(),
  version: Type.String(),
  /** Where it came from: "boot", or the host folder it was loaded from. */
  source: Type.String(),
  instances: Type.Array(Type.String()),
});

const Message = Type.Object({ message: Type.String() });

/** A server started for one disk (microkernel/disk_servers.ts): an ext2 instance on its disk. */
export const DiskServerRow = Type.Object({
  name: Type.String(),
  /** The per-disk server it is an instance of ("ext2"). */
  server: Type.String(),
  disk: Type.String(),
  /** What the disk holds, as the server's manifest names it ("ext2"). */
  holds: Type.String(),
  access: Type.Union([Type.Literal('read-write'), Type.Literal('read-only')]),
  state: Type.String(),
  lastExit: Type.Optional(Type.String()),
});
export type DiskServerRow = Static<typeof DiskServerRow>;

/** A driver manifest was refused; `data.field` names the field, `data.reason` says why. */
export class InvalidManifestError extends IpcError {
  static readonly code = 'INVALID_MANIFEST';
  constructor(message: string, data?: { field?: string; reason?: string }) {
    super(InvalidManifestError.code, message, data);
  }
}

/** A driver folder could not be loaded (missing, does not compile, module not found). */
export class LoadFailedError extends errorClass('LOAD_FAILED') {}

/** The same (or a newer) version of the driver is already loaded. */
export class AlreadyLoadedError extends errorClass('ALREADY_LOADED') {}

export const driversInterface = defineInterface({
  name: 'drivers',
  ops: {
    devices: { id: 1, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(DeviceRow) }),
      doc: 'Every device node on the bus, in tree order: compatible, registers, interrupt, bound driver, state, generation.' },
    load: { id: 2, kind: 'call',
      args: Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096, description: 'host folder with manifest.json and main.ts' }) }),
      reply: Type.Object({ message: Type.String(), instances: Type.Array(Type.String()) }),
      errors: ['INVALID_MANIFEST', 'LOAD_FAILED', 'ALREADY_LOADED'],
      doc: 'Validates, compiles and binds the driver in the host folder PATH to matching unbound devices; a newer version of a loaded driver replaces it.' },
    unload: { id: 3, kind: 'call', args: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }), reply: Message,
      errors: ['NOT_FOUND', 'INVALID_ARGUMENT'],
      doc: 'Stops the driver NAME (every instance, or one instance name.N) and releases its devices.' },
    drivers: { id: 4, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(DriverRow) }),
      doc: 'The drivers the kernel knows: from the boot manifest and loaded since.' },
    diskServers: { id: 5, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(DiskServerRow) }),
      doc: 'The servers started per disk (a filesystem on each disk that holds one): disk, access, state.' },
    startDiskServer: { id: 6, kind: 'call',
      args: Type.Object({ disk: Type.String({ minLength: 1, maxLength: 128 }), server: Type.String({ minLength: 1, maxLength: 64 }) }),
      reply: Type.Object({ name: Type.String(), running: Type.Boolean(), message: Type.String() }),
      errors: ['NOT_FOUND', 'INVALID_ARGUMENT'],
      doc: 'Starts the per-disk server SERVER (e.g. ext2) for DISK, whatever the disk held at boot (after mkfs); refused when one serves it already.' },
  },
  errors: [InvalidManifestError, LoadFailedError, AlreadyLoadedError],
});

