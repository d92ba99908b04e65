// The boot manifest: which servers and drivers make up the system, what each may reach,
// and how the supervisor treats it. Data, not code (after Hubris's app.toml and
// SerenityOS's SystemServer.ini); validated in full before anything starts.
//
// The board places the resolved manifest in RAM inside the initrd (a cpio newc initramfs of
// sysroot/, the manifest its member boot/manifest.json); sysroot/boot/*.json and each
// driver's manifest.json are its sources (see tools/boot_image.ts, tools/initramfs.ts).

import { Type, type Static } from '../ipc/typebox.js';
import { TypeCompiler } from '../ipc/typebox.js';
import { firstSchemaFault, type SchemaError } from './schema_errors.js';

/** The initramfs member that holds the resolved boot manifest. */
export const INITRD_MANIFEST_MEMBER = 'boot/manifest.json';

export const RestartPolicy = Type.Object({
  policy: Type.Union([Type.Literal('always'), Type.Literal('never')], { default: 'always' }),
  maximumQuickFailures: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  minimumRunMs: Type.Integer({ minimum: 0, default: 5000 }),
  backoffInitialMs: Type.Integer({ minimum: 0, default: 100 }),
  backoffCapMs: Type.Integer({ minimum: 0, default: 5000 }),
}, { additionalProperties: false });

export const DeviceMatch = Type.Object({
  compatible: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  virtioDeviceId: Type.Optional(Type.Integer({ minimum: 1, maximum: 255 })),
}, { additionalProperties: false });

/**
 * What a server started once per disk looks for on the disk, as blkid probes a device: the
 * bytes at `offset` (ext2: 1080, the superblock's s_magic). A disk that holds them gets its
 * own instance with config `disk` (the block service) and `access` (read-only when the
 * disk is); see microkernel/disk_servers.ts.
 */
export const DiskMatch = Type.Object({
  offset: Type.Integer({ minimum: 0, maximum: 65536 - 16 }),
  magic: Type.String({ pattern: '^([0-9a-f]{2}){1,16}$', description: 'the bytes at offset, in lower-case hex' }),
  /** What the disk holds, as the boot log and mount name it (e.g. "ext2"). */
  holds: Type.String({ minLength: 1, maxLength: 32 }),
}, { additionalProperties: false });

const ServiceName = Type.String({ pattern: '^[a-z][a-z0-9-]*$', maxLength: 64,
  description: 'lower-case letters, digits and "-", starting with a letter, at most 64 characters' });

/** Default of a program's startTimeoutMs. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;

/** What a driver needs of the device it binds to; a device that cannot offer it is not bound. */
export const DeviceNeeds = Type.Object({
  /** Interrupt lines the device must have (the device tree node's `interrupts`). */
  interrupts: Type.Integer({ minimum: 0, maximum: 1, default: 1 }),
  /** Smallest register range (the node's `reg` size) the driver will touch. */
  registerBytes: Type.Integer({ minimum: 0, maximum: 0x1000_0000, default: 0 }),
}, { additionalProperties: false, default: {} });

export const ProgramSpec = Type.Object({
  name: ServiceName,
  kind: Type.Union([Type.Literal('server'), Type.Literal('driver')]),
  version: Type.String({ default: '0.0.0' }),
  entry: Type.String({ minLength: 1, description: 'URL of the compiled module' }),
  serves: Type.Array(ServiceName, { default: [] }),
  talksTo: Type.Array(Type.String(), { default: [] }),
  match: Type.Optional(DeviceMatch),
  needs: Type.Optional(DeviceNeeds),
  /** A server started once per disk that holds this, instead of once at boot. */
  diskMatch: Type.Optional(DiskMatch),
  restart: RestartPolicy,
  heartbeatMs: Type.Integer({ minimum: 50, maximum: 60000, default: 500 }),
  /** How long a generation may take to become ready before the supervisor treats it as hung. */
  memoryLimitPages: Type.Optional(Type.Integer({ minimum: 1, description: 'most 4 KiB pages the program may hold (the memory server refuses more with LIMIT_EXCEEDED)' })),
  heapLimitMiB: Type.Optional(Type.Integer({ minimum: 16, maximum: 4096, description: 'most MiB of JavaScript heap (V8\'s old generation) the program\'s thread may use; past it the thread ends as out of memory' })),
  startTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600000, default: DEFAULT_START_TIMEOUT_MS })),
  config: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
}, { additionalProperties: false });

export const BootManifest = Type.Object({
  system: Type.String(),
  programs: Type.Array(ProgramSpec),
}, { additionalProperties: false });

export type RestartPolicy = Static<typeof RestartPolicy>;
export type DeviceNeeds = Static<typeof DeviceNeeds>;
export type DiskMatch = Static<typeof DiskMatch>;
export type ProgramSpec = Static<typeof ProgramSpec>;
export type BootManifest = Static<typeof BootManifest>;

const checkManifest = TypeCompiler.Compile(BootManifest);
const checkProgram = TypeCompiler.Compile(ProgramSpec);

/** A manifest was refused: `field` names the first bad field (dotted, e.g. "match.compatible"), `reason` says why. */
export class ManifestError extends Error {
  readonly code = 'INVALID_MANIFEST';
  readonly field: string | undefined;
  readonly reason: string;

  constructor(message: string, field?: string, reason?: string) {
    super(message);
    this.name = 'ManifestError';
    this.field = field;
    this.reason = reason ?? message;
  }

  /** The same error with `where` (a file, a program) in front of its message. */
  within(where: string): ManifestError {
    return new ManifestError(`${where}: ${this.message}`, this.field, this.reason);
  }
}

/** Validates a parsed manifest; throws ManifestError naming the first bad field and why. */
export function validateManifest(value: unknown): BootManifest {
  if (!checkManifest.Check(value)) throw firstError(checkManifest.Errors(value));
  const names = new Set<string>();
  for (const program of value.programs) {
    if (names.has(program.name)) throw new ManifestError(`programs: name "${program.name}" appears twice`, 'name', 'appears twice');
    names.add(program.name);
    checkDriver(program);
  }
  return value;
}

/** Validates one program (a driver loaded at run time). */
export function validateProgram(value: unknown): ProgramSpec {
  if (!checkProgram.Check(value)) throw firstError(checkProgram.Errors(value));
  checkDriver(value);
  return value;
}

function checkDriver(program: ProgramSpec): void {
  if (program.kind === 'driver' && program.diskMatch) {
    throw new ManifestError(`${program.name}: field "diskMatch": only a server is started per disk (a driver binds a device by "match")`, 'diskMatch', 'only a server is started per disk');
  }
  if (program.kind !== 'driver') return;
  if (!program.match) throw new ManifestError(`${program.name}: field "match": a driver needs one (the compatible strings it binds to)`, 'match', 'a driver needs one');
}

/** The first schema error as `field "a.b": reason (got value)`. */
function firstError(errors: Iterable<SchemaError>): ManifestError {
  const fault = firstSchemaFault(errors, 'the manifest', 'is not a manifest field');
  return fault ? new ManifestError(fault.message, fault.field || undefined, fault.reason) : new ManifestError('invalid manifest');
}
