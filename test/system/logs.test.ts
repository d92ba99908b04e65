// Whole-system tests of the log: baton.log in pino's line format, read through pino-pretty
// and jq as the README says; the console's view of warnings across log server restarts;
// records logged while the log server is down kept by the kernel and replayed to it.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from '../harness/system.js';

const checkout = fileURLToPath(new URL('../..', import.meta.url));
const pinoPretty = join(checkout, 'node_modules', '.bin', 'pino-pretty');
const hasJq = spawnSync('jq', ['--version']).status === 0;

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

/** Types `ps` until NAME's row matches `pattern`: each ps is an event; gives up after 45 s with the last table. */
async function psUntil(running: RunningSystem, name: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 45_000;
  let table = '';
  while (Date.now() < deadline) {
    table = await running.command('ps');
    const row = table.split('\n').find((line) => line.startsWith(name + ' '));
    if (row && pattern.test(row)) return row;
  }
  throw new Error(`${name} never matched ${pattern} in ps; last table:\n${table}`);
}

/** Waits for the console to print a log line containing `text` above its prompt. */
function consoleShows(running: RunningSystem, text: string, from = 0): Promise<string> {
  return running.waitFor((output) => output.slice(from).includes(text), `the console to show "${text}"`);
}

/**
 * Waits until baton.log holds a record from `server` whose msg starts with `text` (the log
 * server writes the file while the system runs); gives up after 45 s with the file's tail.
 */
async function fileShows(running: RunningSystem, server: string, text: string): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const file = readFileSync(join(running.runDirectory, 'baton.log'), 'utf8');
    if (file.split('\n').some((line) => line.includes(`"server":"${server}"`) && line.includes(`"msg":"${text}`))) return;
    if (Date.now() > deadline) throw new Error(`baton.log never got ${server}: ${text}; its end:\n${file.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function logLines(running: RunningSystem): Array<Record<string, unknown>> {
  return readFileSync(join(running.runDirectory, 'baton.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the log', () => {
  it('writes baton.log as pino lines that pino-pretty and jq read, and the console shows warnings in short', async () => {
    const bootedAt = Date.now();
    system = await RunningSystem.boot();
    expect(await system.command('kill virtio-rng')).toContain('virtio-rng: killed (generation 1)');
    const shown = await consoleShows(system, 'warn  kernel: virtio-rng: generation 1 crashed: killed on request');
    await psUntil(system, 'virtio-rng', /\s2\s+running\s/);
    expect(shown).toMatch(/\[ +\d+\.\d\d\] warn {2}kernel: virtio-rng: generation 1 crashed: killed on request; restarting in \d+ ms\r\n/);
    // What was logged before the shutdown is in the file while the system runs.
    await fileShows(system, 'virtio-rng', 'virtio-rng bound to');
    await fileShows(system, 'kernel', 'virtio-rng: generation 2 running');
    expect(await system.shutdown()).toBe(0);

    const records = logLines(system);
    for (const record of records) {
      expect(record).toMatchObject({ level: expect.any(Number), time: expect.any(Number), uptimeMs: expect.any(Number),
        server: expect.any(String), generation: expect.any(Number), msg: expect.any(String) });
      expect(record.time as number).toBeGreaterThanOrEqual(bootedAt - 60_000);
      expect(record.time as number).toBeLessThanOrEqual(Date.now() + 60_000);
      expect(record).not.toHaveProperty('message');
      expect(record).not.toHaveProperty('fields');
    }
    expect(records.find((record) => record.msg === 'log ring ready')).toMatchObject({ server: 'log', generation: 1, level: 30, capacity: expect.any(Number) });

    // The README's way to read it: `npx pino-pretty < run/baton.log` in the checkout (its .pino-prettyrc names who logged).
    const pretty = spawnSync(pinoPretty, [], { cwd: checkout, input: readFileSync(join(system.runDirectory, 'baton.log')), encoding: 'utf8' });
    expect(pretty.status, pretty.stderr).toBe(0);
    expect(pretty.stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: kernel#0: virtio-rng: generation 1 crashed: killed on request/m);
    expect(pretty.stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: log#1: log ring ready\n {4}capacity: \d+\n {4}records: 0$/m);
    expect(pretty.stdout).toMatch(/INFO: virtio-rng#2: virtio-rng bound to \/soc\/virtio_mmio@10004000\n {4}device: "\/soc\/virtio_mmio@10004000"\n {4}start: "restart"/);

    if (!hasJq) {
      console.warn('skipped the jq check: jq is not installed');
      return;
    }
    const jq = spawnSync('jq', ['-r', 'select(.level >= 40) | "\\(.server)#\\(.generation) \\(.msg)"', join(system.runDirectory, 'baton.log')], { encoding: 'utf8' });
    expect(jq.status, jq.stderr).toBe(0);
    expect(jq.stdout).toMatch(/^kernel#0 virtio-rng: generation 1 crashed: killed on request/m);
  });

  it('the console shows warnings again after the log server restarts, the crash itself included', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('kill log')).toContain('log: killed (generation 1)');
    // Logged while generation 1 was dead: only generation 2 can show it, to a console that follows it again.
    await consoleShows(system, 'warn  kernel: log: generation 1 crashed: killed on request');
    const since = system.transcript.length;
    expect(await system.command('kill virtio-rng')).toContain('virtio-rng: killed (generation 1)');
    await consoleShows(system, 'warn  kernel: virtio-rng: generation 1 crashed: killed on request', since);
  });

  it('keeps what is logged while the log server is stopped and gives it to the next generation', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('stop log')).toBe('log: stopped');
    expect(await system.command('kill virtio-rng')).toContain('virtio-rng: killed (generation 1)');
    await psUntil(system, 'virtio-rng', /\s2\s+running\s/);
    expect(await system.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    expect(await system.command('start log')).toBe('log: generation 2 running');
    const dmesg = await system.command('dmesg');
    expect(dmesg).toMatch(/warn {2}kernel#0: virtio-rng: generation 1 crashed: killed on request/);
    expect(dmesg).toMatch(/info {2}virtio-rng#2: virtio-rng bound to/);
    // The new generation writes them to baton.log too.
    await fileShows(system, 'kernel', 'virtio-rng: generation 1 crashed: killed on request');
    await fileShows(system, 'virtio-rng', 'virtio-rng bound to /soc/virtio_mmio@10004000","device":"/soc/virtio_mmio@10004000","start":"restart"');
  });

  it('kills the log server until it is marked failed; once started again, dmesg holds every crash, the failure and what came after', async () => {
    system = await RunningSystem.boot();
    let generation = 1;
    for (;;) {
      const killed = await system.command('kill log');
      expect(killed, system.transcript.slice(-3000)).toContain(`log: killed (generation ${generation})`);
      const row = await psUntil(system, 'log', new RegExp(`\\s${generation + 1}\\s+running\\s|\\sfailed\\s`));
      if (/\sfailed\s/.test(row)) break;
      generation++;
      expect(generation, 'the restart policy never marked the log server failed').toBeLessThan(20);
    }
    expect(await system.command('kill virtio-rng')).toContain('virtio-rng: killed (generation 1)');
    await psUntil(system, 'virtio-rng', /\s2\s+running\s/);
    expect(await system.command('start log')).toBe(`log: generation ${generation + 1} running`);
    const dmesg = await system.command('dmesg');
    for (let crashed = 1; crashed < generation; crashed++) {
      expect(dmesg).toMatch(new RegExp(`warn {2}kernel#0: log: generation ${crashed} crashed: killed on request; restarting`));
    }
    expect(dmesg).toMatch(/error kernel#0: log: crashed: killed on request; marked failed/);
    expect(dmesg).toMatch(/warn {2}kernel#0: virtio-rng: generation 1 crashed/);
    expect(dmesg).toMatch(/info {2}virtio-rng#2: virtio-rng bound to/);
  });
});
