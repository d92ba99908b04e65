// Builds the initrd: the boot manifest with every program resolved, as the kernel reads it.
//
// Sources: sysroot/boot/NAME.json lists servers (inline) and driver folders; each driver
// folder has its own manifest.json. Entries become file URLs of compiled modules, missing
// fields take the schema's defaults, and the whole is validated before the board starts,
// so a bad manifest is a clear error at the prompt of `npm start`, not a kernel panic.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Value } from '../ipc/typebox.js';
import { ManifestError, ProgramSpec, validateManifest, validateProgram, type BootManifest } from '../microkernel/manifest.js';
import { projectRoot } from './paths.js';

interface SourceManifest {
  /** Another manifest in sysroot/boot whose servers and drivers come first. */
  extends?: unknown;
  system?: unknown;
  servers?: unknown[];
  drivers?: unknown[];
}

/**
 * Reads sysroot/boot/`name`.json of the tree at `root` (default: this checkout) and
 * resolves it into the initrd's manifest, with entries in `root`/build.
 */
export function resolveBootManifest(name: string, root: string = projectRoot): BootManifest {
  const path = join(root, 'sysroot', 'boot', `${name}.json`);
  if (!existsSync(path)) throw new ManifestError(`no boot manifest ${relative(root, path) || path}`);
  const build = join(root, 'build');
  const compiledModule = (entry: string) => pathToFileURL(join(build, `${entry}.js`)).href;
  const source = readSource(root, name, []);
  const programs: unknown[] = [];
  for (const server of source.servers ?? []) {
    const spec = { kind: 'server', ...(server as object) } as Record<string, unknown>;
    if (typeof spec.entry === 'string') spec.entry = compiledModule(spec.entry);
    programs.push(withDefaults(spec));
  }
  for (const folder of source.drivers ?? []) {
    if (typeof folder !== 'string') throw new ManifestError(`drivers: each entry is a driver folder path, got ${JSON.stringify(folder)}`);
    programs.push(readDriverManifest(join(root, folder), root));
  }
  return validateManifest({ system: source.system, programs });
}

/** Reads and validates DRIVER_FOLDER/manifest.json; its entry resolves inside the build. */
export function readDriverManifest(folder: string, root: string = projectRoot): ProgramSpec {
  const compiledModule = (entry: string) => pathToFileURL(join(root, 'build', `${entry}.js`)).href;
  const path = join(folder, 'manifest.json');
  if (!existsSync(path)) throw new ManifestError(`${folder}: no manifest.json`);
  const spec = { kind: 'driver', ...(parseJson(path) as object) } as Record<string, unknown>;
  if (typeof spec.entry === 'string') {
    const inTree = relative(root, folder);
    spec.entry = inTree.startsWith('..') || isAbsolute(inTree)
      ? pathToFileURL(join(folder, `${spec.entry}.js`)).href
      : compiledModule(join(inTree, spec.entry));
  }
  try {
    return validateProgram(withDefaults(spec));
  } catch (error) {
    if (error instanceof ManifestError) throw new ManifestError(`${path}: ${error.message}`);
    throw error;
  }
}

export function encodeInitrd(manifest: BootManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest));
}

/** Reads sysroot/boot/NAME.json, folding in what it extends (its servers and drivers first). */
function readSource(root: string, name: string, seen: string[]): SourceManifest {
  if (seen.includes(name)) throw new ManifestError(`boot manifest "${name}" extends itself (${[...seen, name].join(' → ')})`);
  const path = join(root, 'sysroot', 'boot', `${name}.json`);
  if (!existsSync(path)) throw new ManifestError(`no boot manifest ${path}`);
  const source = parseJson(path) as SourceManifest;
  if (source.extends === undefined) return source;
  if (typeof source.extends !== 'string') throw new ManifestError(`${path}: "extends" names another manifest in sysroot/boot`);
  const base = readSource(root, source.extends, [...seen, name]);
  return {
    system: source.system ?? base.system,
    servers: [...(base.servers ?? []), ...(source.servers ?? [])],
    drivers: [...(base.drivers ?? []), ...(source.drivers ?? [])],
  };
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
