// The boot manifest: which servers and drivers make up the system, what each may reach,
// and how the supervisor treats it. Data, not code (after Hubris's app.toml and
// SerenityOS's SystemServer.ini); validated in full before anything starts.
//
// The board places the resolved manifest in RAM as the initrd; sysroot/boot/*.json and
// each driver's manifest.json are its sources (see tools/boot_image.ts).

import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

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

const ServiceName = Type.String({ pattern: '^[a-z][a-z0-9-]*$', maxLength: 64 });

export const ProgramSpec = Type.Object({
  name: ServiceName,
  kind: Type.Union([Type.Literal('server'), Type.Literal('driver')]),
  version: Type.String({ default: '0.0.0' }),
  entry: Type.String({ minLength: 1, description: 'URL of the compiled module' }),
  serves: Type.Array(ServiceName, { default: [] }),
  talksTo: Type.Array(Type.String(), { default: [] }),
  match: Type.Optional(DeviceMatch),
  restart: RestartPolicy,
  heartbeatMs: Type.Integer({ minimum: 50, maximum: 60000, default: 500 }),
  config: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
}, { additionalProperties: false });

export const BootManifest = Type.Object({
  system: Type.String(),
  programs: Type.Array(ProgramSpec),
}, { additionalProperties: false });

export type RestartPolicy = Static<typeof RestartPolicy>;
export type ProgramSpec = Static<typeof ProgramSpec>;
export type BootManifest = Static<typeof BootManifest>;

const checkManifest = TypeCompiler.Compile(BootManifest);
const checkProgram = TypeCompiler.Compile(ProgramSpec);

export class ManifestError extends Error {
  readonly code = 'INVALID_MANIFEST';
}

/** Validates a parsed manifest; throws ManifestError naming the first bad field and why. */
export function validateManifest(value: unknown): BootManifest {
  if (!checkManifest.Check(value)) throw new ManifestError(describeFirstError(checkManifest.Errors(value)));
  const names = new Set<string>();
  for (const program of value.programs) {
    if (names.has(program.name)) throw new ManifestError(`programs: name "${program.name}" appears twice`);
    names.add(program.name);
    if (program.kind === 'driver' && !program.match) throw new ManifestError(`${program.name}: a driver needs a "match"`);
  }
  return value;
}

/** Validates one program (a driver loaded at run time). */
export function validateProgram(value: unknown): ProgramSpec {
  if (!checkProgram.Check(value)) throw new ManifestError(describeFirstError(checkProgram.Errors(value)));
  if (value.kind === 'driver' && !value.match) throw new ManifestError(`${value.name}: a driver needs a "match"`);
  return value;
}

function describeFirstError(errors: Iterable<{ path: string; message: string }>): string {
  for (const error of errors) return `${error.path || '/'}: ${error.message}`;
  return 'invalid manifest';
}
