// Files: the VFS (its page cache in RAM pages) over the ext2 server's handlers over an image
// file, against the host doing the same in the same run.
//
// The servers run in this thread, called as their clients call them (no IPC hop, no
// virtio-blk: the ext2 store is the mkfs tool's, positioned reads and writes on a host image
// file, flush as fsync). ext2 commits and flushes each change before it answers, as the
// server does ('every-operation').
//
//   fs.seq-write.1MiB / .host   64 MiB in 1 MiB writes, then fsync: MiB/s
//   fs.cold-read.1MiB / .host   64 MiB in 1 MiB reads from a fresh VFS and a fresh ext2
//                               mount (both caches empty; the host's page cache holds the
//                               image, as it holds the host's own file, so the host figure
//                               is its page-cache read)
//   fs.warm-read.1MiB / .host   the same read again, from the VFS's page cache
//   fs.small.{create,stat,unlink}.{ext2,tmpfs} / .host   10 000 empty files: ops/s, the host
//                               in /dev/shm (its own tmpfs)

import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ram } from '../../hal/ram.js';
import type { HandlersOf } from '../../ipc/define.js';
import type { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { OpenFlags } from '../../ipc/interfaces/fs.js';
import { Ext2Filesystem } from '../../servers/ext2/filesystem.js';
import { formatFilesystem } from '../../servers/ext2/format.js';
import { ext2Handlers } from '../../servers/ext2/service.js';
import { RamRangePages } from '../../servers/lib/pages.js';
import { tmpfsHandlers } from '../../servers/tmpfs/service.js';
import { Tmpfs } from '../../servers/tmpfs/tmpfs.js';
import { directClient } from '../../servers/vfs/test_support.js';
import { Vfs } from '../../servers/vfs/vfs.js';
import { ImageFileStore } from '../mkfs/image_file_store.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';

const MiB = 1024 * 1024;
const FILE_BYTES = 64 * MiB;
const REQUEST_BYTES = MiB;
const IMAGE_BYTES = 160 * MiB;
const SMALL_FILES = 10_000;
const LARGE_SAMPLES = 5;
const SMALL_SAMPLES = 3;
const HOLDER = 'bench';
const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC } = OpenFlags;

type Handlers = HandlersOf<typeof filesystemInterface>;

/** A VFS with `handlers` at "/" and a page cache big enough for the whole file. */
async function vfsOver(ram: Ram, handlers: Handlers): Promise<Vfs> {
  const vfs = new Vfs({
    pages: new RamRangePages(ram, ram.base, ram.base + 96 * MiB),
    cachePages: (80 * MiB) / 4096,
    dirtyFileLimit: 256,
    connectFilesystem: () => directClient(handlers, new Map()),
  });
  await vfs.mount({ path: '/', service: 'bench' });
  return vfs;
}

const mountExt2 = (store: ImageFileStore) => Ext2Filesystem.mount(store, { access: 'read-write', commit: 'every-operation' });

function timedRate(bytesOrOperations: number, start: number): number {
  return bytesOrOperations / ((performance.now() - start) / 1000);
}

async function vfsWrite(vfs: Vfs, path: string, data: Uint8Array): Promise<number> {
  const start = performance.now();
  const { description } = await vfs.open(HOLDER, { path, flags: O_WRONLY | O_CREAT | O_TRUNC, permissions: 0o644 });
  for (let offset = 0; offset < FILE_BYTES; offset += REQUEST_BYTES) {
    await vfs.write(HOLDER, { description, data: data.subarray(offset, offset + REQUEST_BYTES) });
  }
  await vfs.fsync(HOLDER, { description });
  await vfs.close(HOLDER, { description });
  return timedRate(FILE_BYTES / MiB, start);
}

async function vfsRead(vfs: Vfs, path: string, expected: Uint8Array): Promise<number> {
  const start = performance.now();
  const { description } = await vfs.open(HOLDER, { path, flags: O_RDONLY });
  let total = 0;
  for (;;) {
    const { data } = await vfs.read(HOLDER, { description, length: REQUEST_BYTES });
    if (data.length === 0) break;
    if (data[0] !== expected[total]) throw new Error(`fs bench: byte ${total} read back wrong`);
    total += data.length;
  }
  await vfs.close(HOLDER, { description });
  const rate = timedRate(FILE_BYTES / MiB, start);
  if (total !== FILE_BYTES) throw new Error(`fs bench: read ${total} bytes of ${FILE_BYTES}`);
  return rate;
}

function hostWrite(path: string, data: Uint8Array): number {
  const start = performance.now();
  const descriptor = openSync(path, 'w');
  for (let offset = 0; offset < FILE_BYTES; offset += REQUEST_BYTES) writeSync(descriptor, data, offset, REQUEST_BYTES);
  fsyncSync(descriptor);
  closeSync(descriptor);
  return timedRate(FILE_BYTES / MiB, start);
}

function hostRead(path: string): number {
  const start = performance.now();
  const descriptor = openSync(path, 'r');
  const buffer = new Uint8Array(REQUEST_BYTES);
  let total = 0;
  for (;;) {
    const count = readSync(descriptor, buffer, 0, REQUEST_BYTES, null);
    if (count === 0) break;
    total += count;
  }
  closeSync(descriptor);
  if (total !== FILE_BYTES) throw new Error(`fs bench: host read ${total} bytes`);
  return timedRate(FILE_BYTES / MiB, start);
}

async function runLarge(work: string): Promise<Figure[]> {
  const imagePath = join(work, 'disk.img');
  writeFileSync(imagePath, new Uint8Array(0));
  rmSync(imagePath);
  const descriptor = openSync(imagePath, 'w');
  writeSync(descriptor, new Uint8Array(1), 0, 1, IMAGE_BYTES - 1);
  closeSync(descriptor);
  const store = new ImageFileStore(imagePath);
  await formatFilesystem(store, { uuid: new Uint8Array(16).fill(7), now: Math.floor(Date.now() / 1000), blockBytes: 4096, label: 'bench' });
  const ram = Ram.allocate(128 * MiB);
  const data = new Uint8Array(FILE_BYTES);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
  const hostPath = join(work, 'host.bin');
  const values = { write: [] as number[], cold: [] as number[], warm: [] as number[], hostWrite: [] as number[], hostRead: [] as number[], hostWarm: [] as number[] };
  try {
    for (let round = 0; round <= LARGE_SAMPLES; round++) {
      // Round 0 warms up both sides and is not counted.
      const keep = (list: number[], value: number) => { if (round > 0) list.push(value); };
      let filesystem = await mountExt2(store);
      let vfs = await vfsOver(ram, ext2Handlers(filesystem));
      keep(values.write, await vfsWrite(vfs, '/big', data));
      await vfs.umount({ path: '/' }).catch(() => undefined);
      await filesystem.unmount();
      keep(values.hostWrite, hostWrite(hostPath, data));

      filesystem = await mountExt2(store);
      vfs = await vfsOver(ram, ext2Handlers(filesystem));
      keep(values.cold, await vfsRead(vfs, '/big', data));
      keep(values.hostRead, hostRead(hostPath));
      keep(values.warm, await vfsRead(vfs, '/big', data));
      keep(values.hostWarm, hostRead(hostPath));
      await vfs.umount({ path: '/' }).catch(() => undefined);
      await filesystem.unmount();
    }
  } finally {
    store.close();
  }
  const pair = (name: string, ours: number[], host: number[]): Figure[] => {
    const baseline = { name: `${name}.host`, samples: summarize(host) };
    return [figure(baseline.name, 'MiB/s', baseline.samples), figure(name, 'MiB/s', summarize(ours), baseline)];
  };
  return [
    ...pair('fs.seq-write.1MiB', values.write, values.hostWrite),
    ...pair('fs.cold-read.1MiB', values.cold, values.hostRead),
    ...pair('fs.warm-read.1MiB', values.warm, values.hostWarm),
  ];
}

interface SmallRates { create: number; stat: number; unlink: number }

async function vfsSmall(vfs: Vfs, directory: string): Promise<SmallRates> {
  const name = (i: number) => `${directory}/f${i}`;
  let start = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) {
    const { description } = await vfs.open(HOLDER, { path: name(i), flags: O_WRONLY | O_CREAT, permissions: 0o644 });
    await vfs.close(HOLDER, { description });
  }
  const create = timedRate(SMALL_FILES, start);
  start = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) await vfs.stat(HOLDER, { path: name(i) });
  const stat = timedRate(SMALL_FILES, start);
  start = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) await vfs.unlink(HOLDER, { path: name(i) });
  return { create, stat, unlink: timedRate(SMALL_FILES, start) };
}

function hostSmall(directory: string): SmallRates {
  const name = (i: number) => join(directory, `f${i}`);
  let start = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) closeSync(openSync(name(i), 'w', 0o644));
  const create = timedRate(SMALL_FILES, start);
  start = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) statSync(name(i));
  const stat = timedRate(SMALL_FILES, start);
  start = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) unlinkSync(name(i));
  return { create, stat, unlink: timedRate(SMALL_FILES, start) };
}

async function runSmall(work: string): Promise<Figure[]> {
  const imagePath = join(work, 'small.img');
  const descriptor = openSync(imagePath, 'w');
  writeSync(descriptor, new Uint8Array(1), 0, 1, 64 * MiB - 1);
  closeSync(descriptor);
  const store = new ImageFileStore(imagePath);
  await formatFilesystem(store, { uuid: new Uint8Array(16).fill(9), now: Math.floor(Date.now() / 1000), blockBytes: 4096, label: 'small' });
  const ram = Ram.allocate(128 * MiB);
  const tmpfs = new Tmpfs({ pages: new RamRangePages(ram, ram.base + 96 * MiB, ram.end), sizeBytes: 16 * MiB, inodeLimit: SMALL_FILES + 16, label: 'bench' });
  const hostDirectory = mkdtempSync(join('/dev/shm', 'baton-bench-'));
  const results = { ext2: [] as SmallRates[], tmpfs: [] as SmallRates[], host: [] as SmallRates[] };
  try {
    const filesystem = await mountExt2(store);
    const onExt2 = await vfsOver(ram, ext2Handlers(filesystem));
    const onTmpfs = await vfsOver(ram, tmpfsHandlers(tmpfs));
    await onExt2.mkdir(HOLDER, { path: '/d' });
    await onTmpfs.mkdir(HOLDER, { path: '/d' });
    for (let round = 0; round < SMALL_SAMPLES; round++) {
      results.ext2.push(await vfsSmall(onExt2, '/d'));
      results.tmpfs.push(await vfsSmall(onTmpfs, '/d'));
      results.host.push(hostSmall(hostDirectory));
    }
    await filesystem.unmount();
  } finally {
    store.close();
    rmSync(hostDirectory, { recursive: true, force: true });
  }
  const figures: Figure[] = [];
  for (const operation of ['create', 'stat', 'unlink'] as const) {
    const baseline = { name: `fs.small.${operation}.host`, samples: summarize(results.host.map((rates) => rates[operation])) };
    figures.push(figure(baseline.name, 'ops/s', baseline.samples));
    for (const kind of ['ext2', 'tmpfs'] as const) {
      const samples: Samples = summarize(results[kind].map((rates) => rates[operation]));
      figures.push(figure(`fs.small.${operation}.${kind}`, 'ops/s', samples, baseline));
    }
  }
  return figures;
}

async function runFs(): Promise<Figure[]> {
  const work = mkdtempSync(join(tmpdir(), 'baton-bench-fs-'));
  mkdirSync(work, { recursive: true });
  try {
    return [...(await runLarge(work)), ...(await runSmall(work))];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [{ name: 'fs', run: runFs }];
