// Whole-system tests: boot baton as a user does and drive its console and control CLI.

import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { whenDtc } from '../../hal/fdt/dtc.js';
import { readBoardTree } from '../../hal/devicetree.js';
import { RunningSystem, runBaton } from '../harness/system.js';

let system: RunningSystem | undefined;
const directories: string[] = [];
afterEach(async () => {
  await system?.stop();
  system = undefined;
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh host directory, removed after the test. */
function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

/** The `ps` row of `name` once it matches `pattern` (each ps is an event waited on, not a sleep). */
async function psUntil(running: RunningSystem, name: string, pattern: RegExp): Promise<string> {
  const rowOf = (table: string) => table.split('\n').find((line) => line.startsWith(name + ' '));
  const table = await running.commandUntil('ps', (output) => pattern.test(rowOf(output) ?? ''), `${name} matching ${pattern}`);
  return rowOf(table)!;
}

/** Repeats `line` until its output matches `pattern` (each run an event); after 45 s, fails with the last output. */
async function commandUntil(running: RunningSystem, line: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 45_000;
  let output = '';
  while (Date.now() < deadline) {
    output = await running.command(line);
    if (pattern.test(output)) return output;
  }
  throw new Error(`"${line}" never printed ${pattern}; last output:\n${output}`);
}

/** The BULK column of `name`'s ps row (NAME KIND GEN STATE RESTARTS UPTIME MSGS BULK HEAP [DEVICE]) once it reaches `atLeast`. */
async function bulkUntil(running: RunningSystem, name: string, atLeast: number): Promise<number> {
  const bulkOf = (table: string) => Number(table.split('\n').find((line) => line.startsWith(name + ' '))?.split(/\s+/)[7] ?? Number.NaN);
  return bulkOf(await running.commandUntil('ps', (table) => bulkOf(table) >= atLeast, `${name} with a BULK count of at least ${atLeast}`));
}

describe('baton start', () => {
  it('runs piped console commands in order and exits 0 after shutdown', async () => {
    const runDirectory = mkdtempSync(join(tmpdir(), 'baton-pipe-'));
    try {
      const result = await runBaton(['start', '--run-dir', runDirectory], 'ps\nrestart log\nps\nshutdown\n');
      expect(result.status).toBe(0);
      const out = result.stdout;
      const first = out.indexOf('NAME');
      const restarted = out.indexOf('log: generation 2 running');
      const second = out.indexOf('NAME', restarted);
      expect(first).toBeGreaterThan(0);
      expect(restarted).toBeGreaterThan(first);
      expect(second).toBeGreaterThan(restarted);
      expect(out.slice(second)).toMatch(/log\s+server\s+2\s+running\s+1/);
      expect(out).toContain('shutting down');
      expect(readFileSync(join(runDirectory, 'baton.log'), 'utf8')).toContain('"server":"log"');
    } finally {
      rmSync(runDirectory, { recursive: true, force: true });
    }
  });

  it('ends at end of input like a shutdown, with exit status 0', async () => {
    const runDirectory = mkdtempSync(join(tmpdir(), 'baton-eof-'));
    try {
      const result = await runBaton(['start', '--run-dir', runDirectory], 'help\n');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('restart NAME');
    } finally {
      rmSync(runDirectory, { recursive: true, force: true });
    }
  });

  it('refuses unknown options with a usage message', async () => {
    const result = await runBaton(['start', '--frobnicate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: npm start');
  });

  it('--dumpdtb writes a device tree blob that dtc and our reader decode', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'baton-dtb-'));
    try {
      const file = join(directory, 'board.dtb');
      const result = await runBaton(['start', '--dumpdtb', file, '--ram', '2G']);
      expect(result.status).toBe(0);
      const board = readBoardTree(decodeFdt(new Uint8Array(readFileSync(file))));
      expect(board.ram).toEqual([{ base: 0x8000_0000, size: 2 * 1024 ** 3 }]);
      expect(board.devices.filter((device) => device.compatible.includes('virtio,mmio')).length).toBeGreaterThanOrEqual(3);
      whenDtc('dtc decodes the --dumpdtb blob', () => {
        const dtc = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
        expect(dtc.status).toBe(0);
        expect(dtc.stderr).toBe('');
        expect(dtc.stdout).toContain('virtio,mmio');
      });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('running system', () => {
  it('restarts a killed server as a new generation and keeps running', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('kill log')).toContain('log: killed (generation 1)');
    const row = await psUntil(system, 'log', /\s2\s+running\s+1\s/);
    expect(row).toMatch(/^log\s+server\s+2\s+running\s+1/);
  });

  it('stops and starts a server on request', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('stop log')).toBe('log: stopped');
    expect(await system.command('ps')).toMatch(/log\s+server\s+1\s+stopped/);
    expect(await system.command('start log')).toBe('log: generation 2 running');
    expect(await system.command('frobnicate')).toBe('error: unknown command "frobnicate" (try help)');
    expect(await system.command('restart nosuch')).toBe('error: no server or driver named "nosuch" (see ps)');
  });

  it('shows the memory map, the device tree and the log', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('mem')).toMatch(/kernel image/);
    expect(await system.command('dt')).toMatch(/compatible = "virtio,mmio"/);
    const dmesg = await system.command('dmesg -n 5');
    expect(dmesg.split('\n').length).toBeLessThanOrEqual(5);
    expect(await system.command('dmesg -n x')).toMatch(/^error: dmesg: N must be a whole number.*\nusage: dmesg \[-n N\]$/);
    // With the default 64 KiB rings all of that fits the rings: nothing went through lent pages.
    expect(await bulkUntil(system, 'console', 0)).toBe(0);
  });

  it('moves messages larger than a channel ring through pages lent by the memory service', async () => {
    // 1 KiB rings: the device tree text, the memory report, the log and the console's own
    // output all exceed them, so every one of these travels as bulk (ipc/bulk.ts).
    system = await RunningSystem.boot(['--bootargs', 'ipc.ring_bytes=1024']);
    const tree = await system.command('dt');
    expect(tree.length).toBeGreaterThan(2000);
    expect(tree).toContain('compatible = "virtio,mmio"');
    expect(await system.command('mem')).toContain('buddyinfo');
    expect(await system.command('dmesg')).toContain('boot complete');
    const ctl = await system.ctl(['dt']);
    expect(ctl.stdout).toContain('timebase-frequency');
    expect(await system.command('ps')).toMatch(/memory\s+server\s+1\s+running/);
    // ps's BULK column counts what went through lent pages (as of each program's last heartbeat):
    // the console received the dt and mem replies that way, and the memory service lent its own.
    expect(await bulkUntil(system, 'console', 2)).toBeGreaterThanOrEqual(2);
    expect(await bulkUntil(system, 'memory', 1)).toBeGreaterThanOrEqual(1);
  });

  it('a program over its memoryLimitPages gets LIMIT_EXCEEDED and fails alone while the system runs on', async () => {
    // sysroot/boot/memory-limit-test.json: kho-test, which preserves 2 MiB, may hold 16 pages.
    system = await RunningSystem.boot(['--manifest', 'memory-limit-test']);
    expect(await psUntil(system, 'kho-test', /\sfailed\s/)).toMatch(/^kho-test\s+server\s+1\s+failed/);
    const dmesg = await system.commandUntil('dmesg', (output) => /kho-test: init failed: .*limit of 16 pages/.test(output), 'kho-test\'s failure');
    expect(dmesg).toMatch(/kho-test: init failed: .*would exceed its limit of 16 pages \(holds \d+, asks \d+\)/);
    expect(await system.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    const ps = await system.command('ps');
    for (const name of ['memory', 'log', 'kho', 'console', 'virtio-rng']) expect(ps).toMatch(new RegExp(`^${name}\\s+\\S+\\s+1\\s+running`, 'm'));
    expect(await system.shutdown()).toBe(0);
  });

  it('answers the control CLI from another process over a 0600 socket', async () => {
    system = await RunningSystem.boot();
    expect(statSync(join(system.runDirectory, 'baton.sock')).mode & 0o777).toBe(0o600);
    const ps = await system.ctl(['ps']);
    expect(ps.status).toBe(0);
    expect(ps.stdout).toMatch(/^NAME\s+KIND\s+GEN/);
    const restart = await system.ctl(['restart', 'log']);
    expect(restart.stdout.trim()).toBe('log: generation 2 running');
    const bad = await system.ctl(['frobnicate']);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('error: unknown command');
    // An action the system refuses is an error for the CLI too, and changes nothing.
    const stopMemory = await system.ctl(['stop', 'memory']);
    expect(stopMemory.status).toBe(1);
    expect(stopMemory.stdout).toMatch(/^error: memory: not stopped: every server and driver takes its memory from it/);
    expect((await system.ctl(['ps'])).stdout).toMatch(/^memory\s+server\s+1\s+running/m);
    const shutdown = await system.ctl(['shutdown']);
    expect(shutdown.status).toBe(0);
    expect(await system.exited).toBe(0);
  });

  it('reboot resets the board and its devices and reaches a prompt again, the disk and both consoles working', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('blk write virtio-blk 0 across-the-reboot')).not.toMatch(/error/);
    expect(await system.command('reboot')).toContain('rebooting');
    const table = await system.command('ps');
    for (const name of ['memory', 'log', 'console', 'virtio-console.0', 'virtio-rng', 'virtio-blk']) expect(table).toMatch(new RegExp(`^${name.replace('.', '\\.')}\\s+\\w+\\s+1\\s+running\\s+0\\s`, 'm'));
    expect(await system.command('blk read virtio-blk 0')).toContain('|across-the-reboo');
    expect(await system.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    const ctl = await system.ctl(['ps']);
    expect(ctl.status).toBe(0);
    expect(ctl.stdout).toMatch(/virtio-blk\s+driver\s+1\s+running/);
    expect(await system.shutdown()).toBe(0);
  });

  it('npx baton ps runs ps on the system in the run directory', async () => {
    system = await RunningSystem.boot();
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const npx = spawnSync('npx', ['--no-install', 'baton', '--run-dir', system.runDirectory, 'ps'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(npx.stderr).toBe('');
    expect(npx.status).toBe(0);
    expect(npx.stdout).toMatch(/^NAME\s+KIND\s+GEN/);
    expect(npx.stdout).toMatch(/console\s+server\s+1\s+running/);
  });

  it('the control CLI says clearly when no system is running', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'baton-none-'));
    try {
      const result = await runBaton(['ctl', '--run-dir', directory, 'ps']);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('no system is running');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('the run directory', () => {
  it('is made 0700 with its log and default disk 0600', async () => {
    const runDirectory = join(temporaryDirectory('baton-modes-'), 'run');
    system = await RunningSystem.boot([], runDirectory);
    expect(statSync(runDirectory).mode & 0o777).toBe(0o700);
    expect(statSync(join(runDirectory, 'baton.log')).mode & 0o777).toBe(0o600);
    expect(statSync(join(runDirectory, 'disk.img')).mode & 0o777).toBe(0o600);
  });

  it('keeps the default disk across boots', async () => {
    const runDirectory = temporaryDirectory('baton-disk-');
    system = await RunningSystem.boot([], runDirectory);
    expect(await system.command('blk write virtio-blk 0 kept-across-boots')).not.toMatch(/error/);
    expect(await system.shutdown()).toBe(0);
    system = await RunningSystem.boot([], runDirectory);
    expect(await system.command('blk read virtio-blk 0')).toContain('|kept-across-boo');
  });

  it('refuses a second start while a system runs there, touching neither its log nor its disk', async () => {
    const runDirectory = temporaryDirectory('baton-twice-');
    system = await RunningSystem.boot([], runDirectory);
    expect(await system.command('blk write virtio-blk 0 still-here')).not.toMatch(/error/);
    expect(await system.command('blk flush virtio-blk')).not.toMatch(/error/);
    const logBefore = readFileSync(join(runDirectory, 'baton.log'));
    expect(logBefore.length).toBeGreaterThan(0);

    const second = await runBaton(['start', '--run-dir', runDirectory]);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain('a baton system is already running');

    const logAfter = readFileSync(join(runDirectory, 'baton.log'));
    expect(logAfter.subarray(0, logBefore.length).equals(logBefore)).toBe(true);
    expect(logAfter.includes(0)).toBe(false);
    expect(readFileSync(join(runDirectory, 'disk.img')).subarray(0, 10).toString()).toBe('still-here');
    expect(await system.command('blk read virtio-blk 0')).toContain('|still-here');
  });
});

describe('boot arguments', () => {
  it('warns at boot about each wrong boot argument, naming it, and NAME.key=value sets a server\'s config', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs',
      'kho_scratch=999% ipc.ring_bytes=1 ipc.ring_bytes=-5 nosuch.key=1 kho-test.maximumOrder=0 kho-test.maximumBytes=1048576']);
    const boot = system.transcript;
    // The scratch is 999% of what the kernel reserves, the memory server's state region included.
    expect(boot).toContain('kho_scratch=999%: 2 scratch areas of 96 MiB in all, 38% of RAM');
    for (const value of ['1', '-5']) expect(boot).toContain(`bootargs: ipc.ring_bytes=${value}: expected a power of two from 1024 to 1048576 bytes; rings keep their default size`);
    expect(boot).toContain('bootargs: nosuch.key=1: no server or driver named nosuch in the boot manifest; ignored');
    expect(boot).not.toContain('kho-test.maximumOrder=0:');
    // kho-test preserved 1 MiB in folios of order 0 only (by default it picks orders 0..10 at random).
    const kho = await commandUntil(system, 'kho', /kho_test at/);
    const orderZero = /preserved blocks: order 0: (\d+)/.exec(kho);
    expect(orderZero).not.toBeNull();
    expect(Number(orderZero![1])).toBeGreaterThanOrEqual(256);
  });

  it('warns when kho_scratch keeps more than a quarter of RAM from the allocator', async () => {
    system = await RunningSystem.boot(['--ram', '64M', '--bootargs', 'kho_scratch=8M,8M,8M']);
    expect(system.transcript).toMatch(/KHO: warning: kho_scratch=8M,8M,8M: 3 scratch areas of 24 MiB in all, 38% of RAM/);
  });
});

describe('bad command-line input', () => {
  it('refuses RAM the 32-bit board cannot address and a --ram that is neither a size nor a file', async () => {
    for (const size of ['3G', '4G']) {
      const result = await runBaton(['start', '--ram', size, '--dumpdtb', join(temporaryDirectory('baton-ram-'), 'board.dtb')]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`--ram ${size}: must be at most 2G: the board is 32-bit`);
    }
    const banana = await runBaton(['start', '--ram', 'banana']);
    expect(banana.status).toBe(2);
    expect(banana.stderr).toContain('--ram banana: neither a size (e.g. 256M or 2G) nor a saved RAM image file');
  });

  it('refuses a --ram file that is not a saved RAM image', async () => {
    const directory = temporaryDirectory('baton-ramfile-');
    for (const [bytes, reason] of [[1000, 'a whole number of 4 KiB pages'], [1024 * 1024, 'at least 32M']] as const) {
      const file = join(directory, `ram-${bytes}.img`);
      writeFileSync(file, new Uint8Array(bytes));
      const result = await runBaton(['start', '--run-dir', join(directory, 'run'), '--ram', file]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`--ram ${file}: a ${bytes}-byte file is not a saved RAM image`);
      expect(result.stderr).toContain(reason);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('refuses a disk that is not whole sectors, a read-only file attached read-write, and one image twice', async () => {
    const directory = temporaryDirectory('baton-disks-');
    const run = join(directory, 'run');
    const partial = join(directory, 'partial.img');
    writeFileSync(partial, new Uint8Array(1000));
    const readOnly = join(directory, 'read-only.img');
    writeFileSync(readOnly, new Uint8Array(4096));
    chmodSync(readOnly, 0o444);
    const sameImage = join(directory, 'another-name.img');
    linkSync(readOnly, sameImage);
    const dtb = join(directory, 'board.dtb');
    const cases: Array<[string[], string]> = [
      [['--disk', partial], `--disk ${partial}: 1000 bytes is not a whole number of 512-byte sectors`],
      [['--disk', readOnly], `--disk ${readOnly}: the file is read-only (mode 0444); attach it with ${readOnly},ro`],
      [['--disk', readOnly + ',ro', '--disk', sameImage + ',ro'], `--disk ${sameImage}: the same image as --disk ${readOnly}`],
    ];
    for (const [args, message] of cases) {
      const result = await runBaton(['start', '--run-dir', run, ...args]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect((await runBaton(['start', '--run-dir', run, '--disk', readOnly + ',ro', '--dumpdtb', dtb])).status).toBe(0);
  });
});
