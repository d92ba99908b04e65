// Whole-system tests of drivers: disks backed by host image files, the devices table, and
// loading, replacing and unloading drivers from folders outside the tree while the
// system runs — each through the console (and the control CLI) as a user would.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDriver } from '../../tools/new_driver.js';
import { PROMPT, RunningSystem, runBaton } from '../harness/system.js';

const SECTOR = 512;
let system: RunningSystem | undefined;
const folders: string[] = [];
afterEach(async () => {
  await system?.stop();
  system = undefined;
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function temporaryFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

/** A disk image whose every byte is `fill`. */
function image(folder: string, name: string, sectors: number, fill: number): string {
  const path = join(folder, name);
  writeFileSync(path, new Uint8Array(sectors * SECTOR).fill(fill));
  return path;
}

/** A driver folder made by the scaffold (`npm run new-driver -- NAME --dir PATH`), outside the tree. */
async function scaffold(name: string): Promise<string> {
  const folder = join(temporaryFolder('baton-driver-'), name);
  createDriver(name, folder);
  return folder;
}

function editManifest(folder: string, change: (manifest: Record<string, unknown>) => void): void {
  const path = join(folder, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  change(manifest);
  writeFileSync(path, JSON.stringify(manifest, null, 2));
}

function deviceRow(table: string, path: string): string {
  return table.split('\n').find((line) => line.startsWith(path)) ?? '';
}

/**
 * A warning or error the console printed above the prompt while the system ran: the prompt
 * it erased (if one was showing), "\r\x1b[K", the line, "\r\n" (the prompt is redrawn after).
 */
const PRINTED_ABOVE = /(?:baton> )?\r\x1b\[K[^\r\n]*\r\n/g;

/**
 * Types `line` and returns what it printed before the next prompt — as RunningSystem.command,
 * but log lines the console prints above the prompt meanwhile (a supervisor's warnings about
 * the drivers these tests crash) neither end the wait early nor appear in the output.
 */
async function command(running: RunningSystem, line: string): Promise<string> {
  const start = running.transcript.length;
  running.type(`${line}\n`);
  const text = await running.waitFor((all) => {
    const after = all.slice(start).replace(PRINTED_ABOVE, '');
    return after.includes('\r\n') && after.endsWith(PROMPT);
  }, `the prompt after "${line}"`, start);
  const clean = text.replace(PRINTED_ABOVE, '');
  const afterEcho = clean.slice(clean.indexOf('\r\n') + 2);
  return afterEcho.slice(0, afterEcho.length - PROMPT.length).replace(/\r\n/g, '\n').replace(/\n$/, '');
}

/** The `ps` row of `name` once it matches `pattern` (each ps is an event waited on, not a sleep). */
async function psUntil(running: RunningSystem, name: string, pattern: RegExp): Promise<string> {
  const rowOf = (table: string) => table.split('\n').find((line) => line.startsWith(name + ' '));
  const table = await running.commandUntil('ps', (output) => pattern.test(rowOf(output) ?? ''), `${name} matching ${pattern}`);
  return rowOf(table)!;
}

const RNG_DEVICE = '/soc/virtio_mmio@10004000';

describe('disks', () => {
  it('a write through the block service is in the image file after shutdown, byte for byte', async () => {
    const folder = temporaryFolder('baton-disk-');
    const disk = image(folder, 'disk.img', 256, 0xee);
    system = await RunningSystem.boot(['--disk', disk]);
    expect(await command(system, 'blk write virtio-blk 5 hello from baton')).toBe('virtio-blk: wrote 16 bytes (1 sector) at sector 5');
    expect(await command(system, 'blk flush virtio-blk')).toBe('virtio-blk: flushed');
    expect(await command(system, 'blk read virtio-blk 5')).toMatch(/^00000a00  68 65 6c 6c 6f 20 66 72 6f 6d 20 62 61 74 6f 6e  \|hello from baton\|/);
    // Two reads: the boot's look for an ext2 superblock (sector 2), and the read above.
    expect(await command(system, 'blk')).toMatch(/^virtio-blk\s+128 KiB\s+256\s+rw\s+disk\.img\s+2\s+1\s+4\s+0$/m);
    expect(await system.shutdown()).toBe(0);

    const expected = new Uint8Array(256 * SECTOR).fill(0xee);
    expected.fill(0, 5 * SECTOR, 6 * SECTOR);
    expected.set(new TextEncoder().encode('hello from baton'), 5 * SECTOR);
    expect(Buffer.from(readFileSync(disk)).equals(Buffer.from(expected))).toBe(true);
  });

  it('several disks, one read-only: refused writes are typed errors and change nothing', async () => {
    const folder = temporaryFolder('baton-disks-');
    const writable = image(folder, 'a.img', 64, 0);
    const readOnly = image(folder, 'b.img', 128, 0x11);
    system = await RunningSystem.boot(['--disk', writable, '--disk', `${readOnly},ro`]);
    const table = await command(system, 'blk');
    expect(table).toMatch(/^virtio-blk\.0\s+32 KiB\s+64\s+rw/m);
    expect(table).toMatch(/^virtio-blk\.1\s+64 KiB\s+128\s+ro/m);
    expect(await command(system, 'blk write virtio-blk.1 0 nope')).toBe('error: virtio-blk.1 is read-only');
    expect(await command(system, 'blk read virtio-blk.0 64')).toMatch(/^error: read of sectors 64\.\.64: the disk has 64 sectors/);
    expect(await command(system, 'blk')).toMatch(/^virtio-blk\.1\s.*\s1$/m);
    // One instance unloaded; loading the same driver again binds it back.
    expect(await command(system, 'unload virtio-blk.1')).toBe('virtio-blk.1: stopped; /soc/virtio_mmio@10006000 released');
    expect(await command(system, 'blk')).not.toContain('virtio-blk.1');
    expect(await command(system, 'load drivers/virtio-blk')).toContain('/soc/virtio_mmio@10006000 → virtio-blk.1: generation 1 running');
    expect(await command(system, 'blk')).toMatch(/^virtio-blk\.1\s+64 KiB\s+128\s+ro/m);
    expect(await system.shutdown()).toBe(0);
    expect(Buffer.from(readFileSync(readOnly)).equals(Buffer.alloc(128 * SECTOR, 0x11))).toBe(true);
  });

  it('a disk keeps working after its driver is killed and restarted', async () => {
    system = await RunningSystem.boot();
    expect(await command(system, 'blk write virtio-blk 1 before')).toMatch(/wrote 6 bytes/);
    expect(await command(system, 'kill virtio-blk')).toContain('virtio-blk: killed (generation 1)');
    await psUntil(system, 'virtio-blk', /\s2\s+running\s/);
    expect(await command(system, 'blk read virtio-blk 1')).toMatch(/\|before\.+\|/);
  });

  it('--disk with a missing image is refused with a usage error', async () => {
    const result = await runBaton(['start', '--disk', join(tmpdir(), 'baton-no-such-image.img')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--disk .*baton-no-such-image\.img: no such image file/);
  });
});

describe('devices and drivers', () => {
  it('devices lists every device node with its compatible, registers, interrupt, driver, state and generation', async () => {
    system = await RunningSystem.boot();
    const table = await command(system, 'devices');
    expect(table.split('\n')[0]).toMatch(/^DEVICE\s+COMPATIBLE\s+REG\s+IRQ\s+DRIVER\s+STATE\s+GEN$/);
    expect(deviceRow(table, '/soc/plic@c000000')).toMatch(/kernel\s+running/);
    expect(deviceRow(table, '/soc/virtio_mmio@10001000')).toMatch(/virtio,mmio \[console\]\s+0x10001000\+0x200\s+1\s+virtio-console\.0\s+running\s+1$/);
    expect(deviceRow(table, RNG_DEVICE)).toMatch(/virtio,mmio \[entropy\]\s+0x10004000\+0x200\s+4\s+virtio-rng\s+running\s+1$/);
    expect(deviceRow(table, '/soc/virtio_mmio@10005000')).toMatch(/\[block\].*virtio-blk\s+running\s+1$/);
    expect(await command(system, 'random 8')).toMatch(/^[0-9a-f]{16}$/);
    const cli = await system.ctl(['devices']);
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain(RNG_DEVICE);
  });

  it('a driver from a folder outside the tree loads into the running system, serves, and unloads', async () => {
    const folder = await scaffold('my-rng');
    system = await RunningSystem.boot();
    expect(await command(system, `load ${folder}`)).toMatch(/^error: my-rng: no unbound device matches virtio,mmio \(virtio device 4\); see devices .*; nothing was loaded$/);
    const refused = await system.ctl(['load', folder]);
    expect(refused.status).toBe(1);
    expect(await command(system, 'drivers')).not.toContain('my-rng');
    expect(await command(system, 'unload virtio-rng')).toBe(`virtio-rng: stopped; ${RNG_DEVICE} released\nvirtio-rng: unloaded (a boot driver: start virtio-rng binds it again)`);
    expect(deviceRow(await command(system, 'devices'), RNG_DEVICE)).toMatch(/-\s+unbound\s+-$/);
    expect(await command(system, 'random 4')).toMatch(/^error: nothing serves "random"/);

    const loaded = await system.ctl(['load', folder]);
    expect(loaded.status).toBe(0);
    expect(loaded.stdout).toContain(`loaded my-rng 0.1.0 from ${folder}`);
    expect(loaded.stdout).toContain(`${RNG_DEVICE} → my-rng: generation 1 running`);
    expect(deviceRow(await command(system, 'devices'), RNG_DEVICE)).toMatch(/my-rng\s+running\s+1$/);
    expect(await command(system, 'random 16')).toMatch(/^[0-9a-f]{32}$/);
    expect(await command(system, 'drivers')).toMatch(new RegExp(`^my-rng\\s+0\\.1\\.0\\s+${folder}\\s+my-rng$`, 'm'));

    expect(await command(system, 'unload my-rng')).toBe(`my-rng: stopped; ${RNG_DEVICE} released`);
    expect(await command(system, 'drivers')).not.toContain('my-rng');
    expect(deviceRow(await command(system, 'devices'), RNG_DEVICE)).toMatch(/unbound/);
    // The boot driver was unloaded, not forgotten: start binds it again.
    expect(await command(system, 'start virtio-rng')).toBe(`${RNG_DEVICE} → virtio-rng: generation 1 running`);
    expect(await command(system, 'random 2')).toMatch(/^[0-9a-f]{4}$/);
  });

  it('the README\'s steps work as written: new-driver, then load into a system started with a spare --device virtio-rng', async () => {
    const folder = join(temporaryFolder('baton-readme-'), 'my-driver');
    const created = await runBaton(['new-driver', 'my-driver', '--dir', folder]);
    expect(created.status).toBe(0);
    expect(created.stdout).toContain('npm start -- --device virtio-rng');
    system = await RunningSystem.boot(['--device', 'virtio-rng']);
    // After the board's consoles, entropy, the disk and the live view's two consoles.
    const spare = '/soc/virtio_mmio@10008000';
    expect(system.transcript).toContain(`device ${spare}: virtio,mmio (spare: left for a driver loaded later)`);
    expect(deviceRow(await command(system, 'devices'), spare)).toMatch(/virtio,mmio \[entropy\]\s+0x10008000\+0x200\s+8\s+-\s+unbound\s+-$/);
    expect(deviceRow(await command(system, 'devices'), RNG_DEVICE)).toMatch(/virtio-rng\s+running\s+1$/);
    expect(await command(system, `load ${folder}`)).toBe(`loaded my-driver 0.1.0 from ${folder}\n${spare} → my-driver: generation 1 running`);
    // With the board's own driver gone, random can only come from the new one.
    await command(system, 'unload virtio-rng');
    expect(await command(system, 'random 16')).toMatch(/^[0-9a-f]{32}$/);
    expect(await command(system, 'ps')).toMatch(/^my-driver\s+driver\s+1\s+running\s/m);
    // start binds the boot driver again where it was, not to the spare.
    expect(await command(system, 'start virtio-rng')).toBe(`${RNG_DEVICE} → virtio-rng: generation 1 running`);
  });

  it('--device refuses a kind the board does not have, listing the kinds', async () => {
    const result = await runBaton(['start', '--device', 'virtio-gpu']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--device virtio-gpu: no such device kind; the board has:\n {2}virtio-rng {2}a virtio entropy source/);
  });

  it('loading a newer version replaces the running driver; the same version again is refused', async () => {
    const folder = await scaffold('my-rng');
    system = await RunningSystem.boot();
    await command(system, 'unload virtio-rng');
    expect(await command(system, `load ${folder}`)).toContain('my-rng: generation 1 running');
    expect(await command(system, `load ${folder}`)).toMatch(/^error: my-rng 0\.1\.0 is already loaded .*no device it matches has been released since/);
    writeFileSync(join(folder, 'main.ts'), readFileSync(join(folder, 'main.ts'), 'utf8').replace('the device returned no bytes', 'no bytes'));
    expect(await command(system, `load ${folder}`)).toMatch(/^error: my-rng 0\.1\.0 is already loaded .*is different code under the same version: give the new one a higher "version"/);
    editManifest(folder, (manifest) => (manifest.version = '0.0.9'));
    expect(await command(system, `load ${folder}`)).toMatch(/^error: my-rng 0\.1\.0 is already loaded .*0\.0\.9 is lower/);
    editManifest(folder, (manifest) => (manifest.version = '0.2.0'));
    const replaced = await command(system, `load ${folder}`);
    expect(replaced).toContain('replacing my-rng 0.1.0 with 0.2.0');
    expect(replaced).toContain('→ my-rng: generation 2 running');
    expect(await command(system, 'random 8')).toMatch(/^[0-9a-f]{16}$/);
    expect(await command(system, 'drivers')).toMatch(/^my-rng\s+0\.2\.0\s/m);
  }, 120_000); // five loads, each type-checked (seconds on a loaded machine)

  it('a malformed manifest is refused with the field and the reason, and nothing changes', async () => {
    const folder = await scaffold('my-rng');
    editManifest(folder, (manifest) => {
      manifest.name = 'My RNG';
    });
    const missingMatch = await scaffold('no-match');
    editManifest(missingMatch, (manifest) => delete manifest.match);
    const badVersion = await scaffold('bad-field');
    editManifest(badVersion, (manifest) => (manifest.heartbeatMs = 'often'));
    const typo = await scaffold('typo');
    editManifest(typo, (manifest) => (manifest.serves = ['randon']));
    system = await RunningSystem.boot();
    const before = await command(system, 'devices');
    expect(await command(system, `load ${folder}`)).toMatch(/^error: .*manifest\.json: field "name": .*lower-case letters.*\(got "My RNG"\); nothing was loaded$/);
    expect(await command(system, `load ${missingMatch}`)).toMatch(/field "match": a driver needs one/);
    expect(await command(system, `load ${badVersion}`)).toMatch(/field "heartbeatMs": expected integer \(got "often"\)/);
    expect(await command(system, `load ${typo}`)).toMatch(/field "serves\[0\]": no interface is named "randon" \(baton's: .*random.*\); nothing was loaded$/);
    expect(await command(system, `load ${join(folder, 'nowhere')}`)).toMatch(/^error: .*nowhere: no such folder$/);
    expect(await command(system, 'devices')).toBe(before);
    expect(await command(system, 'random 4')).toMatch(/^[0-9a-f]{8}$/);
  });

  it('a driver that does not compile is refused with the file and line', async () => {
    const folder = await scaffold('broken');
    writeFileSync(join(folder, 'main.ts'), 'export default {\n  init( {\n};\n');
    system = await RunningSystem.boot();
    expect(await command(system, `load ${folder}`)).toMatch(/^error: .* does not compile:\n\s+main\.ts:\d+:\d+: /);
    expect(await command(system, 'ps')).toMatch(/virtio-rng\s+driver\s+1\s+running/);
  });

  it('a driver with a type error is refused at load with its file, line and column; the system stays up and the corrected driver loads', async () => {
    const folder = await scaffold('my-rng');
    const main = readFileSync(join(folder, 'main.ts'), 'utf8').trimEnd();
    writeFileSync(join(folder, 'main.ts'), `${main}\nexport const count: number = 'four';\n`);
    const line = main.split('\n').length + 1;
    system = await RunningSystem.boot();
    expect(await command(system, `load ${folder}`)).toMatch(new RegExp(`^error: .* does not type-check:\n {2}main\\.ts:${line}:14: error TS2322: Type 'string' is not assignable to type 'number'\\.`));
    expect(await command(system, 'random 4')).toMatch(/^[0-9a-f]{8}$/);
    expect(await command(system, 'drivers')).not.toMatch(/^my-rng\s/m);
    writeFileSync(join(folder, 'main.ts'), `${main}\nexport const count: number = 4;\n`);
    await command(system, 'unload virtio-rng');
    expect(await command(system, `load ${folder}`)).toContain('my-rng: generation 1 running');
    expect(await command(system, 'random 8')).toMatch(/^[0-9a-f]{16}$/);
  }, 120_000); // three loads, each type-checked

  it('a driver that throws at load or never gets ready is handled by the supervisor; load says so and exits 1; the system stays up', async () => {
    const throwing = await scaffold('throws');
    writeFileSync(join(throwing, 'main.ts'), "import { defineDriver } from 'baton/drivers/lib/driver.js';\n" +
      "export default defineDriver({ init() { throw new Error('no such hardware'); } });\n");
    editManifest(throwing, (manifest) => (manifest.restart = { policy: 'always', maximumQuickFailures: 2, backoffInitialMs: 10 }));
    const hanging = await scaffold('hangs');
    writeFileSync(join(hanging, 'main.ts'), "import { defineDriver } from 'baton/drivers/lib/driver.js';\n" +
      'export default defineDriver({ init: () => new Promise<void>(() => undefined) });\n');
    editManifest(hanging, (manifest) => {
      manifest.restart = { policy: 'never' };
      manifest.startTimeoutMs = 300;
    });
    system = await RunningSystem.boot();
    await command(system, 'unload virtio-rng');
    const where = `${throwing}/main.ts:2:`;
    const loaded = await system.ctl(['load', throwing]);
    expect(loaded.status).toBe(1);
    expect(loaded.stdout).toMatch(/^error: loaded throws 0\.1\.0 from .*\n.* → throws: failed \(init failed: Error: no such hardware \(.*main\.ts:2:\d+\)\); see dmesg\nthrows not running/);
    // maximumQuickFailures 2: the second failure in a row marks it failed.
    expect(await command(system, 'ps')).toMatch(/^throws\s+driver\s+2\s+failed\s+1/m);
    const log = await command(system, 'dmesg');
    expect(log).toContain(`throws: init failed: Error: no such hardware (${where}`);
    expect(log).toMatch(/throws: init failed: .*; marked failed \(2 failures in a row, .*\(maximumQuickFailures 2\)\)/);
    expect(await command(system, 'unload throws')).toContain('throws: stopped');
    expect(await command(system, `load ${hanging}`)).toMatch(/^error: [^]*→ hangs: failed \(not ready after 300 ms: treated as hung\)/);
    expect(await command(system, 'ps')).toMatch(/^hangs\s+driver\s+1\s+failed/m);
    expect(await command(system, 'dmesg')).toContain('hangs: generation 1 not ready after 300 ms: treated as hung');
    expect(await command(system, 'blk write virtio-blk 0 still here')).toMatch(/wrote 10 bytes/);
  }, 120_000);
});
