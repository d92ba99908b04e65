// Whole-system figures: how fast a server comes back after a crash, and how fast baton boots.
//
// restart (in this process, the kernel's real Supervisor, name service and ThreadPool on a
// stand-in kernel, fixtures/stand_in_kernel.ts):
//   restart.worker.bare      new Worker(plain .mjs) to its first message: the baseline
//   restart.kill             kill (crash message) → the supervisor restarts it → the new
//                            generation answers a call through a reconnected client
//   restart.request          supervisor.restart (clean stop, then start) → call answered
//   restart.kill.cold        as restart.kill with no warm spare (a new shell per start)
//
// boot (child processes, each with a private --run-dir):
//   boot.node                a bare `node -e` process to its first output: the baseline
//   boot.start               `node tools/bin/baton.mjs start` (what npm start runs) to the
//                            first "baton> " on stdout
//   boot.npm-start           `npm start -- --run-dir DIR` to the first prompt (npm's own start-up
//                            included), against boot.start
//   boot.kernel-entry        board power-on to kernel entry, from the boot log's timestamp
//   boot.servers             kernel entry to every server ready, as the kernel reports it
//   boot.shutdown            `shutdown` typed to the process exiting
//   boot.ctl.ps              `ps` over the control socket (tools/ctl.ts runRemote)
//   boot.ctl.restart         `restart log` over the control socket, against boot.worker.bare
//   boot.worker.bare         the bare worker baseline, sampled in the same rounds
//
// Samples are taken in rounds, one of each per round, so load from other processes spreads
// over all figures alike.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRemote } from '../ctl.js';
import { projectRoot, runFiles } from '../paths.js';
import { ThreadPool } from '../../microkernel/thread_pool.js';
import { ColdShells, compiledShell, StandInKernel } from './fixtures/stand_in_kernel.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';
import { bareWorkerStart, interleaved, spareReady, timed, within, type Sampler } from './startup.js';

const RESTART_ROUNDS = 15;
const BOOT_ROUNDS = 7;
const PROMPT = 'baton> ';
const BOOT_TIMEOUT_MS = 60_000;
const launcher = join(projectRoot, 'tools', 'bin', 'baton.mjs');
/** Notes printed once per run. */
let lateControlPromptReported = false;
let staleBuildReported = false;

// ---- restart -------------------------------------------------------------------------

/** One echo server on `kernel`, running; samples `restart` (kill or request) to the new generation's first answer. */
async function restartSampler(kernel: StandInKernel, name: string, how: 'kill' | 'request'): Promise<Sampler> {
  const server = kernel.addServer(name);
  const client = kernel.client(name);
  if (!(await kernel.supervisor.start(server, 'fresh'))) throw new Error(`${name} did not start`);
  await client.generation({});
  return async () => {
    await spareReady(kernel.pool);
    const next = server.generation + 1;
    return timed(async () => {
      if (how === 'kill') kernel.supervisor.kill(server);
      else void kernel.supervisor.restart(server);
      // Until the crash lands, the old generation may still answer: ask until the new one does.
      for (;;) {
        const generation = await within(client.generation({}), 30_000, `${name} after ${how}`);
        if (generation === next) return;
        if (generation > next) throw new Error(`${name}: generation ${generation} answered, expected ${next}`);
      }
    });
  };
}

async function runRestart(): Promise<Figure[]> {
  const pooled = new StandInKernel({ pool: new ThreadPool(compiledShell) });
  const cold = new StandInKernel({ pool: new ColdShells(compiledShell) });
  let results: Map<string, Samples>;
  try {
    results = await interleaved([
      { name: 'restart.worker.bare', sample: bareWorkerStart },
      { name: 'restart.kill', sample: await restartSampler(pooled, 'echo-kill', 'kill') },
      { name: 'restart.request', sample: await restartSampler(pooled, 'echo-request', 'request') },
      { name: 'restart.kill.cold', sample: await restartSampler(cold, 'echo-cold', 'kill') },
    ], RESTART_ROUNDS);
  } finally {
    await Promise.allSettled([pooled.close(), cold.close()]);
  }
  const bare = { name: 'restart.worker.bare', samples: results.get('restart.worker.bare')! };
  return [...results].map(([name, samples]) => figure(name, 'ms', samples, name === bare.name ? undefined : bare));
}

// ---- boot ----------------------------------------------------------------------------

interface BootRun {
  /** Spawn to the first prompt on stdout. */
  readonly promptMs: number;
  /** Board clock at kernel entry, from the boot log. */
  readonly kernelEntryMs: number | undefined;
  /** Kernel entry to all servers ready, as the kernel printed it. */
  readonly serversMs: number | undefined;
  /** `shutdown` written to the process closing. */
  readonly shutdownMs: number;
  readonly ctlPsMs: number | undefined;
  readonly ctlRestartMs: number | undefined;
}

/**
 * Boots baton with `command args` in a private run directory, waits for the first prompt,
 * optionally drives the control socket, then types `shutdown`. Never leaves a process
 * behind: on any failure the process group is killed.
 */
async function bootOnce(command: string, args: (runDirectory: string) => string[], withControl: boolean): Promise<BootRun> {
  const runDirectory = mkdtempSync(join(tmpdir(), 'baton-bench-'));
  const started = performance.now();
  const child = spawn(command, args(runDirectory), { cwd: projectRoot, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let output = '';
  let promptAt: number | undefined;
  let onPrompt: (() => void) | undefined;
  const closed = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (promptAt === undefined && output.includes(PROMPT)) {
      promptAt = performance.now();
      onPrompt?.();
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  try {
    await within(Promise.race([
      new Promise<void>((resolve) => (onPrompt = resolve)),
      closed.then((status) => {
        throw new Error(`${command} ${args(runDirectory).join(' ')} exited (${status}) before its prompt:\n${output}`);
      }),
    ]), BOOT_TIMEOUT_MS, `${command} boot`);
    const promptMs = promptAt! - started;
    let ctlPsMs: number | undefined;
    let ctlRestartMs: number | undefined;
    if (withControl) {
      const { socket } = runFiles(runDirectory);
      await synchronizeControl(socket);
      ctlPsMs = await timed(() => within(runRemote(socket, 'ps'), 30_000, 'ctl ps'));
      let reply = '';
      ctlRestartMs = await timed(async () => {
        reply = await within(runRemote(socket, 'restart log'), 30_000, 'ctl restart log');
      });
      if (!/generation \d+ running/.test(reply)) throw new Error(`restart log answered: ${reply}`);
    }
    const shutdownStart = performance.now();
    child.stdin.write('shutdown\n');
    const status = await within(closed, BOOT_TIMEOUT_MS, `${command} shutdown`);
    const shutdownMs = performance.now() - shutdownStart;
    if (output.includes('sources changed, building') && !staleBuildReported) {
      staleBuildReported = true;
      process.stderr.write('boot: a boot ran `tsc -b` first (tools/bin/baton.mjs found a .ts file newer than build/*.tsbuildinfo); boot figures include the build check\n');
    }
    if (status !== 0) throw new Error(`${command} exited with status ${status} after shutdown:\n${output}`);
    const entry = /\[\s*([\d.]+)\] baton kernel\b[^\n]*: entered/.exec(output);
    const servers = /started \d+ of \d+ servers and drivers in (\d+) ms/.exec(output);
    return {
      promptMs,
      kernelEntryMs: entry ? Number(entry[1]) * 1000 : undefined,
      serversMs: servers ? Number(servers[1]) : undefined,
      shutdownMs,
      ctlPsMs,
      ctlRestartMs,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await closed;
    }
    rmSync(runDirectory, { recursive: true, force: true });
  }
}

/**
 * Makes sure the control console's next answer is to our next command. Right after boot the
 * control terminal's first prompt can arrive after a client has connected; runRemote then
 * takes that prompt as its command's end and every later answer is one command behind.
 * Sends unknown marker commands, pausing between them so a late answer lands while no
 * client is attached (and is dropped), until one answers for itself.
 */
async function synchronizeControl(socket: string): Promise<void> {
  let firstReply: string | undefined;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const marker = `bench-sync-${attempt}`;
    const reply = await within(runRemote(socket, marker), 30_000, 'ctl sync');
    firstReply ??= reply;
    if (reply.includes(`"${marker}"`)) {
      if (attempt > 1 && !lateControlPromptReported) {
        lateControlPromptReported = true;
        process.stderr.write(`boot: the first ctl command after the prompt was answered with ${JSON.stringify(firstReply.slice(0, 60))} ` +
          'instead of its own output: the control console\'s first prompt arrived after the client connected\n');
      }
      return;
    }
    // Our own answer is still on its way: let it arrive while nobody is attached (dropped).
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
  throw new Error('the control console never answered a marker command for itself');
}

/** A bare node process to its first byte of output. */
async function nodeProcessStart(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("ready")'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const elapsed = await within(new Promise<number>((resolve, reject) => {
    child.stdout.once('data', () => resolve(performance.now() - started));
    child.once('error', reject);
  }), 30_000, 'node -e');
  await closed;
  return elapsed;
}

async function runBoot(): Promise<Figure[]> {
  const values = new Map<string, number[]>();
  const add = (name: string, value: number | undefined) => {
    if (value === undefined) return;
    values.set(name, [...(values.get(name) ?? []), value]);
  };
  const batonStart = (runDirectory: string) => [launcher, 'start', '--run-dir', runDirectory];
  const npmStart = (runDirectory: string) => ['start', '--', '--run-dir', runDirectory];
  for (let round = -1; round < BOOT_ROUNDS; round++) {
    const record = round >= 0;
    const node = await nodeProcessStart();
    const baton = await bootOnce(process.execPath, batonStart, true);
    const npm = await bootOnce('npm', npmStart, false);
    const bare = await bareWorkerStart();
    if (!record) continue;
    add('boot.node', node);
    add('boot.start', baton.promptMs);
    add('boot.npm-start', npm.promptMs);
    add('boot.kernel-entry', baton.kernelEntryMs);
    add('boot.servers', baton.serversMs);
    add('boot.shutdown', baton.shutdownMs);
    add('boot.ctl.ps', baton.ctlPsMs);
    add('boot.ctl.restart', baton.ctlRestartMs);
    add('boot.worker.bare', bare);
  }
  const figures: Figure[] = [];
  const report = (name: string, baseline?: string) => {
    const list = values.get(name);
    // kernel-entry and servers come from the boot log; a changed log line must not sink the rest.
    if (!list) return void process.stderr.write(`boot: no samples for ${name} (boot log line not found)\n`);
    const base = baseline ? values.get(baseline) : undefined;
    figures.push(figure(name, 'ms', summarize(list), base ? { name: baseline!, samples: summarize(base) } : undefined));
  };
  report('boot.node');
  report('boot.start', 'boot.node');
  report('boot.npm-start', 'boot.start');
  report('boot.kernel-entry');
  report('boot.servers');
  report('boot.shutdown');
  report('boot.worker.bare');
  report('boot.ctl.ps');
  report('boot.ctl.restart', 'boot.worker.bare');
  return figures;
}

export const benchmarks: Benchmark[] = [
  { name: 'restart', run: runRestart },
  { name: 'boot', run: runBoot },
];
