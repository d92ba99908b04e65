// Server worker start-up, every way baton could start one, compared in the same run.
//
//   startup.worker.bare          new Worker(plain .mjs) to its first message: the baseline
//   startup.shell.compiled       the compiled server shell (build/.../thread_main.js) to 'shell-ready'
//   startup.shell.ts-node        the same shell from its .ts source through ts-node, to 'shell-ready'
//   startup.server.compiled      cold: new compiled shell, start, init, first call answered
//   startup.server.ts-node       cold: shell and server module from .ts through ts-node, call answered
//   startup.server.pooled        ThreadPool.take() of the warm spare, start, init, call answered
//   startup.task-pool.first-task node-worker-threads-pool: new StaticPool to its first task's result
//   startup.task-pool.task       a task on a started StaticPool (the task pool's warm path)
//
// Every figure is a time in ms, compared with startup.worker.bare. Samples are taken in
// rounds (one of each per round) so that load from other processes spreads over all of
// them alike. Servers go through the kernel's real Supervisor and name service (see
// fixtures/stand_in_kernel.ts); only the start-up is timed, never setup or teardown.

import { Worker } from 'node:worker_threads';
import { StaticPool } from 'node-worker-threads-pool';
import type { HardwareThread } from '../../hal/cpu.js';
import { ThreadPool } from '../../microkernel/thread_pool.js';
import {
  bareWorker, ColdShells, compiledEchoServer, compiledShell, launchShell, sourceEchoServer, sourceShell,
  StandInKernel, tsNodeData, tsNodeEntry,
} from './fixtures/stand_in_kernel.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';

const ROUNDS = 9;
/** ts-node start-ups take over a second each: fewer rounds include them. */
const TS_NODE_ROUNDS = 5;
const BARE = 'startup.worker.bare';

/** One timed start-up: does its own untimed setup and teardown, returns the timed ms. */
export type Sampler = () => Promise<number>;

/** Times `body` alone. */
export async function timed(body: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await body();
  return performance.now() - start;
}

/** Rejects if `promise` has not settled within `ms` (a benchmark must never hang the run). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** new Worker(bare_worker.mjs) to its first message; the worker is terminated untimed. */
export const bareWorkerStart: Sampler = async () => {
  let worker: Worker | undefined;
  const elapsed = await timed(() => within(new Promise<void>((resolve, reject) => {
    worker = new Worker(bareWorker);
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`bare worker exited with code ${code}`)));
  }), 10_000, 'bare worker'));
  await worker?.terminate();
  return elapsed;
};

export interface InterleavedSampler {
  readonly name: string;
  readonly sample: Sampler;
  /** Stop after this many rounds (for slow samplers). */
  readonly rounds?: number;
  /** If it fails, drop it (with a note on stderr) instead of failing the benchmark. */
  readonly optional?: boolean;
}

/**
 * Runs every sampler once per round, `rounds` times after one unrecorded warm-up round.
 * Returns the samples of every sampler that did not fail.
 */
export async function interleaved(samplers: readonly InterleavedSampler[], rounds = ROUNDS): Promise<Map<string, Samples>> {
  const values = new Map<string, number[]>(samplers.map(({ name }) => [name, []]));
  for (let round = -1; round < rounds; round++) {
    for (const { name, sample, rounds: own, optional } of samplers) {
      const list = values.get(name);
      if (!list || (own !== undefined && round >= own)) continue;
      try {
        const elapsed = await sample();
        if (round >= 0) list.push(elapsed);
      } catch (error) {
        if (!optional) throw error;
        values.delete(name);
        process.stderr.write(`${name}: dropped, it failed: ${(error as Error).message}\n`);
      }
    }
  }
  return new Map([...values].map(([name, list]) => [name, summarize(list)]));
}

/** A shell from `entry` to 'shell-ready'; terminated untimed. */
function shellStart(entry: URL, data?: unknown): Sampler {
  return async () => {
    let shell: HardwareThread | undefined;
    const elapsed = await timed(async () => {
      shell = await within(launchShell(entry, 'bench-shell', data), 30_000, `shell ${entry.pathname}`);
    });
    await shell?.terminate();
    return elapsed;
  };
}

/**
 * A fresh generation of a bench echo server on `kernel`, from `supervisor.start` to the
 * first call answered; stopped cleanly untimed. With a ThreadPool, the spare is made
 * ready first, so the figure is the pre-warmed path.
 */
export function serverStart(kernel: StandInKernel, name: string, module: URL): Sampler {
  const server = kernel.addServer(name, module);
  const client = kernel.client(name);
  return async () => {
    await spareReady(kernel.pool);
    const elapsed = await timed(async () => {
      void kernel.supervisor.start(server, 'fresh');
      const generation = await within(client.generation({}), 30_000, `${name} first call`);
      if (generation !== server.generation) throw new Error(`${name}: generation ${generation} answered, expected ${server.generation}`);
    });
    await kernel.supervisor.stop(server);
    return elapsed;
  };
}

/**
 * Waits until `pool`'s warm spare (if it keeps one) has reported ready. ThreadPool has no
 * public way to ask, so this reads its private `spare` promise; a ThreadPool.warm() that
 * resolved when the spare is ready would replace this.
 */
export async function spareReady(pool: ThreadPool): Promise<void> {
  const spare = Reflect.get(pool, 'spare') as Promise<HardwareThread> | undefined;
  if (spare) await within(spare, 30_000, 'the pool spare');
}

/** node-worker-threads-pool: a new pool of one worker to its first task's result. */
const taskPoolFirstTask: Sampler = async () => {
  let pool: StaticPool<(n: number) => number> | undefined;
  const elapsed = await timed(async () => {
    pool = new StaticPool({ size: 1, task: (n: number) => n + 1 });
    const result = await within(pool.exec(1), 10_000, 'task pool first task');
    if (result !== 2) throw new Error(`task pool answered ${result}`);
  });
  await pool?.destroy();
  return elapsed;
};

/** A task on a started pool (its worker idle and ready). */
function taskPoolTask(pool: StaticPool<(n: number) => number>): Sampler {
  return async () => {
    await pool.exec(0); // the worker is up and idle before the timed task
    return timed(async () => {
      if ((await pool.exec(1)) !== 2) throw new Error('task pool answered wrongly');
    });
  };
}

async function run(): Promise<Figure[]> {
  const cold = new StandInKernel({ pool: new ColdShells(compiledShell) });
  const tsNode = new StandInKernel({ pool: new ColdShells(tsNodeEntry, tsNodeData(sourceShell)) });
  const pooled = new StandInKernel({ pool: new ThreadPool(compiledShell) });
  const taskPool = new StaticPool({ size: 1, task: (n: number) => n + 1 });
  let results: Map<string, Samples>;
  try {
    results = await interleaved([
      { name: BARE, sample: bareWorkerStart },
      { name: 'startup.shell.compiled', sample: shellStart(compiledShell) },
      { name: 'startup.shell.ts-node', sample: shellStart(tsNodeEntry, tsNodeData(sourceShell)), rounds: TS_NODE_ROUNDS, optional: true },
      { name: 'startup.server.compiled', sample: serverStart(cold, 'echo-cold', compiledEchoServer) },
      { name: 'startup.server.ts-node', sample: serverStart(tsNode, 'echo-ts-node', sourceEchoServer), rounds: TS_NODE_ROUNDS, optional: true },
      { name: 'startup.server.pooled', sample: serverStart(pooled, 'echo-pooled', compiledEchoServer) },
      { name: 'startup.task-pool.first-task', sample: taskPoolFirstTask },
      { name: 'startup.task-pool.task', sample: taskPoolTask(taskPool) },
    ]);
  } finally {
    await Promise.allSettled([cold.close(), tsNode.close(), pooled.close(), taskPool.destroy()]);
  }
  const bare = { name: BARE, samples: results.get(BARE)! };
  const figures = [...results].map(([name, samples]) => figure(name, 'ms', samples, name === BARE ? undefined : bare));
  reportFastest(results);
  return figures;
}

/** Says on stderr which way of starting a server is fastest, and by how much. */
function reportFastest(results: Map<string, Samples>): void {
  const servers = [...results].filter(([name]) => name.startsWith('startup.server.')).sort((a, b) => a[1].median - b[1].median);
  const [fastestName, fastest] = servers[0]!;
  const others = servers.slice(1).map(([name, samples]) => `${(samples.median / fastest.median).toFixed(1)}× faster than ${name.slice('startup.server.'.length)}`);
  process.stderr.write(`startup: fastest server (re)start is ${fastestName.slice('startup.server.'.length)} ` +
    `(${fastest.median.toFixed(1)} ms to first answer): ${others.join(', ')}\n`);
}

export const benchmarks: Benchmark[] = [{ name: 'startup', run }];
