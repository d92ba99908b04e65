// `npm run bench [-- [--json] [--list] [FILTER...]]`: runs baton's benchmarks.
//
// Every compiled module in build/tools/bench/ (not fixtures/, not this one) that exports
// `benchmarks: Benchmark[]` is found at run time, so a new area's bench file needs no
// registration here. Benchmarks run one after another, in module-name order; with FILTERs
// only those whose benchmark name or module name contains one of them.
//
// Output: a table (name, median, unit, min–max, ratio against the baseline measured in the
// same run) on stdout, or with --json one JSON object per figure per line:
// {"name","unit","median","min","max","baseline"?,"ratio"?}. Progress, notes and failures
// go to stderr. A failing benchmark (or a module that cannot be loaded) is reported and the
// others still run; the exit status is 1 if any failed or nothing matched, 2 on bad usage.

import { readdirSync, readFileSync } from 'node:fs';
import { arch, cpus, loadavg, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Benchmark, Figure } from './measure.js';

const USAGE = `usage: npm run bench -- [--json] [--list] [FILTER...]
  FILTER   run only benchmarks whose name or module name contains FILTER (e.g. ipc, startup, boot)
  --json   one JSON object per figure per line: name, unit, median, min, max, baseline, ratio
  --list   list the benchmarks found, run nothing`;

/** Modules in this folder that are not benchmark modules. */
const NOT_BENCHMARKS = new Set(['main.js', 'measure.js']);

interface Found {
  readonly module: string;
  readonly benchmark: Benchmark;
}

interface Discovery {
  readonly found: Found[];
  readonly broken: Array<{ module: string; error: unknown }>;
}

export async function main(argv: string[]): Promise<number> {
  const options = parseArguments(argv);
  if (typeof options === 'string') {
    process.stderr.write(`${options}\n${USAGE}\n`);
    return options === '' ? 0 : 2;
  }
  const { found, broken } = await discover(dirname(fileURLToPath(import.meta.url)));
  const matches = (name: string) => options.filters.length === 0 || options.filters.some((filter) => name.includes(filter));
  const selected = found.filter(({ module, benchmark }) => matches(benchmark.name) || matches(module));

  if (options.list) {
    for (const { module, benchmark } of found) process.stdout.write(`${benchmark.name.padEnd(24)} ${module}\n`);
    for (const { module, error } of broken) process.stdout.write(`${'(cannot load)'.padEnd(24)} ${module}: ${describe(error)}\n`);
    return broken.length > 0 ? 1 : 0;
  }

  let failures = 0;
  for (const { module, error } of broken) {
    if (matches(module)) {
      failures++;
      process.stderr.write(`FAILED ${module}: cannot load: ${describe(error)}\n`);
    } else process.stderr.write(`note: ${module} cannot be loaded (${describe(error)}); not selected, so not counted\n`);
  }
  if (selected.length === 0) {
    process.stderr.write(`no benchmark matches ${options.filters.join(', ')}; found: ${found.map(({ benchmark }) => benchmark.name).join(', ')}\n`);
    return 1;
  }

  process.stderr.write(`${machine()}\n`);
  if (!options.json) process.stdout.write(tableHeader());
  const began = performance.now();
  let figures = 0;
  for (const { module, benchmark } of selected) {
    process.stderr.write(`running ${benchmark.name} (${module})...\n`);
    const start = performance.now();
    try {
      const results = await benchmark.run();
      for (const result of results) {
        process.stdout.write(options.json ? `${JSON.stringify(asJson(result))}\n` : tableRow(result));
      }
      figures += results.length;
      process.stderr.write(`${benchmark.name}: ${results.length} figures in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      failures++;
      process.stderr.write(`FAILED ${benchmark.name} (${module}): ${describe(error, true)}\n`);
    }
  }
  process.stderr.write(`${figures} figures from ${selected.length} benchmarks in ${((performance.now() - began) / 1000).toFixed(1)} s` +
    (failures > 0 ? `; ${failures} failed` : '') + `; load average now ${loadavg()[0]!.toFixed(2)}\n`);
  return failures > 0 ? 1 : 0;
}

function parseArguments(argv: string[]): { json: boolean; list: boolean; filters: string[] } | string {
  const options = { json: false, list: false, filters: [] as string[] };
  for (const argument of argv) {
    if (argument === '--json') options.json = true;
    else if (argument === '--list') options.list = true;
    else if (argument === '--help' || argument === '-h') return '';
    else if (argument.startsWith('-')) return `baton bench: unknown option ${argument}`;
    else options.filters.push(argument);
  }
  return options;
}

/** Imports every benchmark module in `directory` (compiled .js files, fixtures/ excluded). */
async function discover(directory: string): Promise<Discovery> {
  const found: Found[] = [];
  const broken: Discovery['broken'] = [];
  const files = readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.js') && !NOT_BENCHMARKS.has(entry.name))
    .map((entry) => entry.name)
    .sort();
  for (const file of files) {
    const module = basename(file, '.js');
    try {
      const exports = (await import(pathToFileURL(join(directory, file)).href)) as { benchmarks?: unknown };
      if (exports.benchmarks === undefined) continue; // a helper module, not a benchmark module
      if (!Array.isArray(exports.benchmarks) || !exports.benchmarks.every(isBenchmark)) {
        throw new TypeError('its `benchmarks` export is not an array of { name, run() }');
      }
      for (const benchmark of exports.benchmarks) found.push({ module, benchmark });
    } catch (error) {
      broken.push({ module, error });
    }
  }
  return { found, broken };
}

function isBenchmark(value: unknown): value is Benchmark {
  const candidate = value as Partial<Benchmark> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.name === 'string' && typeof candidate.run === 'function';
}

function asJson(result: Figure): Figure {
  return {
    name: result.name,
    unit: result.unit,
    median: result.median,
    min: result.min,
    max: result.max,
    ...(result.baseline !== undefined ? { baseline: result.baseline } : {}),
    ...(result.ratio !== undefined ? { ratio: result.ratio } : {}),
  };
}

const COLUMNS = { name: 32, median: 12, unit: 14, range: 27 };

function tableHeader(): string {
  const line = `${'NAME'.padEnd(COLUMNS.name)} ${'MEDIAN'.padStart(COLUMNS.median)} ${'UNIT'.padEnd(COLUMNS.unit)} ${'MIN–MAX'.padEnd(COLUMNS.range)} RATIO vs BASELINE`;
  return `${line}\n${'-'.repeat(line.length)}\n`;
}

function tableRow(result: Figure): string {
  const range = `${formatNumber(result.min)}–${formatNumber(result.max)}`;
  const ratio = result.ratio !== undefined && result.baseline !== undefined ? `${formatRatio(result.ratio)} ${result.baseline}` : '';
  return `${result.name.padEnd(COLUMNS.name)} ${formatNumber(result.median).padStart(COLUMNS.median)} ${result.unit.padEnd(COLUMNS.unit)} ${range.padEnd(COLUMNS.range)} ${ratio}`.trimEnd() + '\n';
}

/** Three significant digits, whole numbers with thousands separators from 1000 up. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  if (magnitude === 0) return '0';
  return value.toPrecision(3);
}

function formatRatio(ratio: number): string {
  return `${ratio >= 0.01 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

function machine(): string {
  const cpu = cpus();
  return `machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'} (${arch()}), cpuidle ${cpuidleDriver()}, ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, load average ${loadavg()[0]!.toFixed(2)}; ${new Date().toISOString()}`;
}

/**
 * The cpuidle driver (Linux): how an idle core sleeps, which sets what waking a blocked thread
 * costs (e.g. haltpoll without guest halt-polling: ~40 µs; see ipc/waiter.ts). "none" elsewhere.
 */
function cpuidleDriver(): string {
  try {
    const driver = readFileSync('/sys/devices/system/cpu/cpuidle/current_driver', 'utf8').trim();
    let pollNs = '';
    try {
      pollNs = readFileSync('/sys/module/haltpoll/parameters/guest_halt_poll_ns', 'utf8').trim();
    } catch {
      // no haltpoll module
    }
    return driver === 'haltpoll' && pollNs !== '' ? `${driver} (guest_halt_poll_ns ${pollNs})` : driver || 'none';
  } catch {
    return 'none';
  }
}

function describe(error: unknown, withStack = false): string {
  if (!(error instanceof Error)) return String(error);
  return withStack && error.stack ? error.stack : error.message;
}
