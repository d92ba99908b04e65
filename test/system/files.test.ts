// Whole-system tests of files: disks made by Linux's mke2fs, attached with --disk, get an
// ext2 server each at boot (read-only with ",ro"; refused by name when they use a feature
// ext2 does not support, with the system up); shutdown syncs and unmounts them clean, as
// e2fsck and dumpe2fs read the images afterwards. Skipped, saying so, without e2fsprogs.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkImage, debugfs, e2fsprogsMissing, makeImage, sha256, temporaryDirectory, writeTree } from '../harness/ext2_tools.js';
import { RunningSystem } from '../harness/system.js';

const MiB = 1024 * 1024;
let system: RunningSystem | undefined;
const folders: Array<{ remove(): void }> = [];
afterEach(async () => {
  await system?.stop();
  system = undefined;
  for (const folder of folders.splice(0)) folder.remove();
});

function folder(prefix: string): string {
  const made = temporaryDirectory(prefix);
  folders.push(made);
  return made.path;
}

/** The superblock's field `name` as dumpe2fs -h prints it. */
function superblockField(image: Uint8Array, name: string): string {
  const line = debugfs(image, 'stats').split('\n').find((candidate) => candidate.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim() ?? '';
}

if (e2fsprogsMissing) console.warn(`test/system/files.test.ts: skipped: ${e2fsprogsMissing}`);

describe.skipIf(e2fsprogsMissing !== undefined)('files on disks', () => {
  it('each ext2 disk gets its own ext2 server at boot; ",ro" mounts read-only; unsupported features are refused by name and the system runs; shutdown leaves every image clean', async () => {
    const work = folder('baton-files-');
    const source = join(work, 'tree');
    writeTree(source, [{ kind: 'file', path: 'notes/hello.txt', content: new TextEncoder().encode('hello\n') }]);
    const disks = {
      writable: join(work, 'writable.img'),
      ext4: join(work, 'ext4.img'),
      blank: join(work, 'blank.img'),
      readOnly: join(work, 'read-only.img'),
    };
    writeFileSync(disks.writable, makeImage({ source, bytes: 8 * MiB, blockBytes: 1024, label: 'data' }));
    writeFileSync(disks.ext4, makeImage({ bytes: 8 * MiB, type: 'ext4' }));
    writeFileSync(disks.blank, new Uint8Array(4 * MiB));
    writeFileSync(disks.readOnly, makeImage({ source, bytes: 8 * MiB, blockBytes: 4096 }));
    const readOnlyBefore = sha256(readFileSync(disks.readOnly));
    const ext4Before = sha256(readFileSync(disks.ext4));
    const mountsBefore = Number(superblockField(readFileSync(disks.writable), 'Mount count'));

    system = await RunningSystem.boot(['--disk', disks.writable, '--disk', disks.ext4, '--disk', disks.blank, '--disk', `${disks.readOnly},ro`]);
    const table = await system.commandUntil('ps', (output) => /^ext2\.3 .*running/m.test(output) && /^ext2\.0 .*running/m.test(output) && /^ext2\.1 .*failed/m.test(output),
      'ext2.0 and ext2.3 running, ext2.1 failed');
    expect(table).toMatch(/^ext2\.0 .*virtio-blk\.0$/m);
    expect(table).not.toMatch(/^ext2\.2/m);
    await system.waitFor((text) => text.includes('disk virtio-blk.2: holds no filesystem baton knows'), 'the boot line about the blank disk');
    expect(system.transcript).toMatch(/disk virtio-blk\.1: ext2 → ext2\.1 \(read-write\): failed: cannot mount virtio-blk\.1 read-write: unsupported incompatible features: extent/);
    expect(system.transcript).toMatch(/disk virtio-blk\.3: ext2 → ext2\.3 \(read-only\): running/);
    // The rest of the system still answers.
    expect(await system.command('random 4')).toMatch(/^[0-9a-f]{8}$/);
    expect(await system.shutdown()).toBe(0);

    const writable = new Uint8Array(readFileSync(disks.writable));
    const check = checkImage(writable);
    expect(check.status, check.output).toBe(0);
    expect(superblockField(writable, 'Filesystem state')).toBe('clean');
    expect(Number(superblockField(writable, 'Mount count'))).toBe(mountsBefore + 1);
    expect(sha256(readFileSync(disks.readOnly))).toBe(readOnlyBefore);
    expect(sha256(readFileSync(disks.ext4))).toBe(ext4Before);
  }, 90_000);

  it('mkfs DISK at the console makes an ext2 through the block service and starts its server; a mounted disk is refused; e2fsck passes it after shutdown', async () => {
    const work = folder('baton-files-');
    const blank = join(work, 'blank.img');
    writeFileSync(blank, new Uint8Array(16 * MiB));
    system = await RunningSystem.boot(['--disk', blank]);
    await system.waitFor((text) => text.includes('disk virtio-blk: holds no filesystem baton knows'), 'the boot line about the blank disk');
    expect(await system.command('mkfs virtio-blk -L fresh -b 1024')).toBe(
      'virtio-blk: ext2, 16384 blocks of 1024 bytes, 4096 inodes, 2 groups, label "fresh"\next2: serving virtio-blk');
    await system.commandUntil('ps', (output) => /^ext2 .*running.*virtio-blk$/m.test(output), 'ext2 running on virtio-blk');
    expect(await system.command('mkfs virtio-blk')).toBe('error: mkfs: virtio-blk is mounted: ext2 serves it (running); stop ext2 first');
    expect(await system.command('mkfs nosuchdisk')).toMatch(/^error: mkfs: no disk named "nosuchdisk" \(the disks: virtio-blk\)/);
    expect(await system.command('mkfs virtio-blk -L seventeen-bytes-x')).toBe('error: mkfs: the label "seventeen-bytes-x" is longer than 16 bytes');
    expect(await system.shutdown()).toBe(0);

    const image = new Uint8Array(readFileSync(blank));
    const check = checkImage(image);
    expect(check.status, check.output).toBe(0);
    expect(superblockField(image, 'Filesystem volume name')).toBe('fresh');
    expect(superblockField(image, 'Block size')).toBe('1024');
    expect(superblockField(image, 'Filesystem state')).toBe('clean');
    expect(debugfs(image, 'ls -l /')).toMatch(/lost\+found/);
  }, 90_000);

  it('kexec and shutdown each sync the filesystem and unmount it clean before the disk stops; the next kernel mounts it again', async () => {
    const work = folder('baton-files-');
    const disk = join(work, 'disk.img');
    writeFileSync(disk, makeImage({ bytes: 8 * MiB, blockBytes: 4096, label: 'kept' }));
    const mountsBefore = Number(superblockField(readFileSync(disk), 'Mount count'));
    system = await RunningSystem.boot(['--disk', disk]);
    const mounted = 'disk virtio-blk: ext2 → ext2 (read-write): running';
    await system.waitFor((text) => text.includes(mounted), 'ext2 running at boot');
    expect(await system.command('kexec')).toContain('kexec: loading');
    await system.waitFor((text) => text.split(mounted).length - 1 === 2, 'ext2 running again after the kexec');
    expect(await system.shutdown()).toBe(0);

    const synced = readFileSync(join(system.runDirectory, 'baton.log'), 'utf8').split('\n').filter((line) => line.includes('"msg":"ext2: synced"'));
    expect(synced).toHaveLength(2);
    const image = new Uint8Array(readFileSync(disk));
    const check = checkImage(image);
    expect(check.status, check.output).toBe(0);
    expect(superblockField(image, 'Filesystem state')).toBe('clean');
    expect(Number(superblockField(image, 'Mount count'))).toBe(mountsBefore + 2);
  }, 90_000);
});
