// Whole-system tests of the terminals: input typed ahead survives the console's restart and
// kexec, piped input of any size runs whole and in order, output keeps its order whatever
// its size, and the control socket is a terminal whose end of input does not end the system.

import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem, runBaton, type CommandResult } from '../harness/system.js';

let system: RunningSystem | undefined;
const directories: string[] = [];
afterEach(async () => {
  await system?.stop();
  system = undefined;
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** `npm start` with `input` piped to it, in a run directory of its own. */
function startPiped(input: string): Promise<CommandResult> {
  const runDirectory = mkdtempSync(join(tmpdir(), 'baton-terminals-'));
  directories.push(runDirectory);
  return runBaton(['start', '--run-dir', runDirectory, '--checked'], input);
}

/** Writes `bytes` to the control socket and closes it once they are sent. */
function sendAndClose(system: RunningSystem, bytes: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(system.runDirectory, 'baton.sock'));
    socket.on('error', reject);
    socket.on('connect', () => socket.end(bytes));
    socket.on('close', () => resolve());
  });
}

describe('input typed ahead', () => {
  it('runs what was typed after `restart console` in the new generation, then ends at end of input', async () => {
    const result = await startPiped('restart console\nps\nrandom 4\nshutdown\n');
    expect(result.stderr).not.toContain('test harness');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/console\s+server\s+2\s+running\s+1/);
    expect(result.stdout).toMatch(/baton> [0-9a-f]{8}\r\n/);
    expect(result.stdout).toContain('shutting down');
  });

  it('a line typed as the console is killed is answered once, or said to have died running with it: none is lost unsaid, none runs twice', async () => {
    system = await RunningSystem.boot();
    const first = system.transcript.length;
    // Its answer follows the echo, or the next generation's first prompt when that generation ran it.
    const answer = (round: number) => new RegExp(`(?:\\r\\n|baton> )[0-9a-f]{${2 * round}}\\r\\n`, 'g');
    // Or the dying generation had taken it to run: its next one says so and does not run it again.
    const interrupted = (round: number) => new RegExp(`the console restarted while running "random ${round}" here; it was not run again`, 'g');
    const outcomes = (round: number, text: string) => (text.match(answer(round))?.length ?? 0) + (text.match(interrupted(round))?.length ?? 0);
    // Three rounds: the console's restart policy gives up at the fifth quick failure in a row.
    for (let round = 1; round <= 3; round++) {
      const start = system.transcript.length;
      system.type('kill console\n');
      // Typed once the kill is under way, so it reaches the driver as the generation reading it dies.
      await system.waitFor((all) => all.slice(start).includes('kill console\r\n'), `the echo of kill console (round ${round})`);
      system.type(`random ${round}\n`);
      await system.waitFor((all) => outcomes(round, all.slice(start)) > 0, `the answer of random ${round} typed as the console was killed`, start);
    }
    // The last generation may still be showing its first prompt: ps until it answers.
    await system.commandUntil('ps', (table) => /^console\s+server\s+4\s+running/m.test(table), 'console generation 4 running');
    const transcript = system.transcript.slice(first);
    for (const round of [1, 2, 3]) expect(outcomes(round, transcript), `random ${round} answered once, or said to be lost once`).toBe(1);
  });

  it('runs what was typed after `kexec` in the next kernel', async () => {
    const result = await startPiped('kexec\nrandom 4\nrandom 5\nshutdown\n');
    expect(result.stderr).not.toContain('test harness');
    expect(result.status).toBe(0);
    const afterKexec = result.stdout.slice(result.stdout.indexOf('kexec: '));
    expect(afterKexec).toMatch(/baton> [0-9a-f]{8}\r\n/);
    expect(afterKexec).toMatch(/baton> [0-9a-f]{10}\r\n/);
    expect(afterKexec).toContain('shutting down');
  });

  it('runs every line of 1 MiB of piped input, in order, before end of input', async () => {
    // 1000 lines of 1 KiB: each reads one sector, whose dump starts with its offset (echo
    // of lines typed ahead interleaves with the answers, but holds no 8-digit offsets).
    const lines = Array.from({ length: 1000 }, (_, sector) => `blk read virtio-blk ${sector} 1${' '.repeat(1000)}`);
    const result = await startPiped(lines.join('\n') + '\n');
    expect(result.stderr).not.toContain('test harness');
    expect(result.status).toBe(0);
    const offsets = [...result.stdout.matchAll(/([0-9a-f]{8}) {2}[0-9a-f]{2} /g)].map((match) => Number.parseInt(match[1]!, 16));
    expect(offsets).toEqual(Array.from({ length: 1000 * 32 }, (_, row) => row * 16));
    expect(result.stdout).toContain('shutting down');
  });
});

describe('output', () => {
  it('keeps its order whatever its size, on the console and the control socket', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('random 16384')).toMatch(/^[0-9a-f]{32768}$/);
    const remote = await system.ctl(['random', '16384']);
    expect(remote.stdout).toMatch(/^[0-9a-f]{32768}\n$/);
    const dump = await system.command('blk read virtio-blk 0 64');
    const offsets = dump.split('\n').map((line) => Number.parseInt(line.slice(0, 8), 16));
    expect(offsets).toEqual(Array.from({ length: 64 * 512 / 16 }, (_, index) => index * 16));
  });
});

describe('the control socket', () => {
  it('Ctrl-D there does not shut the system down', async () => {
    system = await RunningSystem.boot();
    await sendAndClose(system, '\x04');
    const after = await system.ctl(['random', '2']);
    expect(after.stdout).toMatch(/^[0-9a-f]{4}\n$/);
    expect(await system.command('random 3')).toMatch(/^[0-9a-f]{6}$/);
  });

  it('`restart console` and `kexec` over the control CLI answer, and the CLI is ready for the next command', async () => {
    system = await RunningSystem.boot();
    const restarted = await system.ctl(['restart', 'console']);
    expect(restarted.stderr).toBe('');
    expect(restarted.status).toBe(0);
    expect(await system.command('ps')).toMatch(/console\s+server\s+2\s+running/);
    const kexec = await system.ctl(['kexec']);
    expect(kexec.stderr).toBe('');
    expect(kexec.stdout).toContain('kexec: loading');
    expect((await system.ctl(['random', '2'])).stdout).toMatch(/^[0-9a-f]{4}\n$/);
  });
});

describe('control socket sessions', () => {
  it('a client that leaves half a line open blocks nobody, and the half never runs in another session', async () => {
    system = await RunningSystem.boot();
    const half = createConnection(join(system.runDirectory, 'baton.sock'));
    const closed = new Promise<void>((resolve) => half.on('close', () => resolve()));
    await new Promise<void>((resolve) => half.on('connect', () => resolve()));
    await new Promise<void>((resolve) => half.write('shutdown', () => resolve()));
    expect((await system.ctl(['random', '2'])).stdout).toMatch(/^[0-9a-f]{4}\n$/);
    half.destroy();
    await closed;
    expect((await system.ctl(['random', '3'])).stdout).toMatch(/^[0-9a-f]{6}\n$/);
    expect(await system.command('random 1')).toMatch(/^[0-9a-f]{2}$/);
  });

  it('a client that leaves discards the rest of its answer: the next session gets only its own', async () => {
    system = await RunningSystem.boot();
    await sendAndClose(system, 'random 16384\n');
    expect((await system.ctl(['random', '2'])).stdout).toMatch(/^[0-9a-f]{4}\n$/);
  });
});

describe('a terminal whose driver restarts or stops', () => {
  it('reads the main console again after its driver restarts', async () => {
    system = await RunningSystem.boot();
    const restarted = await system.ctl(['restart', 'virtio-console.0']);
    expect(restarted.stdout).toContain('virtio-console.0: generation 2 running');
    expect(await system.command('random 3')).toMatch(/^[0-9a-f]{6}$/);
  });

  it('the console starts and serves the main console while the control socket\'s driver is stopped, and serves the socket again once it is started', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('stop virtio-console.1')).toContain('stopped');
    // The prompt after `restart console` is the next generation's: it runs and serves.
    await system.command('restart console');
    expect(await system.command('ps')).toMatch(/console\s+server\s+2\s+running/);
    expect(await system.command('start virtio-console.1')).toContain('running');
    expect((await system.ctl(['random', '2'])).stdout).toMatch(/^[0-9a-f]{4}\n$/);
  });
});

describe('what would cut every terminal off', () => {
  it('is refused with the reason: stop console, unload virtio-console, stopping the last terminal; one terminal may stop while the other stays', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('stop console')).toMatch(/^error: stop console: refused: the console serves every terminal .*no way into the system/);
    expect(await system.command('unload virtio-console')).toMatch(/^error: unload virtio-console: refused: it would stop virtio-console.0 and virtio-console.1, the last terminals still running/);
    expect(await system.command('stop virtio-console.1')).toContain('stopped');
    expect(await system.command('stop virtio-console.0')).toMatch(/^error: stop virtio-console.0: refused: .*\(virtio-console.1 is stopped\).*start virtio-console.1 first/);
    expect(await system.command('unload virtio-console.0')).toMatch(/^error: unload virtio-console.0: refused/);
    expect(await system.command('ps')).toMatch(/console\s+server\s+1\s+running/);
    expect(await system.command('start virtio-console.1')).toContain('running');
    expect((await system.ctl(['stop', 'virtio-console.0'])).stdout).toContain('stopped');
    const refused = await system.ctl(['stop', 'virtio-console.1']);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('refused');
    expect((await system.ctl(['start', 'virtio-console.0'])).stdout).toContain('running');
    expect(await system.command('random 2')).toMatch(/^[0-9a-f]{4}$/);
  });
});
