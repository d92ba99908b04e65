// kexec downtime with KHO: the time from typing `kexec` to the first prompt of the new
// kernel, with different amounts of memory preserved (by the kho-test server, which
// preserves random folios and restores them all after the kexec) and different RAM sizes.
//
//   kexec.downtime.2G.log-only        2 GiB machine, only the log ring (1 MiB) preserved
//   kexec.downtime.2G.64M             2 GiB, 64 MiB more as ~2000 folios of orders 0..4
//   kexec.downtime.2G.1G              2 GiB, 1 GiB more as ~500 folios of orders 0..10
//   kexec.downtime.256M.64M           256 MiB machine, the same 64 MiB as above
//
// kho-test.verify=0: the folios are preserved and reserved but not checksummed after the
// kexec, so the figure is the handover itself. Each figure's ratio is against
// kexec.downtime.2G.log-only. The point to read: downtime
// follows the number of preserved blocks (the walk and reserve), not the RAM size
// (256M.64M vs 2G.64M), and not the preserved bytes (2G.1G has fewer blocks than 2G.64M).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';

const PROMPT = 'baton> ';
const ROUNDS = 3;
const launcher = join(projectRoot, 'tools', 'bin', 'baton.mjs');

interface Scenario {
  readonly name: string;
  readonly ram: string;
  readonly bootargs: string;
  readonly manifest: string;
}

const scenarios: Scenario[] = [
  { name: 'kexec.downtime.2G.log-only', ram: '2G', manifest: 'default', bootargs: '' },
  { name: 'kexec.downtime.2G.64M', ram: '2G', manifest: 'kho-test', bootargs: 'kho-test.maximumBytes=67108864 kho-test.maximumOrder=4 kho-test.verify=0' },
  { name: 'kexec.downtime.2G.1G', ram: '2G', manifest: 'kho-test', bootargs: 'kho-test.maximumBytes=1073741824 kho-test.maximumOrder=10 kho-test.verify=0' },
  { name: 'kexec.downtime.256M.64M', ram: '256M', manifest: 'kho-test', bootargs: 'kho-test.maximumBytes=67108864 kho-test.maximumOrder=4 kho-test.verify=0' },
];

/** Boots one system, kexecs it once, returns the downtime in ms and the blocks the new kernel reserved. */
async function kexecOnce(scenario: Scenario): Promise<{ ms: number; blocks: number }> {
  const runDirectory = mkdtempSync(join(tmpdir(), 'baton-bench-kexec-'));
  const child = spawn(process.execPath, [launcher, 'start', '--run-dir', runDirectory, '--ram', scenario.ram,
    '--manifest', scenario.manifest, ...(scenario.bootargs ? ['--bootargs', scenario.bootargs] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.splice(0)) waiter();
  });
  const until = (predicate: () => boolean) => new Promise<void>((resolve, reject) => {
    const check = () => (predicate() ? resolve() : child.exitCode !== null ? reject(new Error(`baton exited:\n${output}`)) : waiters.push(check));
    child.on('exit', () => check());
    check();
  });
  try {
    await until(() => output.includes(PROMPT));
    if (scenario.manifest === 'kho-test') {
      // The prompt comes once every server is ready; the test server has preserved its folios by then.
      child.stdin.write('dmesg -n 200\n');
      await until(() => output.includes('KHO test: folios preserved'));
    }
    const mark = output.length;
    const started = performance.now();
    child.stdin.write('kexec\n');
    await until(() => output.indexOf(PROMPT, output.indexOf('kexec: entering', mark)) > 0 && output.indexOf('kexec: entering', mark) > 0);
    const ms = performance.now() - started;
    const blocks = Number(/incoming handover at 0x[0-9a-f]+: (\d+) preserved blocks/.exec(output.slice(mark))?.[1] ?? 0);
    child.stdin.write('shutdown\n');
    await new Promise((resolve) => child.once('exit', resolve));
    return { ms, blocks };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(runDirectory, { recursive: true, force: true });
  }
}

async function runKexec(): Promise<Figure[]> {
  const results = new Map<string, { samples: number[]; blocks: number }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) {
      const { ms, blocks } = await kexecOnce(scenario);
      const entry = results.get(scenario.name) ?? { samples: [], blocks };
      entry.samples.push(ms);
      results.set(scenario.name, entry);
    }
  }
  const baseline = { name: scenarios[0]!.name, samples: summarize(results.get(scenarios[0]!.name)!.samples) };
  return scenarios.flatMap((scenario) => {
    const entry = results.get(scenario.name)!;
    const samples: Samples = summarize(entry.samples);
    return [
      figure(scenario.name, 'ms', samples, scenario === scenarios[0] ? undefined : baseline),
      figure(`${scenario.name}.blocks`, 'blocks', { median: entry.blocks, min: entry.blocks, max: entry.blocks }),
    ];
  });
}

export const benchmarks: Benchmark[] = [{ name: 'kexec', run: runKexec }];
