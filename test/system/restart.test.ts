// Whole-system tests: every server restartable. `kill` each row of `ps` in turn and check the
// system still answers; `kill memory` brings a generation that reattaches to its state, so
// every page owned before is owned after and pages in use are not handed out again.

import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from '../harness/system.js';

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

const DEADLINE_MS = 60_000;

interface Row { name: string; generation: number; state: string }

function rows(table: string): Row[] {
  return table.split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((words) => words.length >= 4)
    .map(([name, , generation, state]) => ({ name: name!, generation: Number(generation), state: state! }));
}

/** Runs `ps` until `name` is running as generation `generation` or later (each ps is an event; a deadline with the last table). */
async function untilRunning(running: RunningSystem, name: string, generation: number): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  let table = '';
  while (Date.now() < deadline) {
    // Typed on the main console, even while the console itself restarts: a line typed as
    // a generation dies is read again by the next one (the driver keeps input until the
    // console has kept it), so each ps answers.
    table = await running.command('ps');
    const row = rows(table).find((candidate) => candidate.name === name);
    if (row && row.generation >= generation && row.state === 'running') return;
  }
  throw new Error(`${name} was not running as generation ${generation} within ${DEADLINE_MS} ms; last ps:\n${table}`);
}

/** The `usage by owner` lines of `mem`, by owner. */
function usage(mem: string): Map<string, string> {
  const lines = mem.split('\n');
  const start = lines.indexOf('usage by owner:');
  const result = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    const [owner, ...rest] = line.trim().split(/\s{2,}|\s(?=\d+ pages)/);
    result.set(owner!, rest.join(' '));
  }
  return result;
}

async function checkAnswers(running: RunningSystem, after: string): Promise<void> {
  expect(rows(await running.command('ps')).every((row) => row.state === 'running'), `every row running after ${after}`).toBe(true);
  expect(await running.command('random 4'), `random 4 after ${after}`).toMatch(/^[0-9a-f]{8}$/);
  expect(await running.command('blk read virtio-blk 0 1'), `disk read after ${after}`).toMatch(/^00000000 {2}[0-9a-f]{2} /);
  expect((await running.command('dmesg -n 5')).split('\n').length, `dmesg after ${after}`).toBe(5);
}

describe('every server restartable', () => {
  it('kill memory: the next generation reattaches with every page still owned, and pages in use are not handed out again', async () => {
    system = await RunningSystem.boot();
    const before = usage(await system.command('mem'));
    expect(before.get('virtio-blk')).toMatch(/^\d+ pages/);
    await system.command('kill memory');
    await untilRunning(system, 'memory', 2);
    const transcript = await system.command('dmesg -n 40');
    expect(transcript).toMatch(/memory#2: reattached to the state at 0x[0-9a-f]+: \d+ of \d+ pages in use/);
    const after = usage(await system.command('mem'));
    for (const [owner, pages] of before) {
      // The memory server's own bulk pages die with a generation; everything else is kept.
      if (owner !== 'memory') expect(after.get(owner), `${owner} after kill memory`).toBe(pages);
    }
    // Drivers restarted now get their DMA memory from the reattached allocator: if it believed
    // the pages in use were free, their rings would land on live memory (the consoles' and
    // the disk's) and these would fail or the console would stop answering.
    for (const driver of ['virtio-rng', 'virtio-blk']) {
      const generation = rows(await system.command('ps')).find((row) => row.name === driver)!.generation;
      await system.command(`restart ${driver}`);
      await untilRunning(system, driver, generation + 1);
    }
    await checkAnswers(system, 'kill memory and restarting the drivers');
    expect(await system.command('dmesg -n 200')).not.toMatch(/not in flight|overlap|reclaim.*could not/);
    expect((await system.ctl(['ps'])).stdout).toMatch(/memory\s+server\s+2\s+running/);
    expect(await system.shutdown()).toBe(0);
  });

  it('kills every row of ps in turn; after each, ps, random, a disk read and dmesg answer', async () => {
    system = await RunningSystem.boot();
    const table = rows(await system.command('ps'));
    expect(table.length).toBeGreaterThan(5);
    for (const row of table) {
      const current = rows(await system.command('ps')).find((candidate) => candidate.name === row.name)!;
      await system.command(`kill ${row.name}`);
      await untilRunning(system, row.name, current.generation + 1);
      await checkAnswers(system, `kill ${row.name}`);
    }
    expect(await system.shutdown()).toBe(0);
  });
});
