// Builds the initrd: the boot manifest with every program resolved, as the kernel reads it.
//
// Sources: sysroot/boot/NAME.json lists which programs start — server folders under
// "servers", driver folders under "drivers" — each entry a folder path, or an object
// { "folder": PATH, ...overrides } that changes the folder's config, restart policy,
// heartbeat, memory limit or start timeout for this system, or its name: a folder listed
// twice under two names runs as two programs (two tmpfs instances, each with its config). Every folder has its own
// manifest.json (a server's and a driver's are one schema, microkernel/manifest.ts).
// A manifest may "extend" another; an entry naming a folder the base already lists
// overrides that entry in place. Entries become file URLs of compiled modules, missing
// fields take the schema's defaults, and the whole is validated before the board starts,
// so a bad manifest is a clear error at the prompt of `npm start`, not a kernel panic.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Type, TypeCompiler, Value, type Static } from '../ipc/typebox.js';
import { ManifestError, ProgramSpec, RestartPolicy, validateManifest, validateProgram, type BootManifest } from '../microkernel/manifest.js';
import { firstSchemaFault } from '../microkernel/schema_errors.js';
import { initrdWithManifest } from './initramfs.js';
import { projectRoot } from './paths.js';

/** What a boot manifest may change of a folder's manifest for the system it describes. */
const ProgramOverrides = Type.Object({
  folder: Type.String({ minLength: 1, description: 'a server or driver folder, relative to the tree' }),
  name: Type.Optional(ProgramSpec.properties.name),
  config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  restart: Type.Optional(Type.Partial(RestartPolicy)),
  heartbeatMs: Type.Optional(ProgramSpec.properties.heartbeatMs),
  memoryLimitPages: Type.Optional(ProgramSpec.properties.memoryLimitPages),
  heapLimitMiB: Type.Optional(ProgramSpec.properties.heapLimitMiB),
  startTimeoutMs: Type.Optional(ProgramSpec.properties.startTimeoutMs),
}, { additionalProperties: false });
type ProgramOverrides = Static<typeof ProgramOverrides>;

const checkOverrides = TypeCompiler.Compile(ProgramOverrides);
/** An entry: a folder path, or { folder, ...overrides } (checked on its own, so an error names its field). */
const ProgramEntry = Type.Union([Type.String({ minLength: 1 }), Type.Object({})]);
const SourceManifest = Type.Object({
  /** Another manifest in sysroot/boot whose servers and drivers come first. */
  extends: Type.Optional(Type.String({ minLength: 1 })),
  system: Type.Optional(Type.String()),
  servers: Type.Optional(Type.Array(ProgramEntry)),
  drivers: Type.Optional(Type.Array(ProgramEntry)),
}, { additionalProperties: false });
type SourceManifest = Static<typeof SourceManifest>;
const checkSource = TypeCompiler.Compile(SourceManifest);

/** A merged boot manifest: the system's name and its entries, folder paths with overrides. */
interface ResolvedSource {
  system: string | undefined;
  servers: ProgramOverrides[];
  drivers: ProgramOverrides[];
}

/**
 * Reads sysroot/boot/`name`.json of the tree at `root` (default: this checkout) and
 * resolves it into the initrd's manifest, with entries in `root`/build.
 */
export function resolveBootManifest(name: string, root: string = projectRoot): BootManifest {
  const path = join(root, 'sysroot', 'boot', `${name}.json`);
  if (!existsSync(path)) throw new ManifestError(`no boot manifest ${relative(root, path) || path}`);
  const source = readSource(root, name, []);
  const programs: ProgramSpec[] = [
    ...source.servers.map((entry) => readProgramManifest(join(root, entry.folder), 'server', root, entry)),
    ...source.drivers.map((entry) => readProgramManifest(join(root, entry.folder), 'driver', root, entry)),
  ];
  try {
    return validateManifest({ system: source.system ?? 'baton', programs });
  } catch (error) {
    if (error instanceof ManifestError) throw error.within(path);
    throw error;
  }
}

/** Reads and validates DRIVER_FOLDER/manifest.json; its entry resolves inside the build. */
export function readDriverManifest(folder: string, root: string = projectRoot): ProgramSpec {
  return readProgramManifest(folder, 'driver', root);
}

/**
 * Reads and validates FOLDER/manifest.json as a `kind` program, with a boot manifest's
 * `overrides` applied (config keys and restart fields merged over the folder's, the others
 * replaced). Its entry resolves inside the build (in the tree) or beside the folder's sources.
 */
export function readProgramManifest(folder: string, kind: 'server' | 'driver', root: string = projectRoot, overrides?: ProgramOverrides): ProgramSpec {
  const compiledModule = (entry: string) => pathToFileURL(join(root, 'build', `${entry}.js`)).href;
  const path = join(folder, 'manifest.json');
  if (!existsSync(path)) throw new ManifestError(`${folder}: no manifest.json (a ${kind} folder holds manifest.json and main.ts)`);
  const parsed = parseJson(path);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ManifestError(`${path}: the manifest must be a JSON object`);
  const fields = parsed as Record<string, unknown>;
  if (fields.kind !== undefined && fields.kind !== kind) {
    throw new ManifestError(`${path}: field "kind": the boot manifest lists this folder as a ${kind} (leave "kind" out)`, 'kind', `listed as a ${kind}`);
  }
  const spec: Record<string, unknown> = { ...fields, kind };
  if (overrides) {
    const { folder: _folder, config, restart, ...replaced } = overrides;
    Object.assign(spec, replaced);
    if (config) spec.config = { ...(fields.config as object | undefined), ...config };
    if (restart) spec.restart = { ...(fields.restart as object | undefined), ...restart };
  }
  if (typeof spec.entry === 'string') {
    const inTree = relative(root, folder);
    spec.entry = inTree.startsWith('..') || isAbsolute(inTree)
      ? pathToFileURL(join(folder, `${spec.entry}.js`)).href
      : compiledModule(join(inTree, spec.entry));
  }
  try {
    return validateProgram(withDefaults(spec));
  } catch (error) {
    if (error instanceof ManifestError) throw error.within(path);
    throw error;
  }
}

/** The initrd of `manifest`: the build's initramfs of `root`/sysroot with the manifest as boot/manifest.json (tools/initramfs.ts). */
export function encodeInitrd(manifest: BootManifest, root: string = projectRoot): Uint8Array {
  return initrdWithManifest(new TextEncoder().encode(JSON.stringify(manifest)), root);
}

/** Reads sysroot/boot/NAME.json, folding in what it extends (its servers and drivers first). */
function readSource(root: string, name: string, seen: string[]): ResolvedSource {
  if (seen.includes(name)) throw new ManifestError(`boot manifest "${name}" extends itself (${[...seen, name].join(' → ')})`);
  const path = join(root, 'sysroot', 'boot', `${name}.json`);
  if (!existsSync(path)) throw new ManifestError(`no boot manifest ${path}`);
  const parsed = parseJson(path);
  if (!checkSource.Check(parsed)) {
    const fault = firstSchemaFault(checkSource.Errors(parsed), 'the boot manifest', 'is not a boot manifest field');
    throw new ManifestError(`${path}: ${fault?.message ?? 'invalid boot manifest'}`, fault?.field || undefined, fault?.reason);
  }
  const entries = (list: 'servers' | 'drivers') => (parsed[list] ?? []).map((entry, index) => asEntry(entry, `${list}[${index}]`, path));
  const own: ResolvedSource = { system: parsed.system, servers: entries('servers'), drivers: entries('drivers') };
  if (parsed.extends === undefined) return own;
  const base = readSource(root, parsed.extends, [...seen, name]);
  return { system: own.system ?? base.system, servers: overlay(base.servers, own.servers), drivers: overlay(base.drivers, own.drivers) };
}

/** A boot manifest entry (`where`, e.g. "servers[2]", of the file `path`) as a folder with overrides. */
function asEntry(entry: unknown, where: string, path: string): ProgramOverrides {
  if (typeof entry === 'string') return { folder: entry };
  if (checkOverrides.Check(entry)) return entry;
  const fault = firstSchemaFault(checkOverrides.Errors(entry), where, 'is not a field a boot manifest may set (only folder, name, config, restart, heartbeatMs, memoryLimitPages, heapLimitMiB, startTimeoutMs)');
  const field = fault?.field ? `${where}.${fault.field}` : where;
  const message = fault?.field ? fault.message.replace(`field "${fault.field}"`, `field "${field}"`) : fault?.message ?? `${where}: invalid entry`;
  throw new ManifestError(`${path}: ${message}`, field, fault?.reason);
}

/** `base` then `added`; an added entry for a program `base` lists (the same name, or the same folder when neither names one) merges into that entry instead. */
function overlay(base: ProgramOverrides[], added: ProgramOverrides[]): ProgramOverrides[] {
  const result = [...base];
  for (const entry of added) {
    const index = result.findIndex((existing) => sameProgram(existing, entry));
    if (index < 0) {
      result.push(entry);
      continue;
    }
    const existing = result[index]!;
    result[index] = {
      ...existing,
      ...entry,
      ...(existing.config || entry.config ? { config: { ...existing.config, ...entry.config } } : {}),
      ...(existing.restart || entry.restart ? { restart: { ...existing.restart, ...entry.restart } } : {}),
    };
  }
  return result;
}

function sameProgram(a: ProgramOverrides, b: ProgramOverrides): boolean {
  if (a.name !== undefined || b.name !== undefined) return a.name === b.name && sameFolder(a.folder, b.folder);
  return sameFolder(a.folder, b.folder);
}

function sameFolder(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

function withDefaults(spec: Record<string, unknown>): unknown {
  const restart = { ...(spec.restart as object | undefined) };
  return Value.Default(ProgramSpec, { ...spec, restart });
}

function parseJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ManifestError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}
