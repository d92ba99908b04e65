import { createJsonLogger } from '../hal/json_logger.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../hal/clock.js';
import { DoorbellPage, DOORBELL_SLOTS } from '../hal/doorbells.js';
import { InterruptController } from '../hal/irq.js';
import { Ram } from '../hal/ram.js';
import { DmaPool } from './dma_pool.js';
import type { ProgramSpec } from './manifest.js';
import { NameService } from './name_service.js';
import { poolMemory } from './physical_memory.js';
import { Process } from './process.js';
import { DEFAULT_SYSTEM, HEARTBEAT_WORDS, type BootInfo } from './protocol.js';
import { Supervisor } from './supervisor.js';
import { ThreadPool } from './thread_pool.js';

const shell = new URL('../build/microkernel/userlib/thread_main.js', import.meta.url);
const fixture = new URL('./test_fixtures/misbehaving_server.mjs', import.meta.url).href;
let supervisor: Supervisor | undefined;
let pool: ThreadPool | undefined;
afterEach(async () => {
  await supervisor?.stopAll();
  await pool?.close();
});

function program(behaviour: unknown, maximumQuickFailures = 5, startTimeoutMs?: number): ProgramSpec {
  return {
    name: 'victim', kind: 'server', version: '1', entry: fixture, serves: [], talksTo: [], heartbeatMs: 50,
    ...(startTimeoutMs ? { startTimeoutMs } : {}),
    config: { behaviour },
    restart: { policy: 'always', maximumQuickFailures, minimumRunMs: 60_000, backoffInitialMs: 0, backoffCapMs: 0 },
  } as ProgramSpec;
}

function system(logged: string[] = []) {
  const ram = Ram.allocate(8 * 1024 * 1024);
  const doorbells = new DoorbellPage();
  const interrupts = new InterruptController(doorbells);
  const clock = new Clock();
  const heartbeats = new Int32Array(new SharedArrayBuffer(DOORBELL_SLOTS * HEARTBEAT_WORDS * 4));
  pool = new ThreadPool(shell);
  const names: NameService = new NameService({
    doorbells, kernelSlot: 1, find: (name) => supervisor!.find(name), attach: () => undefined, warn: () => undefined,
  });
  supervisor = new Supervisor({
    log: createJsonLogger({ level: 'info' }, (line) => void logged.push(JSON.parse(line).msg)),
    pool,
    names,
    memory: poolMemory(new DmaPool(ram, [{ start: ram.base, end: ram.end }])),
    heartbeats,
    nowMs: () => clock.nowMs(),
    bootInfo: (process, start): BootInfo => ({
      name: process.name, kind: 'server', module: process.spec.entry, generation: process.generation, start, slot: process.slot, kernelSlot: 1,
      doorbells: doorbells.buffer, interrupts: interrupts.buffer, clock: clock.buffer, ram: ram.descriptor,
      heartbeat: { buffer: heartbeats.buffer as SharedArrayBuffer, index: process.slot, periodMs: process.spec.heartbeatMs },
      config: process.spec.config, system: DEFAULT_SYSTEM, remembered: process.remembered,
    }),
  });
  return supervisor;
}

/** Resolves with the first state change that satisfies `predicate`. */
function until(target: Supervisor, predicate: (process: Process, why?: string) => boolean): Promise<{ process: Process; why?: string }> {
  return new Promise((resolve) => target.onStateChange((process, why) => {
    if (predicate(process, why)) resolve({ process, why });
  }));
}

describe('Supervisor', () => {
  it('Supervisor restarts a program whose heartbeat stops as its next generation', async () => {
    const target = system();
    const victim = new Process('victim', program('hang-after-ready'), 2);
    target.add(victim);
    target.watch();
    const hung = until(target, (process, why) => process === victim && process.state === 'restarting' && (why ?? '').startsWith('hung'));
    expect(await target.start(victim, 'fresh')).toBe(true);
    const { why } = await hung;
    expect(why).toMatch(/^hung: no heartbeat for \d+ ms/);
    await until(target, (process) => process === victim && process.state === 'running' && process.generation === 2);
    expect(victim.restarts).toBe(1);
  });

  it('Supervisor counts changes of the program list: a waiting epochAfter answers on a state change, an add or a remove, and after its wait otherwise', async () => {
    const target = system();
    const victim = new Process('victim', program('crash-at-init', 1), 2);
    const before = target.epoch;
    target.add(victim);
    expect(await target.epochAfter(before, 60_000)).toBe(before + 1);
    // Nothing changes: the wait ends with the epoch as it was.
    expect(await target.epochAfter(before + 1, 10)).toBe(before + 1);
    const started = target.epochAfter(before + 1, 60_000);
    const failed = until(target, (process) => process === victim && process.state === 'failed');
    void target.start(victim, 'fresh');
    expect(await started).toBeGreaterThan(before + 1);
    await failed;
    const settled = target.epoch;
    const removed = target.epochAfter(settled, 60_000);
    target.remove(victim);
    expect(await removed).toBe(settled + 1);
    expect(target.find('victim')).toBeUndefined();
  });

  it('Supervisor marks a program failed after too many quick failures and stays up', async () => {
    const target = system();
    const victim = new Process('victim', program('crash-at-init', 2), 2);
    target.add(victim);
    target.watch();
    const failed = until(target, (process) => process === victim && process.state === 'failed');
    void target.start(victim, 'fresh');
    await failed;
    // maximumQuickFailures 2: the second failure in a row is the last.
    expect(victim.generation).toBe(2);
    expect(victim.restarts).toBe(1);
    expect(victim.thread).toBeUndefined();
  });

  it('Supervisor counts an init that never resolves as a quick failure: restarted with backoff, then failed', async () => {
    const target = system();
    // minimumRunMs is 60 s but each generation gets only 200 ms to become ready.
    const victim = new Process('victim', program('never-ready', 3, 200), 2);
    target.add(victim);
    target.watch();
    const reasons: string[] = [];
    target.onStateChange((process, why) => {
      if (process === victim && why) reasons.push(why);
    });
    const failed = until(target, (process) => process === victim && process.state === 'failed');
    expect(await target.start(victim, 'fresh')).toBe(false);
    await failed;
    expect(victim.generation).toBe(3);
    expect(reasons).toEqual(['not ready after 200 ms: treated as hung', 'not ready after 200 ms: treated as hung']);
    expect(victim.lastExit).toBe('not ready after 200 ms: treated as hung');
  });

  it('Supervisor refuses to start a program whose config fails its schema, naming the field, and does not retry it', async () => {
    const logged: string[] = [];
    const target = system(logged);
    const victim = new Process('victim', program(['idle']), 2);
    target.add(victim);
    target.watch();
    const failed = until(target, (process) => process === victim && process.state === 'failed');
    expect(await target.start(victim, 'fresh')).toBe(false);
    await failed;
    expect(victim.generation).toBe(1); // a config does not get better by retrying
    expect(victim.restarts).toBe(0);
    expect(victim.lastExit).toBe('victim: config field "behaviour": expected string (got ["idle"])');
    expect(logged).toContain('victim: config field "behaviour": expected string (got ["idle"]); not started (fix its manifest or boot arguments)');
  });

  it('Supervisor starts a program whose config converts to its schema (a boot argument can only say numbers and text)', async () => {
    const target = system();
    const victim = new Process('victim', program(7), 2); // "7", as behaviour is a string
    target.add(victim);
    expect(await target.start(victim, 'fresh')).toBe(true);
  });
});
