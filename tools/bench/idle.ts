// What an idle booted system costs: CPU time per second of wall time, nobody typing.
//
//   idle.node     a bare `node -e` process holding a timer: the floor of any Node process
//   idle.system   `node tools/bin/baton.mjs start` booted to its prompt, after SETTLE_MS (the
//                 spare shell warms up, servers finish their first heartbeats): every thread of
//                 the process together (Endpoint loops parked in Atomics.waitAsync, heartbeats,
//                 timers), against idle.node
//
// CPU time is read from Linux's per-thread scheduler statistics (/proc/PID/task/*/schedstat,
// nanoseconds on a CPU), summed over the threads, over WINDOW_MS windows taken one after the
// other; each figure is the median window in ms of CPU per s of wall time. CPU time is not
// wall time, so unlike the latency figures this one holds up on a loaded machine.
// Linux only: elsewhere the benchmark fails with a clear message.

import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { figure, summarize, type Benchmark, type Figure } from './measure.js';
import { within } from './startup.js';

const PROMPT = 'baton> ';
export const BOOT_TIMEOUT_MS = 60_000;
const SETTLE_MS = 3000;
const WINDOW_MS = 2000;
const WINDOWS = 5;
const launcher = join(projectRoot, 'tools', 'bin', 'baton.mjs');

/** Nanoseconds process `pid` has spent on a CPU so far, all its threads together. */
export function cpuNanoseconds(pid: number): number {
  let total = 0;
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total;
}

/** CPU ms per wall s of `pid`, over WINDOWS consecutive windows. */
export async function cpuPerSecond(pid: number): Promise<number[]> {
  const windows: number[] = [];
  for (let index = 0; index < WINDOWS; index++) {
    const cpuBefore = cpuNanoseconds(pid);
    const wallBefore = performance.now();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const cpu = (cpuNanoseconds(pid) - cpuBefore) / 1e6;
    windows.push(cpu / ((performance.now() - wallBefore) / 1000));
  }
  return windows;
}

/** Kills `child`'s process group if it still runs, and waits for it to close. */
export async function stop(child: ChildProcess, closed: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await closed;
}

async function idleNode(): Promise<number[]> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); process.stdout.write("ready")'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  const closed = new Promise((resolve) => child.on('close', resolve));
  try {
    await within(new Promise((resolve) => child.stdout.once('data', resolve)), 30_000, 'node -e');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return await cpuPerSecond(child.pid!);
  } finally {
    await stop(child, closed);
  }
}

/** A system `baton start` booted in a fresh run directory, at its first prompt. */
export interface BenchSystem {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit status once the process has closed. */
  readonly closed: Promise<number | null>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Ends the process if it still runs and removes its run directory. */
  remove(): Promise<void>;
}

/** Boots a system (run directory named after `name`) and waits for its prompt; on failure stops it and throws. */
export async function bootSystem(name: string): Promise<BenchSystem> {
  const runDirectory = mkdtempSync(join(tmpdir(), `baton-bench-${name}-`));
  const child = spawn(process.execPath, [launcher, 'start', '--run-dir', runDirectory], { cwd: projectRoot, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  let output = '';
  const system: BenchSystem = {
    child, closed,
    output: () => output,
    remove: async () => {
      await stop(child, closed);
      rmSync(runDirectory, { recursive: true, force: true });
    },
  };
  try {
    await within(new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(PROMPT)) resolve();
      });
      child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
      void closed.then((status) => reject(new Error(`baton start exited (${status}) before its prompt:\n${output}`)));
    }), BOOT_TIMEOUT_MS, 'baton start');
    return system;
  } catch (error) {
    await system.remove();
    throw error;
  }
}

async function idleSystem(): Promise<number[]> {
  const system = await bootSystem('idle');
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const windows = await cpuPerSecond(system.child.pid!);
    system.child.stdin.write('shutdown\n');
    const status = await within(system.closed, BOOT_TIMEOUT_MS, 'baton shutdown');
    if (status !== 0) throw new Error(`baton exited with status ${status} after shutdown:\n${system.output()}`);
    return windows;
  } finally {
    await system.remove();
  }
}

async function runIdle(): Promise<Figure[]> {
  try {
    readdirSync('/proc/self/task');
  } catch {
    throw new Error('idle: needs Linux /proc (per-thread schedstat) to read CPU time');
  }
  const node = { name: 'idle.node', samples: summarize(await idleNode()) };
  const system = summarize(await idleSystem());
  return [figure(node.name, 'ms CPU/s', node.samples), figure('idle.system', 'ms CPU/s', system, node)];
}

export const benchmarks: Benchmark[] = [{ name: 'idle', run: runIdle }];
