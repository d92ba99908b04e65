// Whole-system KHO tests, after Linux's tools/testing/selftests/kho: preserve, kexec,
// restore and verify — and the log surviving restarts and kexec.

import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { whenDtc } from '../../hal/fdt/dtc.js';
import { RunningSystem } from '../harness/system.js';

const PAGE = 4096;
let systems: RunningSystem[] = [];
const directories: string[] = [];
afterEach(async () => {
  for (const system of systems) await system.stop();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  systems = [];
});

async function boot(args: string[]): Promise<RunningSystem> {
  const system = await RunningSystem.boot(args);
  systems.push(system);
  return system;
}

/** dmesg once it matches `pattern` (each dmesg is an event waited on, not a sleep; logging is asynchronous). */
function dmesgUntil(system: RunningSystem, pattern: RegExp): Promise<string> {
  return system.commandUntil('dmesg', (output) => pattern.test(output), `a line matching ${pattern}`);
}

/** dmesg once kho-test has reported whether its restore succeeded. */
function dmesgWithVerdict(system: RunningSystem): Promise<string> {
  return dmesgUntil(system, /KHO restore (succeeded|failed)/);
}

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'baton-kho-'));
  directories.push(directory);
  return directory;
}

describe('kexec with KHO', () => {
  it('restores every preserved folio after kexec (test_kho) and dmesg keeps the previous boot', async () => {
    const system = await boot(['--manifest', 'kho-test']);
    await dmesgUntil(system, /KHO test: folios preserved/);
    const kexec = await system.command('kexec');
    expect(kexec).toContain('kexec: loading');
    const dmesg = await dmesgWithVerdict(system);
    expect(dmesg).toContain('KHO test: folios preserved');
    expect(dmesg).toContain('KHO restore succeeded');
    expect(dmesg.indexOf('KHO test: folios preserved')).toBeLessThan(dmesg.indexOf('KHO restore succeeded'));
    const kho = await system.command('kho');
    expect(kho).toMatch(/incoming subtrees: .*kho_test/);
    expect(kho).toContain('compatible = "kho-v2"');
  });

  it('a server that crashes keeps the folios it preserved: they pass to KHO and survive the kexec', async () => {
    const system = await boot(['--manifest', 'kho-test']);
    await dmesgUntil(system, /KHO test: folios preserved/);
    expect(await system.command('kill kho-test')).toContain('kho-test: killed');
    await dmesgUntil(system, /kho-test: \d+ blocks it preserved through KHO handed to kho before reclaim/);
    await system.command('kexec');
    expect(await dmesgWithVerdict(system)).toContain('KHO restore succeeded');
  });

  it('keeps preserved pages intact through kho_poison, which fills every other page: as many as it says', async () => {
    const image = join(temporaryDirectory(), 'ram.img');
    const system = await boot(['--manifest', 'kho-test', '--bootargs', 'kho_poison', '--dump-ram', image]);
    await dmesgUntil(system, /KHO test: folios preserved/);
    await system.command('kexec');
    const said = /kexec: KHO FDT at 0x[0-9a-f]+, scratch array at 0x[0-9a-f]+, (\d+) bytes poisoned/.exec(system.transcript);
    expect(said).not.toBeNull();
    const poisonedBytes = Number(said![1]);
    expect(await dmesgWithVerdict(system)).toContain('KHO restore succeeded');
    // The RAM saved at kexec is RAM as the old kernel left it: count its pages of pure pattern.
    await system.waitFor((text) => text.includes(`RAM saved to ${image} at kexec`), 'the RAM saved at kexec');
    const ram = readFileSync(image);
    const poisonPage = Buffer.alloc(PAGE, 0x6b);
    let poisonedPages = 0;
    for (let offset = 0; offset < ram.length; offset += PAGE) if (ram.subarray(offset, offset + PAGE).equals(poisonPage)) poisonedPages++;
    expect(poisonedBytes % PAGE).toBe(0);
    expect(poisonedPages * PAGE).toBe(poisonedBytes);
    // Most of RAM is not handed over: the boot RAM (256 MiB) less scratch and preserved blocks.
    expect(poisonedBytes).toBeGreaterThan(ram.length / 2);
  });

  it('kexec with the KHO server stopped is refused before anything stops, and goes through once it runs again', async () => {
    const system = await boot([]);
    await system.command('help');
    expect(await system.command('stop kho')).toBe('kho: stopped');
    expect(await system.command('kexec')).toBe('error: kexec: kho is stopped, and the handover needs it (start kho first; nothing was stopped)');
    expect(await system.command('ps')).toMatch(/console\s+server\s+1\s+running/);
    expect(await system.command('start kho')).toBe('kho: generation 2 running');
    expect(await system.command('kexec')).toMatch(/^kexec: loading .* with KHO handover\n/);
    expect(await system.command('history')).toMatch(/help\n.*stop kho\n.*kexec\n.*ps\n.*start kho\n.*kexec\n.*history$/);
  });

  it('kho=off: no scratch is set aside and kexec hands nothing over', async () => {
    const system = await boot(['--bootargs', 'kho=off']);
    expect(await system.command('kho')).toMatch(/^scratch areas:\noutgoing:/);
    await system.command('mem');
    await system.command('kexec');
    expect(system.transcript).not.toContain('kexec: KHO FDT at');
    expect(await system.command('kho')).toContain('incoming: none (not a KHO boot)');
    // The console's history is KHO state: without KHO the new boot starts with none.
    expect(await system.command('history')).not.toContain('mem');
  });

  it('restart of the log server loses nothing', async () => {
    const system = await boot([]);
    const before = (await system.command('dmesg')).split('\n');
    expect(await system.command('restart log')).toBe('log: generation 2 running');
    const after = await system.command('dmesg');
    for (const line of before) expect(after).toContain(line);
  });

  it('the console keeps its command history through its own restart and through kexec', async () => {
    const system = await boot([]);
    await system.command('help');
    await system.command('dt');
    await system.command('restart console');
    expect(await system.command('history')).toMatch(/help\n.*dt\n.*restart console/);
    await system.command('kexec');
    expect(await system.command('history -n 4')).toMatch(/restart console\n.*history\n.*kexec\n.*history -n 4$/);
  });

  it('kho dump writes the outgoing FDT and subtrees, which dtc decodes', async () => {
    const system = await boot(['--manifest', 'kho-test']);
    const directory = temporaryDirectory();
    expect(await system.command(`kho dump ${directory}`)).toContain('wrote fdt');
    expect(existsSync(join(directory, 'fdt'))).toBe(true);
    expect(existsSync(join(directory, 'sub_fdts', 'kho_test'))).toBe(true);
    whenDtc('dtc decodes the kho dump files', () => {
      for (const file of ['fdt', 'sub_fdts/kho_test']) {
        const dtc = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', join(directory, file)], { encoding: 'utf8' });
        expect(dtc.status).toBe(0);
        expect(dtc.stderr).toBe('');
      }
    });
  });

  it('kho dump to a directory the host cannot make is refused at once, and SIGTERM still ends baton cleanly', async () => {
    const system = await boot([]);
    expect(await system.command('kho dump /proc/forbidden')).toBe('error: kho dump: cannot make the directory /proc/forbidden: ENOENT: no such file or directory');
    expect(await system.command('kho dump /etc/hostname/below')).toBe('error: kho dump: cannot write under /etc/hostname/below: /etc/hostname is not a directory');
    expect(await system.command('ps')).toMatch(/kho\s+server\s+1\s+running/);
    system.signal('SIGTERM');
    expect(await system.exited).toBe(130);
  });

  it('kexec into another build on the host runs that build\'s kernel and servers, handing memory over', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const other = temporaryDirectory();
    cpSync(join(root, 'build'), join(other, 'build'), { recursive: true });
    cpSync(join(root, 'sysroot'), join(other, 'sysroot'), { recursive: true });
    for (const folder of ['servers', 'drivers']) {
      cpSync(join(root, folder), join(other, folder), { recursive: true, filter: (path) => !path.endsWith('.ts') || path.endsWith('manifest.json') });
    }
    cpSync(join(root, 'package.json'), join(other, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(other, 'node_modules'));
    const system = await boot(['--manifest', 'kho-test']);
    await system.command(`kexec ${other}`);
    const dmesg = await dmesgWithVerdict(system);
    expect(dmesg.split('\n').filter((line) => line.includes('baton kernel')).join('\n')).toContain(`baton kernel ${join(other, 'build', 'microkernel', 'main.js')}: entered`);
    expect(dmesg).toContain('KHO restore succeeded');
    expect(await system.command('ps')).toMatch(/kho-test\s+server\s+1\s+running/);
  });

  it('a kexec into an image that does not exist is refused and the system keeps running', async () => {
    const system = await boot([]);
    expect(await system.command('kexec /nonexistent/baton')).toMatch(/^error: kexec: no kernel image at/);
    expect(await system.command('ps')).toMatch(/console\s+server\s+1\s+running/);
  });

  it('boots a RAM image saved at kexec as an incoming handover elsewhere', async () => {
    const directory = temporaryDirectory();
    const image = join(directory, 'ram.img');
    const atKexec = join(directory, 'ram-at-kexec.img');
    const first = await boot(['--manifest', 'kho-test', '--dump-ram', image]);
    await first.command('kexec');
    await first.waitFor((text) => text.includes(`RAM saved to ${image} at kexec`), 'the RAM saved at kexec');
    const hint = /--kho-fdt (0x[0-9a-f]+) --kho-scratch (0x[0-9a-f]+,\d+)/.exec(first.transcript);
    expect(hint).not.toBeNull();
    // --dump-ram writes the same file again at power-off: keep the image the kexec wrote.
    copyFileSync(image, atKexec);
    await first.shutdown();
    expect(first.transcript).toContain(`RAM saved to ${image} at poweroff`);
    const second = await boot(['--manifest', 'kho-test', '--ram', atKexec, '--kho-fdt', hint![1]!, '--kho-scratch', hint![2]!]);
    const dmesg = await dmesgWithVerdict(second);
    expect(dmesg).toContain(`KHO: incoming handover at ${hint![1]!}`);
    expect(dmesg).toContain('KHO restore succeeded');
  });

  it('boots with KHO revival disabled when the handover is bad', async () => {
    const directory = temporaryDirectory();
    const image = join(directory, 'ram.img');
    const first = await boot(['--dump-ram', image]);
    await first.shutdown();
    const second = await boot(['--ram', image, '--kho-fdt', '0x80000000', '--kho-scratch', '0x80001000,48']);
    expect(second.transcript).toContain('disabling KHO revival');
    expect(await second.command('ps')).toMatch(/log\s+server\s+1\s+running/);
  });
});
