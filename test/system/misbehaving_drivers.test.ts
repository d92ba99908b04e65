// Whole-system tests of drivers that misbehave, each a test driver loaded with `load` into
// a running system: an init that never resolves, a module stuck in a loop at import, a
// driver that hangs after it was ready (found by its heartbeat), and `start` of a driver
// the supervisor marked failed. The system must handle each by itself and stay answerable.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDriver } from '../../tools/new_driver.js';
import { RunningSystem } from '../harness/system.js';

let system: RunningSystem | undefined;
const folders: string[] = [];
afterEach(async () => {
  await system?.stop();
  system = undefined;
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/**
 * A scaffolded driver (the entropy template) named `name`, with `change` applied to its
 * main.ts and `manifest` merged into its manifest.json.
 */
function testDriver(name: string, change: (main: string) => string, manifest: Record<string, unknown>): string {
  const parent = mkdtempSync(join(tmpdir(), 'baton-misbehaving-'));
  folders.push(parent);
  const folder = join(parent, name);
  createDriver(name, folder);
  const mainPath = join(folder, 'main.ts');
  writeFileSync(mainPath, change(readFileSync(mainPath, 'utf8')));
  const manifestPath = join(folder, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(readFileSync(manifestPath, 'utf8')), ...manifest }, null, 2));
  return folder;
}

/** Inserts `code` as the first statement of the template's init. */
function atInit(code: string): (main: string) => string {
  return (main) => {
    const marker = 'async init(driver) {\n';
    if (!main.includes(marker)) throw new Error('the template\'s init has changed; update this test');
    return main.replace(marker, `${marker}    ${code}\n`);
  };
}

async function bootWithoutRng(): Promise<RunningSystem> {
  system = await RunningSystem.boot();
  await system.command('unload virtio-rng');
  return system;
}

describe('drivers that misbehave', () => {
  it('an init that never resolves is a quick failure: restarted with backoff, then marked failed', async () => {
    // Each generation runs 500 ms before it is given up on: longer than minimumRunMs, so only
    // "never became ready" makes these failures quick.
    const folder = testDriver('stalls', atInit('await new Promise(() => undefined);'), {
      startTimeoutMs: 500, restart: { policy: 'always', maximumQuickFailures: 3, minimumRunMs: 100, backoffInitialMs: 50 },
    });
    const running = await bootWithoutRng();
    expect(await running.command(`load ${folder}`)).toMatch(/^error: loaded stalls 0\.1\.0 [^]*→ stalls: /);
    await running.waitFor((output) => /stalls: not ready after 500 ms: treated as hung; marked failed \(3 failures in a row/.test(output),
      'stalls to be marked failed after its third start timeout');
    expect(await running.command('ps')).toMatch(/^stalls\s+driver\s+3\s+failed\s+2\s/m);
    const log = await running.command('dmesg');
    expect(log.match(/stalls: generation \d not ready after 500 ms: treated as hung(?!;)/g)).toEqual([1, 2, 3].map((generation) => `stalls: generation ${generation} not ready after 500 ms: treated as hung`));
    expect(log).toMatch(/stalls: generation 2 not ready after 500 ms: treated as hung; restarting in 50 ms/);
  }, 120_000);

  it('a call to a driver that never becomes ready fails with a timeout; the console and the control socket stay answerable', async () => {
    const folder = testDriver('stalls', atInit('await new Promise(() => undefined);'), {
      startTimeoutMs: 2000, restart: { policy: 'always', maximumQuickFailures: 1000, minimumRunMs: 0, backoffInitialMs: 10, backoffCapMs: 10 },
    });
    const running = await bootWithoutRng();
    expect(await running.command(`load ${folder}`)).toMatch(/^error: [^]*stalls: not ready after 2000 ms; the supervisor is handling it/);
    const remote = await running.ctl(['random', '4']);
    expect(remote.status).toBe(1);
    expect(remote.stdout.trim()).toMatch(/^error: stalls is not ready \((starting|restarting), generation \d+\) after 2000 ms; see ps$/);
    expect(await running.command('random 4')).toMatch(/^error: stalls is not ready/);
    expect((await running.ctl(['ps'])).stdout).toMatch(/^stalls\s+driver\s+\d+\s+(starting|restarting)/m);
    expect(await running.command('unload stalls')).toMatch(/^stalls: stopped/);
  }, 120_000);

  it('a driver stuck in a loop at import is terminated, restarted with backoff and marked failed', async () => {
    const folder = testDriver('spins', (main) => main.replace('let device:', 'while (Date.now() > 0) { /* stuck at import */ }\nlet device:'), {
      startTimeoutMs: 300, restart: { policy: 'always', maximumQuickFailures: 2, minimumRunMs: 100, backoffInitialMs: 10 },
    });
    const running = await bootWithoutRng();
    expect(await running.command(`load ${folder}`)).toMatch(/^error: [^]*→ spins: /);
    await running.waitFor((output) => /spins: not ready after 300 ms: treated as hung; marked failed \(2 failures in a row/.test(output),
      'spins to be marked failed after its second start timeout');
    expect(await running.command('ps')).toMatch(/^spins\s+driver\s+2\s+failed\s+1\s/m);
    expect(await running.command('blk write virtio-blk 0 still here')).toMatch(/wrote 10 bytes/);
  }, 120_000);

  it('a hang after ready is found by the heartbeat: the driver restarts as its next generation and serves again', async () => {
    const folder = testDriver('hangs-once', atInit('if (driver.generation === 1) setTimeout(() => { for (;;) { /* hung */ } }, 200);'), { heartbeatMs: 100 });
    const running = await bootWithoutRng();
    expect(await running.command(`load ${folder}`)).toContain('→ hangs-once: generation 1 running');
    await running.waitFor((output) => /hangs-once: generation 1 hung: no heartbeat for \d+ ms; restarting in 0 ms/.test(output),
      'the heartbeat to find hangs-once hung');
    // The lookup waits for generation 2 to be ready, then it serves.
    expect(await running.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    expect(await running.command('ps')).toMatch(/^hangs-once\s+driver\s+2\s+running\s+1\s/m);
  }, 120_000);

  it('start of a failed driver starts its next generation', async () => {
    const folder = testDriver('flaky', atInit("if (driver.generation <= 2) throw new Error('not yet');"), {
      restart: { policy: 'always', maximumQuickFailures: 2, backoffInitialMs: 10 },
    });
    const running = await bootWithoutRng();
    expect(await running.command(`load ${folder}`)).toMatch(/^error: [^]*→ flaky: failed \(init failed: Error: not yet/);
    expect(await running.command('ps')).toMatch(/^flaky\s+driver\s+2\s+failed\s+1\s/m);
    expect(await running.command('random 4')).toMatch(/^error: flaky is failed/);
    expect(await running.command('start flaky')).toBe('flaky: generation 3 running');
    expect(await running.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    expect(await running.command('ps')).toMatch(/^flaky\s+driver\s+3\s+running\s/m);
  }, 120_000);

  it('a driver whose heap outgrows its heapLimitMiB is ended as out of memory and restarted; ps shows every thread\'s heap', async () => {
    // Generation 1 keeps 40 MiB more every few milliseconds once it is ready; generation 2 behaves.
    const hoard = 'if (driver.generation === 1) { const hoard: number[][] = []; setTimeout(() => setInterval(() => { for (let i = 0; i < 50; i++) hoard.push(new Array(100_000).fill(i)); }, 5), 200); }';
    // A long heartbeat: near its limit the thread spends its time collecting garbage, which must not pass for a hang.
    const folder = testDriver('hoards', atInit(hoard), { heapLimitMiB: 64, heartbeatMs: 20_000 });
    const running = await bootWithoutRng();
    expect(await running.command(`load ${folder}`)).toContain('→ hoards: generation 1 running');
    await running.waitFor((output) => /hoards: generation 1 out of memory: its JavaScript heap reached its limit of 64 MiB \(heapLimitMiB\); restarting in 0 ms/.test(output),
      'hoards to be ended as out of memory');
    expect(await running.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    const ps = await running.commandUntil('ps', (table) => /^hoards\s+driver\s+2\s+running\s+1\s+\S+\s+\d+\s+\d+\s+\d+\.\dMiB/m.test(table),
      'hoards generation 2 running, with its heap measured');
    expect(ps).toMatch(/^NAME\s+KIND\s+GEN\s+STATE\s+RESTARTS\s+UPTIME\s+MSGS\s+BULK\s+HEAP\s+DEVICE$/m);
    const heapOf = (name: string) => Number(/^(\S+)\s+(?:\S+\s+){7}(\d+\.\d)MiB/m.exec(ps.split('\n').find((line) => line.startsWith(`${name} `)) ?? '')?.[2]);
    for (const name of ['memory', 'log', 'console', 'hoards']) expect(heapOf(name)).toBeGreaterThan(0);
    expect(heapOf('hoards')).toBeLessThan(64);
  }, 120_000);

  it('a driver that zeroes all RAM but the memory server\'s state: each driver that meets its overwritten queues restarts, the log names the check, and the consoles answer again', async () => {
    const running = await bootWithoutRng();
    // Everything but the memory server's state region, where who owns which page is kept.
    const [, from, to] = /(0x[0-9a-f]+)-(0x[0-9a-f]+)\s[^\n]*memory server state/.exec(await running.command('mem')) ?? [];
    expect(from, 'the memory server state region in mem').toBeDefined();
    const zero = `if (driver.generation === 1) setTimeout(() => { driver.ram.fill(driver.ram.base, ${from} - driver.ram.base, 0); `
      + `driver.ram.fill(${to} + 1, driver.ram.end - ${to} - 1, 0); setTimeout(() => { throw new Error('zeroed RAM'); }, 0); }, 300);`;
    // A long heartbeat: zeroing 250 MiB on a loaded machine takes seconds, which must not pass for a hang.
    const folder = testDriver('zeroes', atInit(zero), { heartbeatMs: 20_000 });
    expect(await running.command(`load ${folder}`)).toContain('→ zeroes: generation 1 running');
    // Having zeroed RAM, the driver ends its generation; each ps is typed on the main console,
    // and the first after the zeroing meets its driver's overwritten queues: the driver
    // restarts and the device keeps the line for the next generation.
    await running.commandUntil('ps', (table) => /^zeroes\s+driver\s+[2-9]\s+running/m.test(table), 'the zeroes driver to have zeroed RAM and restarted');
    expect(await running.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    const ps = await running.commandUntil('ps', (table) => /^virtio-console\.0\s+driver\s+[2-9]\s+running/m.test(table), 'virtio-console.0 restarted and running');
    expect(ps).toMatch(/^console\s+server\s+1\s+running/m);
    const dmesg = await running.command('dmesg');
    expect(dmesg).toMatch(/virtio-console\.0: queue fault \((available-ring-overwritten|descriptor-overwritten|used-index-jumped|descriptor-not-in-flight|length-out-of-range|device-needs-reset)\): .*; ending generation 1 so the next resets the device/);
    expect(dmesg).toMatch(/virtio-console\.0: generation 1 crashed: queue fault \(/);
    expect(await running.command('blk write virtio-blk 0 after the zeroing')).toMatch(/wrote \d+ bytes/);
    // The control socket answers too: its console driver meets its overwritten queues (or
    // finds them stalled) and restarts by itself.
    // Idle, its queues give no interrupt to check them by: its audit finds them overwritten.
    await running.commandUntil('dmesg', (log) => /virtio-console\.1: queue fault \((available-ring-overwritten|descriptor-overwritten|used-index-jumped|descriptor-not-in-flight|length-out-of-range|device-needs-reset)\): .*; ending generation 1 so the next resets the device/.test(log),
      'virtio-console.1 to find its queues overwritten and end its generation');
    const remote = await running.ctl(['ps']);
    expect(remote.stdout, `ctl ps after the zeroing (status ${remote.status}, stderr ${remote.stderr})`).toMatch(/^virtio-console\.1\s+driver\s+[2-9]\s+running/m);
  }, 120_000);

  it('a driver that zeroes all of RAM: the kernel finds the memory server\'s state gone, resets the board, and the next boot comes up and says why', async () => {
    const running = await bootWithoutRng();
    const folder = testDriver('zeroes', atInit('if (driver.generation === 1) setTimeout(() => driver.ram.fill(driver.ram.base, driver.ram.size, 0), 300);'), { heartbeatMs: 20_000 });
    const start = running.transcript.length;
    expect(await running.command(`load ${folder}`)).toContain('→ zeroes: generation 1 running');
    const reset = /RAM overwritten: the memory server's state at 0x[0-9a-f]+ lost its header \(magic 0x00000000, expected 0x4d454d42 "BMEM"\): who owns which page is lost, so no program can be given memory safely; resetting the board/;
    await running.waitFor((output) => reset.test(output.slice(start)), 'the kernel to find the memory server\'s state overwritten and reset the board');
    // The next boot: its log on the firmware console, then its first prompt.
    await running.waitFor((output) => /\] started \d+ of \d+ servers and drivers[^]*baton> $/.test(output.slice(output.search(reset))), 'the next boot\'s first prompt');
    const ps = await running.commandUntil('ps', (table) => ['virtio-console.0', 'virtio-console.1', 'console'].every((name) => new RegExp(`^${name.replace('.', '\\.')}\\s+\\S+\\s+1\\s+running`, 'm').test(table)), 'the consoles running after the reset');
    expect(ps).not.toMatch(/^zeroes\s/m);
    expect(await running.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    expect(await running.command('dmesg')).toMatch(/warn\s+kernel#0: the board was reset by the previous boot's kernel: RAM overwritten: the memory server's state at 0x[0-9a-f]+ lost its header/);
    expect((await running.ctl(['ps'])).stdout).toMatch(/^console\s+server\s+1\s+running/m);
  }, 120_000);
});
