// Loading a driver folder from the host into a running system (`load PATH`): reads and
// validates its manifest.json, compiles its TypeScript and hands the kernel the resolved
// program spec. It runs on the board's side — the kernel asks through a firmware host
// request ({"op":"load-driver","path":...}) — because only the board touches host files.
//
// Nothing is compiled or changed unless the manifest is valid. Compiling: every .ts file
// of the folder (not *.test.ts / *.d.ts, not node_modules or dot folders) goes through
// TypeScript's transpileModule into build/loaded/NAME-VERSION-HASH/, mirroring the folder,
// so a changed driver gets fresh module URLs. That is syntax only; the board's answer to
// `load` (serveLoadDriverRequest) then checks the types too (tools/driver_types.ts: seconds,
// on a thread of its own, while the kernel and the board go on), and refuses a driver with
// type errors, each with its file, line and column. Import specifiers are rewritten:
//
//   baton/PATH.js                      → this checkout's compiled module build/PATH.js
//   a path into this checkout's source  → its compiled module in build/
//   ./x.js (inside the folder)          → unchanged: compiled beside it
//   anything else                      → unchanged: packages resolve from baton's node_modules
//
// A folder inside this checkout (drivers/NAME) is not compiled again: it runs from build/,
// which `tsc -b` (npm start, npm test) keeps current.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Value } from '../ipc/typebox.js';
import { ManifestError, ProgramSpec, validateProgram } from '../microkernel/manifest.js';
import { checkDriverTypes } from './driver_types.js';

type TypeScript = typeof import('typescript');

// This file runs compiled (build/tools/, in the board) and from source (tests import it).
const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = basename(dirname(here)) === 'build' ? resolve(here, '..', '..') : resolve(here, '..');
const buildRoot = join(projectRoot, 'build');

/** The folder could not be loaded for a reason other than its manifest (missing, does not compile). */
export class DriverLoadError extends Error {
  readonly code = 'LOAD_FAILED';
}

const MAX_ERROR_CHARACTERS = 8 * 1024;

/** Package-style prefix out-of-tree drivers import baton's modules with. */
export const BATON_IMPORT_PREFIX = 'baton/';

export interface LoadOptions {
  /** Where compiled out-of-tree drivers go (default build/loaded). */
  readonly outputRoot?: string;
}

/**
 * Reads, validates and (out of tree) compiles the driver folder `path` (relative paths
 * against the current directory). Returns its program spec with `entry` the compiled
 * module's file URL. Throws ManifestError (field and reason) or DriverLoadError.
 */
export function loadDriverFolder(path: string, options: LoadOptions = {}): ProgramSpec {
  const folder = resolve(path);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new DriverLoadError(`${folder}: no such folder`);
  const manifestPath = join(folder, 'manifest.json');
  if (!existsSync(manifestPath)) throw new DriverLoadError(`${folder}: no manifest.json (a driver folder holds manifest.json and main.ts)`);
  const spec = readManifest(manifestPath);
  checkServes(spec, folder, manifestPath);
  const entry = spec.entry;
  const inTree = relative(projectRoot, folder);
  if (!inTree.startsWith('..') && !isAbsolute(inTree)) {
    const compiled = join(buildRoot, inTree, `${entry}.js`);
    if (!existsSync(compiled)) throw new DriverLoadError(`${folder} is inside the baton tree but ${relative(projectRoot, compiled)} is not built (run npm run build)`);
    return { ...spec, entry: pathToFileURL(compiled).href };
  }
  if (!existsSync(join(folder, `${entry}.ts`))) throw new DriverLoadError(`${folder}: field "entry" names ${entry}.ts, which is not there`);
  const output = compileFolder(folder, spec, options.outputRoot ?? join(buildRoot, 'loaded'));
  return { ...spec, entry: pathToFileURL(join(output, `${entry}.js`)).href };
}

/**
 * The module path below build/ that test/harness/server_harness.ts starts for the driver
 * folder `folder` (a path or a file URL): its tsc -b output inside the tree, or — outside
 * the tree — the output of compiling it exactly as `load` does.
 */
export function harnessModule(folder: string | URL): string {
  const spec = loadDriverFolder(typeof folder === 'string' ? folder : fileURLToPath(folder));
  return relative(buildRoot, fileURLToPath(spec.entry)).split(sep).join('/').replace(/\.js$/, '');
}

/**
 * loadDriverFolder, and then (out of the tree) the type check: resolves with the spec, or
 * rejects with DriverLoadError listing every type error as FILE:LINE:COLUMN: MESSAGE.
 */
export async function loadCheckedDriverFolder(path: string, options: LoadOptions = {}): Promise<ProgramSpec> {
  const spec = loadDriverFolder(path, options);
  const folder = resolve(path);
  const inTree = relative(projectRoot, folder);
  if (!inTree.startsWith('..') && !isAbsolute(inTree)) return spec; // tsc -b has checked it
  const problems = await checkDriverTypes(folder, listSources(folder), { projectRoot, buildRoot });
  if (problems.length > 0) throw new DriverLoadError(shorten(`${folder} does not type-check:\n  ${problems.join('\n  ')}`));
  return spec;
}

/** The board's answer to {"op":"load-driver","path":PATH}: {spec} or {error, code, field?, reason?}. */
export async function serveLoadDriverRequest(request: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (typeof request.path !== 'string' || request.path.length === 0) return { error: 'load-driver needs a path', code: 'LOAD_FAILED' };
  try {
    return { spec: await loadCheckedDriverFolder(request.path) };
  } catch (error) {
    if (error instanceof ManifestError) {
      return { error: error.message, code: error.code, ...(error.field ? { field: error.field } : {}), reason: error.reason };
    }
    return { error: shorten((error as Error).message), code: 'LOAD_FAILED' };
  }
}

/** The answer travels back through a small RAM buffer: keep an error message to a few KiB. */
function shorten(message: string): string {
  return message.length <= MAX_ERROR_CHARACTERS ? message : `${message.slice(0, MAX_ERROR_CHARACTERS)}\n  ... (${message.length - MAX_ERROR_CHARACTERS} more characters)`;
}

/** manifest.json as a validated driver spec (defaults filled; entry still the module name). */
function readManifest(path: string): ProgramSpec {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ManifestError(`${path}: not valid JSON (${(error as Error).message})`, undefined, 'not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ManifestError(`${path}: the manifest must be a JSON object`);
  const fields = parsed as Record<string, unknown>;
  if (fields.kind !== undefined && fields.kind !== 'driver') {
    throw new ManifestError(`${path}: field "kind": a loaded program is a driver (leave "kind" out)`, 'kind', 'a loaded program is a driver');
  }
  if (typeof fields.entry === 'string' && (!/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(fields.entry) || fields.entry.split('/').includes('..'))) {
    throw new ManifestError(`${path}: field "entry": must name a module inside the folder, without extension (e.g. "main")`, 'entry', 'must name a module inside the folder');
  }
  const withDefaults = Value.Default(ProgramSpec, { ...fields, kind: 'driver', restart: { ...(fields.restart as object | undefined) } });
  try {
    return validateProgram(withDefaults);
  } catch (error) {
    if (error instanceof ManifestError) throw error.within(path);
    throw error;
  }
}

/** The interface names declared with defineInterface({ name: '...' }) in `files`. */
function declaredInterfaces(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(/defineInterface\(\s*\{\s*name:\s*['"]([^'"]+)['"]/g)) names.add(match[1]!);
  }
  return names;
}

/**
 * Refuses a "serves" entry that names no interface: neither one of baton's
 * (ipc/interfaces/) nor one the driver's own sources declare.
 */
function checkServes(spec: ProgramSpec, folder: string, manifestPath: string): void {
  const interfaces = join(projectRoot, 'ipc', 'interfaces');
  const baton = declaredInterfaces(readdirSync(interfaces).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts')).map((file) => join(interfaces, file)));
  const own = declaredInterfaces(listSources(folder).map((file) => join(folder, file)));
  spec.serves.forEach((name, index) => {
    if (baton.has(name) || own.has(name)) return;
    const reason = `no interface is named "${name}" (baton's: ${[...baton].sort().join(', ')}; or one the driver declares with defineInterface)`;
    throw new ManifestError(`${manifestPath}: field "serves[${index}]": ${reason}`, `serves[${index}]`, reason);
  });
}

/** Compiles every source of `folder` into a fresh directory under `outputRoot`; returns it. */
function compileFolder(folder: string, spec: ProgramSpec, outputRoot: string): string {
  const sources = listSources(folder);
  const hash = createHash('sha256');
  // The folder is part of it: the compiled files' source maps name it.
  hash.update(buildRoot).update(`\0${folder}`);
  for (const file of sources) hash.update(`\0${file}\0`).update(readFileSync(join(folder, file)));
  const output = join(outputRoot, `${spec.name}-${spec.version}-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(output)) return output;

  const typescript = loadTypeScript();
  const compiled = sources.map((file) => ({ file, text: transpile(typescript, folder, file) }));
  const staging = `${output}.staging-${process.pid}-${Date.now()}`;
  try {
    for (const { file, text } of compiled) {
      const target = join(staging, file.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
    mkdirSync(outputRoot, { recursive: true });
    if (!existsSync(output)) renameSync(staging, output);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return output;
}

/** Relative paths of the .ts sources to compile, sorted. */
function listSources(folder: string, under = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(folder, under), { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...listSources(folder, path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files.sort();
}

function loadTypeScript(): TypeScript {
  return createRequire(import.meta.url)('typescript') as TypeScript;
}

/** One file as ES module JavaScript with its import specifiers rewritten; throws DriverLoadError on syntax errors. */
function transpile(typescript: TypeScript, folder: string, file: string): string {
  const path = join(folder, file);
  const problems: string[] = [];
  const rewrite = (specifier: string): string => {
    const target = resolveSpecifier(folder, path, specifier);
    if (typeof target === 'string') return target;
    problems.push(`${file}: import "${specifier}": ${target.problem}`);
    return specifier;
  };
  const result = typescript.transpileModule(readFileSync(path, 'utf8'), {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: {
      module: typescript.ModuleKind.ESNext,
      target: typescript.ScriptTarget.ES2022,
      inlineSourceMap: true,
      inlineSources: true,
      // Stack traces name the driver's own main.ts, not its compiled copy.
      sourceRoot: pathToFileURL(dirname(path)).href + '/',
      verbatimModuleSyntax: false,
    },
    transformers: { after: [rewriteSpecifiers(typescript, rewrite)] },
  });
  for (const diagnostic of result.diagnostics ?? []) {
    const where = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start) : undefined;
    problems.push(`${file}${where ? `:${where.line + 1}:${where.character + 1}` : ''}: ${typescript.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`);
  }
  if (problems.length > 0) throw new DriverLoadError(`${folder} does not compile:\n  ${problems.join('\n  ')}`);
  return result.outputText;
}

/** What `specifier` in `file` becomes in the compiled output, or why it cannot be. */
function resolveSpecifier(folder: string, file: string, specifier: string): string | { problem: string } {
  if (specifier.startsWith(BATON_IMPORT_PREFIX)) return compiledBatonModule(specifier.slice(BATON_IMPORT_PREFIX.length), specifier);
  let target: string;
  if (specifier.startsWith('file:')) target = fileURLToPath(specifier);
  else if (specifier.startsWith('.') || isAbsolute(specifier)) target = resolve(dirname(file), specifier);
  else return specifier;
  if (inside(folder, target)) return specifier;
  if (inside(buildRoot, target)) return pathToFileURL(target).href;
  if (inside(projectRoot, target)) return compiledBatonModule(relative(projectRoot, target).split(sep).join('/'), specifier);
  return { problem: 'points outside the driver folder and outside baton; copy that file into the folder' };
}

function compiledBatonModule(path: string, specifier: string): string | { problem: string } {
  const javascript = path.replace(/\.ts$/, '.js');
  for (const candidate of [javascript, `${javascript}.js`]) {
    const compiled = join(buildRoot, candidate);
    if (existsSync(compiled) && statSync(compiled).isFile()) return pathToFileURL(compiled).href;
  }
  return { problem: `baton has no module ${specifier} (looked for build/${javascript}; is the path right and the tree built?)` };
}

function inside(parent: string, path: string): boolean {
  const to = relative(parent, path);
  return to === '' || (!to.startsWith('..') && !isAbsolute(to));
}

/** An `after` transformer that rewrites the module specifiers of imports, exports and import(). */
function rewriteSpecifiers(typescript: TypeScript, rewrite: (specifier: string) => string) {
  return (context: import('typescript').TransformationContext) => {
    const { factory } = context;
    const visit = (node: import('typescript').Node): import('typescript').Node => {
      if (typescript.isImportDeclaration(node) && typescript.isStringLiteral(node.moduleSpecifier)) {
        return factory.updateImportDeclaration(node, node.modifiers, node.importClause, factory.createStringLiteral(rewrite(node.moduleSpecifier.text)), node.attributes);
      }
      if (typescript.isExportDeclaration(node) && node.moduleSpecifier && typescript.isStringLiteral(node.moduleSpecifier)) {
        return factory.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, factory.createStringLiteral(rewrite(node.moduleSpecifier.text)), node.attributes);
      }
      if (typescript.isCallExpression(node) && node.expression.kind === typescript.SyntaxKind.ImportKeyword) {
        const [first, ...rest] = node.arguments;
        if (first && typescript.isStringLiteral(first)) {
          return factory.updateCallExpression(node, node.expression, node.typeArguments, [factory.createStringLiteral(rewrite(first.text)), ...rest]);
        }
      }
      return typescript.visitEachChild(node, visit, context);
    };
    return (source: import('typescript').SourceFile) => typescript.visitNode(source, visit) as import('typescript').SourceFile;
  };
}
