// The initramfs the build makes of sysroot/: deterministic, GNU `cpio -t` lists it and
// `cpio -i` unpacks it byte-exact; the boot initrd is that archive with the resolved boot
// manifest added as boot/manifest.json, and the device tree's /chosen points at it (dtc).

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Board } from '../hal/board.js';
import { decodeNewc } from '../hal/cpio_newc.js';
import { cpioExtract, cpioList, cpioMissing } from '../test/harness/cpio_tool.js';
import { encodeInitrd, resolveBootManifest } from './boot_image.js';
import { folderMembers, initrdWithManifest, manifestOf, writeInitramfs } from './initramfs.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The checkout this test runs in (tools/paths.ts's projectRoot is right only from build/).
const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cpioTitle = (name: string) => (cpioMissing ? `${name} (skipped: ${cpioMissing})` : name);
const dtcMissing = spawnSync('dtc', ['--version']).error ? 'dtc is not installed' : undefined;
const dtcTitle = (name: string) => (dtcMissing ? `${name} (skipped: ${dtcMissing})` : name);

let trees: string[] = [];
afterEach(() => {
  for (const tree of trees) rmSync(tree, { recursive: true, force: true });
  trees = [];
});

/** A tree whose sysroot holds a nested folder, an executable, a symlink and a file of odd size. */
function tree(mtime: number): string {
  const root = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'baton-initramfs-'));
  trees.push(root);
  mkdirSync(join(root, 'sysroot', 'etc', 'deep'), { recursive: true });
  mkdirSync(join(root, 'sysroot', 'bin'), { recursive: true });
  writeFileSync(join(root, 'sysroot', 'etc', 'motd'), 'hello\n');
  writeFileSync(join(root, 'sysroot', 'etc', 'deep', 'odd'), Uint8Array.from({ length: 1001 }, (_, index) => index & 0xff));
  writeFileSync(join(root, 'sysroot', 'bin', 'tool'), '#!/bin/sh\n');
  chmodSync(join(root, 'sysroot', 'bin', 'tool'), 0o755);
  symlinkSync('../etc/motd', join(root, 'sysroot', 'bin', 'motd-link'));
  for (const path of ['etc/motd', 'etc/deep/odd', 'bin/tool']) utimesSync(join(root, 'sysroot', path), mtime, mtime);
  return root;
}

describe('initramfs', () => {
  it('is the same bytes for the same sysroot, whatever the files\' times', () => {
    const first = readFileSync(writeInitramfs(tree(1_000_000)));
    const second = readFileSync(writeInitramfs(tree(2_000_000)));
    expect(Buffer.compare(first, second)).toBe(0);
  });

  it('keeps types and execute bits: directories before what they hold, names sorted', () => {
    const members = folderMembers(join(tree(1), 'sysroot'), 0);
    expect(members.map((member) => [member.name, member.mode.toString(8)])).toEqual([
      ['bin', '40755'], ['bin/motd-link', '120777'], ['bin/tool', '100755'],
      ['etc', '40755'], ['etc/deep', '40755'], ['etc/deep/odd', '100644'], ['etc/motd', '100644'],
    ]);
  });

  it.skipIf(cpioMissing !== undefined)(cpioTitle('GNU cpio -t lists it and cpio -i unpacks it byte-exact'), () => {
    const root = tree(1);
    const archive = new Uint8Array(readFileSync(writeInitramfs(root)));
    expect(cpioList(archive)).toEqual(['bin', 'bin/motd-link', 'bin/tool', 'etc', 'etc/deep', 'etc/deep/odd', 'etc/motd']);
    const files = cpioExtract(archive);
    expect(new TextDecoder().decode(files.get('bin/motd-link'))).toBe('-> ../etc/motd');
    expect(Buffer.from(files.get('etc/deep/odd')!).equals(readFileSync(join(root, 'sysroot', 'etc', 'deep', 'odd')))).toBe(true);
  });

  it.skipIf(cpioMissing !== undefined)(cpioTitle('the boot initrd is the build\'s archive of this sysroot plus boot/manifest.json, and cpio -t lists it'), () => {
    const manifest = resolveBootManifest('default', checkout);
    const initrd = encodeInitrd(manifest, checkout);
    const listed = cpioList(initrd);
    expect(listed).toContain('boot/manifest.json');
    expect(listed).toContain('etc/motd');
    expect(JSON.parse(new TextDecoder().decode(manifestOf(initrd)))).toEqual(manifest);
    // A second manifest member replaces the first rather than adding one.
    const again = initrdWithManifest(new TextEncoder().encode('{}'), checkout);
    expect(decodeNewc(again).filter((member) => member.name === 'boot/manifest.json')).toHaveLength(1);
  });

  it.skipIf(dtcMissing !== undefined)(dtcTitle('/chosen linux,initrd-start and -end bound the archive in RAM, as dtc reads them'), () => {
    const initrd = encodeInitrd(resolveBootManifest('default', checkout), checkout);
    const board = new Board({ ramSize: 64 * 1024 * 1024, bootargs: '', kernelImage: join(checkout, 'build', 'microkernel', 'main.js'), initrd, devices: [], earlyOutput: () => undefined });
    const work = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'baton-dtb-'));
    trees.push(work);
    writeFileSync(join(work, 'board.dtb'), board.buildDeviceTree());
    const dts = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', join(work, 'board.dtb')], { encoding: 'utf8' });
    expect(dts.status, dts.stderr).toBe(0);
    const cells = (property: string) => {
      const match = new RegExp(`${property} = <(0x[0-9a-f]+) (0x[0-9a-f]+)>;`).exec(dts.stdout);
      expect(match, `${property} in\n${dts.stdout}`).not.toBeNull();
      return Number(BigInt(match![1]!) << 32n | BigInt(match![2]!));
    };
    const start = cells('linux,initrd-start');
    const end = cells('linux,initrd-end');
    expect(end - start).toBe(initrd.length);
    expect(start % 4096).toBe(0);
    expect(start).toBeGreaterThanOrEqual(board.ram.base);
    expect(end).toBeLessThanOrEqual(board.ram.end);
  });
});
