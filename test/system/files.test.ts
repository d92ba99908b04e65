// Whole-system tests of files: disks made by Linux's mke2fs, attached with --disk, get an
// ext2 server each at boot (read-only with ",ro"; refused by name when they use a feature
// ext2 does not support, with the system up); shutdown syncs and unmounts them clean, as
// e2fsck and dumpe2fs read the images afterwards. Through the VFS (the console's file
// commands): each ext2 disk at /mnt/LABEL, every file mke2fs -d wrote read byte-exact, and a
// random workload — alone, then with kill ext2 at random moments — that e2fsck -fn passes and
// debugfs reads back as the test's model says. Skipped, saying so, without e2fsprogs, and
// the VFS tests without a VFS in the default boot.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkImage, debugfs, dumpFile, dumpTree, e2fsprogsMissing, makeImage, sha256, temporaryDirectory, writeTree, type DumpedEntry, type TreeEntry } from '../harness/ext2_tools.js';
import { resolveBootManifest } from '../../tools/boot_image.js';
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

/** Why the tests through the VFS cannot run here, or undefined: they need e2fsprogs and a VFS in the default boot. */
const checkout = fileURLToPath(new URL('../..', import.meta.url));
const vfsMissing = e2fsprogsMissing ?? (resolveBootManifest('default', checkout).programs.some((program) => program.serves.includes('fs'))
  ? undefined : 'the default boot has no VFS (no server serves "fs")');
if (vfsMissing && !e2fsprogsMissing) console.warn(`test/system/files.test.ts: the tests through the VFS are skipped: ${vfsMissing}`);

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

const KiB = 1024;
const text = (value: string) => new TextEncoder().encode(value);
/** Bytes that differ at every offset, so a block in the wrong place cannot pass. */
const pattern = (length: number, seed: number) => Uint8Array.from({ length }, (_, index) => (index * 131 + seed + (index >>> 10) * 7) & 0xff);

/** A tree as mke2fs -d copies it: nested folders, a sparse file, a large file, a fast and a slow symlink. */
function sampleTree(blockBytes: number): TreeEntry[] {
  // With 1 KiB blocks the double-indirect range ends at (12 + 256 + 256²) KiB: the large file goes past it.
  const large = blockBytes === 1024 ? (12 + 256 + 256 * 256) * KiB + 300 * KiB : 3 * MiB + 123;
  return [
    { kind: 'file', path: 'etc/motd', content: text('welcome to baton\n') },
    { kind: 'file', path: 'a/b/c/d/deep.txt', content: text('four folders down\n') },
    { kind: 'directory', path: 'a/empty' },
    { kind: 'file', path: 'a/b/odd-size', content: pattern(blockBytes * 3 + 17, 1) },
    { kind: 'sparse', path: 'sparse.bin', size: 20 * MiB, pieces: [{ offset: 0, bytes: text('head') }, { offset: 9 * MiB + 5, bytes: pattern(5000, 2) }, { offset: 20 * MiB - 3, bytes: text('end') }] },
    { kind: 'sparse', path: 'large.bin', size: large, pieces: [{ offset: 0, bytes: pattern(256 * KiB, 3) }, { offset: large - 200 * KiB, bytes: pattern(200 * KiB, 4) }] },
    { kind: 'symlink', path: 'fast-link', target: 'etc/motd' },
    { kind: 'symlink', path: 'slow-link', target: `a/b/c/d/${'long-name-'.repeat(8)}deep.txt` },
  ];
}

/** The bytes of a tree entry, as the host holds them. */
function contentOf(entry: TreeEntry): Uint8Array {
  if (entry.kind === 'file') return entry.content;
  if (entry.kind !== 'sparse') throw new Error(`${entry.path} is no file`);
  const bytes = new Uint8Array(entry.size);
  for (const piece of entry.pieces) bytes.set(piece.bytes, piece.offset);
  return bytes;
}

/** A small deterministic generator (mulberry32), so a failing workload can be run again by its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

type ModelEntry = { kind: 'directory' } | { kind: 'file'; content: string } | { kind: 'symlink'; target: string };

/**
 * A random workload typed at the console under ROOT (creates, writes, appends, truncating
 * writes, renames, unlinks, mkdirs, rmdirs, symlinks), kept in a model of what each path
 * holds; every command must answer as the model says. `between` runs after each step.
 */
async function workload(run: (line: string) => Promise<string>, root: string, seed: number, steps: number, between?: (step: number) => Promise<void>): Promise<Map<string, ModelEntry>> {
  const next = random(seed);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const model = new Map<string, ModelEntry>();
  const paths = (kind: ModelEntry['kind']) => [...model].filter(([, entry]) => entry.kind === kind).map(([path]) => path);
  const directories = () => ['', ...paths('directory')];
  const childOf = (directory: string) => `${directory ? `${directory}/` : ''}n${Math.floor(next() * 1e6)}`;
  const expectAnswer = async (line: string, answer: string) => expect(await run(line), line).toBe(answer);
  for (let step = 0; step < steps; step++) {
    const choice = next();
    if (choice < 0.15) {
      const path = childOf(pick(directories()));
      await expectAnswer(`mkdir ${root}/${path}`, '');
      model.set(path, { kind: 'directory' });
    } else if (choice < 0.45) {
      const files = paths('file');
      const path = files.length > 0 && next() < 0.4 ? pick(files) : childOf(pick(directories()));
      const words = `w${step} ${'x'.repeat(Math.floor(next() * 3000))}`;
      await expectAnswer(`write ${root}/${path} ${words}`, '');
      model.set(path, { kind: 'file', content: `${words}\n` });
    } else if (choice < 0.6) {
      const files = paths('file');
      if (files.length === 0) continue;
      const path = pick(files);
      const words = `a${step}`;
      await expectAnswer(`append ${root}/${path} ${words}`, '');
      model.set(path, { kind: 'file', content: (model.get(path) as { content: string }).content + `${words}\n` });
    } else if (choice < 0.72) {
      const movable = [...paths('file'), ...paths('symlink')];
      if (movable.length === 0) continue;
      const from = pick(movable);
      const to = childOf(pick(directories()));
      await expectAnswer(`mv ${root}/${from} ${root}/${to}`, '');
      model.set(to, model.get(from)!);
      model.delete(from);
    } else if (choice < 0.82) {
      const removable = [...paths('file'), ...paths('symlink')];
      if (removable.length === 0) continue;
      const path = pick(removable);
      await expectAnswer(`rm ${root}/${path}`, '');
      model.delete(path);
    } else if (choice < 0.9) {
      const empty = paths('directory').filter((directory) => ![...model.keys()].some((path) => path.startsWith(`${directory}/`)));
      if (empty.length === 0) continue;
      const path = pick(empty);
      await expectAnswer(`rmdir ${root}/${path}`, '');
      model.delete(path);
    } else {
      const path = childOf(pick(directories()));
      const target = next() < 0.5 ? `t${step}` : `slow-target-${'y'.repeat(70)}-${step}`;
      await expectAnswer(`ln -s ${target} ${root}/${path}`, '');
      model.set(path, { kind: 'symlink', target });
    }
    await between?.(step);
  }
  return model;
}

/** The model as dumpTree reads an image back (lost+found left out there too). */
function asDumped(model: Map<string, ModelEntry>): Map<string, DumpedEntry> {
  return new Map([...model].map(([path, entry]): [string, DumpedEntry] => [path, entry.kind === 'file'
    ? { kind: 'file', size: text(entry.content).length, sha256: sha256(text(entry.content)) }
    : entry]));
}

const sorted = (tree: Map<string, DumpedEntry>) => [...tree].sort(([a], [b]) => a.localeCompare(b));

describe.skipIf(vfsMissing !== undefined)(vfsMissing ? `files through the VFS (skipped: ${vfsMissing})` : 'files through the VFS', () => {
  it('mounts each ext2 disk at /mnt/LABEL and reads every file mke2fs -d put there byte-exact (1 KiB and 4 KiB blocks)', async () => {
    const work = folder('baton-files-');
    const trees = { one: sampleTree(1024), four: sampleTree(4096) };
    const disks: string[] = [];
    for (const [label, tree] of Object.entries(trees)) {
      const source = join(work, label);
      writeTree(source, tree);
      const disk = join(work, `${label}.img`);
      writeFileSync(disk, makeImage({ source, bytes: 96 * MiB, blockBytes: label === 'one' ? 1024 : 4096, label }));
      disks.push('--disk', disk);
    }
    system = await RunningSystem.boot(disks);
    await system.commandUntil('mount', (output) => output.includes(' on /mnt/one type ext2') && output.includes(' on /mnt/four type ext2'), 'both disks mounted');
    for (const [label, tree] of Object.entries(trees)) {
      for (const entry of tree) {
        const path = `/mnt/${label}/${entry.path}`;
        if (entry.kind === 'file' || entry.kind === 'sparse') {
          expect(await system.command(`sha256sum ${path}`), path).toBe(`${sha256(contentOf(entry))}  ${path}`);
        } else if (entry.kind === 'symlink') {
          expect(await system.command(`stat ${path}`)).toContain(`  File: ${path} -> ${entry.target}`);
        } else {
          expect(await system.command(`ls ${path}`)).toBe('');
        }
      }
      expect(await system.command(`cat /mnt/${label}/fast-link`)).toBe('welcome to baton');
      expect(await system.command(`ls /mnt/${label}/a/b`)).toBe('c\nodd-size');
    }
    expect(await system.command('cat /mnt/one/nothing-here')).toBe('error: cat /mnt/one/nothing-here: ENOENT (no such file or directory)');
    expect(await system.shutdown()).toBe(0);
  }, 180_000);

  it('--root DISK makes the disk the root, its own files at / with no initramfs unpacked over them; a write there is on the disk after shutdown', async () => {
    const work = folder('baton-files-');
    const source = join(work, 'tree');
    writeTree(source, [{ kind: 'file', path: 'home/readme', content: new TextEncoder().encode('on the disk\n') }]);
    const disk = join(work, 'root.img');
    writeFileSync(disk, makeImage({ source, bytes: 16 * MiB, blockBytes: 1024, label: 'root' }));
    system = await RunningSystem.boot(['--disk', disk, '--root', disk]);
    await system.waitFor((text) => text.includes('root=virtio-blk: ext2 mounted at /'), 'the root disk mounted at /');
    expect(await system.commandUntil('mount', (output) => /^ext2 on \/ type ext2 \(rw\)$/m.test(output), 'ext2 at /')).toMatch(/^tmpfs-tmp on \/tmp type tmpfs/m);
    expect(await system.command('cat /home/readme')).toBe('on the disk');
    // sysroot/'s files and the boot manifest belong to the initramfs, not to this disk.
    expect(await system.command('ls /boot')).toBe('error: ls /boot: ENOENT (no such file or directory)');
    expect(await system.command('ls /etc')).toBe('error: ls /etc: ENOENT (no such file or directory)');
    expect(await system.command('write /home/note made at the root')).toBe('');
    expect(await system.shutdown()).toBe(0);
    const image = new Uint8Array(readFileSync(disk));
    const check = checkImage(image);
    expect(check.status, check.output).toBe(0);
    expect(new TextDecoder().decode(dumpFile(image, '/home/note'))).toBe('made at the root\n');
    expect(debugfs(image, 'ls /')).not.toMatch(/\bboot\b|\betc\b/);
  }, 120_000);

  it('a random workload of creates, writes, truncating writes, renames, unlinks, mkdirs and symlinks: after shutdown e2fsck -fn is clean and debugfs reads back the model', async () => {
    const work = folder('baton-files-');
    const disk = join(work, 'work.img');
    writeFileSync(disk, makeImage({ bytes: 32 * MiB, blockBytes: 1024, label: 'work' }));
    system = await RunningSystem.boot(['--disk', disk]);
    await system.commandUntil('mount', (output) => output.includes(' on /mnt/work type ext2'), '/mnt/work mounted');
    const seed = Number(process.env.FILES_SEED ?? 20261204);
    const model = await workload((line) => system!.command(line), '/mnt/work', seed, 150);
    expect(model.size, `seed ${seed}: what the workload left`).toBeGreaterThan(10);
    expect(await system.shutdown()).toBe(0);
    const image = new Uint8Array(readFileSync(disk));
    const check = checkImage(image);
    expect(check.status, `seed ${seed}: ${check.output}`).toBe(0);
    expect(sorted(dumpTree(image)), `seed ${seed}`).toEqual(sorted(asDumped(model)));
  }, 180_000);

  it('the same workload with kill ext2 at random moments, then sync and shutdown: e2fsck -fn is clean and every write acknowledged before a kill is there', async () => {
    const work = folder('baton-files-');
    const disk = join(work, 'work.img');
    writeFileSync(disk, makeImage({ bytes: 32 * MiB, blockBytes: 1024, label: 'work' }));
    system = await RunningSystem.boot(['--disk', disk]);
    await system.commandUntil('mount', (output) => output.includes(' on /mnt/work type ext2'), '/mnt/work mounted');
    const seed = Number(process.env.FILES_SEED ?? 4121);
    const kills = random(seed + 1);
    let killed = 0;
    // A kill within the restart policy's minimumRunMs of the last start counts as a quick
    // failure (5 in a row mark it failed): each kill waits for ext2 to have run that long.
    const ranLongEnough = (output: string) => { const uptime = /^ext2 +server +\d+ +running +\d+ +([\d.]+)s/m.exec(output); return uptime !== null && Number(uptime[1]) > 5.5; };
    const model = await workload((line) => system!.command(line), '/mnt/work', seed, 120, async () => {
      if (killed >= 3 || kills() >= 0.06) return;
      await system!.commandUntil('ps', ranLongEnough, 'ext2 running for longer than its minimumRunMs');
      killed++;
      expect(await system!.command('kill ext2')).toMatch(/^ext2: /);
      await system!.commandUntil('ps', (output) => new RegExp(`^ext2 +server +${killed + 1} +running`, 'm').test(output), `ext2 generation ${killed + 1} running`);
    });
    expect(killed, `seed ${seed}: the workload killed ext2`).toBeGreaterThan(0);
    expect(await system.command('sync')).toBe('');
    expect(await system.shutdown()).toBe(0);
    const image = new Uint8Array(readFileSync(disk));
    const check = checkImage(image);
    expect(check.status, `seed ${seed}, ${killed} kills: ${check.output}`).toBe(0);
    expect(sorted(dumpTree(image)), `seed ${seed}, ${killed} kills`).toEqual(sorted(asDumped(model)));
  }, 240_000);
});
