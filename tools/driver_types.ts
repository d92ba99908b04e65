// Type-checking a driver folder at `load`, off the kernel's thread and off the board's.
//
// `load` compiles a driver with transpileModule (tools/driver_loader.ts), which strips types
// without checking them; this checks them first, so a type error is refused at `load` with
// its file, line and column instead of failing at the first call. The check is TypeScript's
// full checker over the folder's sources (not its tests), against the declarations of the
// very build the driver will run on (`baton/...` → build/, as the loader links it), with the
// folder's own tsconfig.json when it has one (the scaffold's; baton's paths and type roots
// replace its own, so it needs no `npm install`), else with the options of baton's own
// drivers (strict, the thread globals of hal/thread_globals.d.ts, no Node types).
//
// It takes seconds, so it runs in a thread of its own (driver_types_thread.ts) that the
// board's load-driver request awaits; the kernel sent that request to be answered later
// (hal/firmware.ts, request go 2), so nothing waits on it but the `load` command. That
// thread stays (unref'd) and keeps the files it parsed, so a second check of a changed
// driver re-reads only what changed (Node's types, baton's declarations are parsed once).

import { existsSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
type TypeScriptModule = typeof import('typescript');

type TypeScript = TypeScriptModule;
type Diagnostic = import('typescript').Diagnostic;
type CompilerOptions = import('typescript').CompilerOptions;

/** At most this many problems are listed; the rest are counted. */
const MAXIMUM_LISTED = 20;

/** What the check needs to know of the checkout. */
export interface CheckoutPaths {
  /** The checkout (its node_modules and hal/thread_globals.d.ts). */
  readonly projectRoot: string;
  /** Its build/, where `baton/...` points. */
  readonly buildRoot: string;
}

/**
 * The type errors of the driver folder `folder` (`sources` relative to it), each as
 * `FILE:LINE:COLUMN: error TSNNNN: MESSAGE` with FILE relative to the folder; empty when it
 * type-checks. Synchronous and slow (seconds): call it on a thread of its own (checkDriverTypes).
 */
export function driverTypeProblems(typescript: TypeScript, folder: string, sources: readonly string[], paths: CheckoutPaths, parsed = new ParsedFiles()): string[] {
  const problems: Diagnostic[] = [];
  const { options, extraRoots } = compilerOptions(typescript, folder, paths, problems);
  const rootNames = [...sources.map((file) => join(folder, file)), ...extraRoots];
  const program = typescript.createProgram({ rootNames, options, host: parsed.wrap(moduleFolderHost(typescript, options, folder)) });
  problems.push(...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics());
  for (const file of sources) {
    const source = program.getSourceFile(join(folder, file));
    if (source) problems.push(...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source));
  }
  const lines = problems.map((diagnostic) => describe(typescript, diagnostic, folder));
  if (lines.length <= MAXIMUM_LISTED) return lines;
  return [...lines.slice(0, MAXIMUM_LISTED), `... and ${lines.length - MAXIMUM_LISTED} more`];
}

/** Source files parsed by earlier checks, reused while the file's modification time is the same. */
export class ParsedFiles {
  readonly #files = new Map<string, { modifiedMs: number; source: import('typescript').SourceFile }>();

  /** `host` with getSourceFile answered from this cache when it can. */
  wrap(host: import('typescript').CompilerHost): import('typescript').CompilerHost {
    const parse = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, onError, fresh) => {
      const modifiedMs = statSync(fileName, { throwIfNoEntry: false })?.mtimeMs;
      const key = `${fileName}\0${JSON.stringify(languageVersion)}`;
      const known = this.#files.get(key);
      if (!fresh && modifiedMs !== undefined && known?.modifiedMs === modifiedMs) return known.source;
      const source = parse(fileName, languageVersion, onError, fresh);
      if (source && modifiedMs !== undefined) this.#files.set(key, { modifiedMs, source });
      return source;
    };
    return host;
  }
}

/**
 * A compiler host that sees the folder's package.json with "type": "module" (made up when
 * there is none): `load` runs every file of the folder as an ES module, so the check does.
 */
function moduleFolderHost(typescript: TypeScript, options: CompilerOptions, folder: string): import('typescript').CompilerHost {
  const host = typescript.createCompilerHost(options);
  const manifest = join(folder, 'package.json');
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (path) => path === manifest || fileExists(path);
  host.readFile = (path) => {
    if (path !== manifest) return readFile(path);
    let own: unknown = {};
    try {
      own = fileExists(path) ? JSON.parse(readFile(path) ?? '{}') : {};
    } catch {
      own = {};
    }
    return JSON.stringify({ ...(typeof own === 'object' && own !== null ? own : {}), type: 'module' });
  };
  return host;
}

/** The folder's own options with baton's paths, or baton's drivers' options. */
function compilerOptions(typescript: TypeScript, folder: string, paths: CheckoutPaths, problems: Diagnostic[]) {
  const configPath = join(folder, 'tsconfig.json');
  const fromBaton: CompilerOptions = {
    noEmit: true,
    skipLibCheck: true,
    typeRoots: [join(paths.projectRoot, 'node_modules', '@types')],
    // baton as the loader links it: its build's declarations; packages from its node_modules.
    paths: { 'baton/*': [join(paths.buildRoot, '*')], '*': [join(paths.projectRoot, 'node_modules', '*')] },
  };
  if (existsSync(configPath)) {
    const parsed = typescript.getParsedCommandLineOfConfigFile(configPath, {}, {
      ...typescript.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => void problems.push(diagnostic),
    });
    if (parsed) problems.push(...parsed.errors.filter((error) => error.code !== 18003)); // 18003: no inputs (we give them)
    const own = parsed?.options ?? {};
    return { options: { ...own, ...fromBaton, paths: { ...own.paths, ...fromBaton.paths } }, extraRoots: [] };
  }
  return {
    options: {
      ...fromBaton,
      target: typescript.ScriptTarget.ES2022,
      module: typescript.ModuleKind.NodeNext,
      moduleResolution: typescript.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2024.d.ts'],
      types: [],
      strict: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      verbatimModuleSyntax: true,
    },
    // What a thread offers, as baton's own drivers see it.
    extraRoots: [join(paths.projectRoot, 'hal', 'thread_globals.d.ts')],
  };
}

/** `main.ts:12:5: error TS2322: Type 'number' is not assignable to type 'string'.` */
function describe(typescript: TypeScript, diagnostic: Diagnostic, folder: string): string {
  const message = `error TS${diagnostic.code}: ${typescript.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  if (!diagnostic.file || diagnostic.start === undefined) return message;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const name = relative(folder, diagnostic.file.fileName).split(sep).join('/');
  return `${name.startsWith('..') ? diagnostic.file.fileName : name}:${line + 1}:${character + 1}: ${message}`;
}

/** The checking thread, started by the first check and kept (unref'd while idle). */
let checker: { worker: Worker; pending: Map<number, { resolve(problems: string[]): void; reject(error: Error): void }> } | undefined;
let nextRequest = 0;

/**
 * Runs driverTypeProblems on the checking thread (build/tools/driver_types_thread.js) and
 * resolves with its answer; rejects if that thread fails (the next check starts a new one).
 */
export function checkDriverTypes(folder: string, sources: readonly string[], paths: CheckoutPaths): Promise<string[]> {
  if (!checker) {
    const worker = new Worker(join(paths.buildRoot, 'tools', 'driver_types_thread.js'));
    const started = { worker, pending: new Map<number, { resolve(problems: string[]): void; reject(error: Error): void }>() };
    const fail = (error: Error): void => {
      if (checker === started) checker = undefined;
      for (const waiter of started.pending.values()) waiter.reject(error);
      started.pending.clear();
    };
    worker.on('message', ({ id, problems }: { id: number; problems: string[] }) => {
      started.pending.get(id)?.resolve(problems);
      started.pending.delete(id);
      if (started.pending.size === 0) worker.unref();
    });
    worker.on('error', (error) => fail(new Error(`the type check failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new Error(`the type check ended (exit code ${code}) without an answer`)));
    checker = started;
  }
  const { worker, pending } = checker;
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.ref();
    worker.postMessage({ id, folder, sources, paths });
  });
}
