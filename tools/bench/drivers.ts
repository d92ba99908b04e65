// Driver benchmarks: the virtio-blk path and loading a driver into a running system.
//
//   blk.seq-write.1MiB.qd1/.qd4, blk.seq-read.1MiB.qd1/.qd4   MiB/s of 1 MiB requests over
//       a 64 MiB image, one at a time and 4 in flight: block service (IPC) → virtio-blk
//       driver (its own thread) → virtqueue → device model → host file; against the host
//       writing / reading the same file directly with the same request size and depth
//       (fs/promises), in the same run. Target ≥ 0.5.
//   blk.rand-read.4KiB.qd1 / .qd32          IOPS of random 4 KiB reads, one at a time and 32
//       in flight, against the host doing the same on the same file.
//   drivers.load.first-request              ms from `load` of a small out-of-tree driver
//       (validate + compile its folder, start its thread, init) to its first request served,
//       against a bare worker's start-up (new Worker → first message).
//
// The rig (driver_rig.ts) is the kernel's part without the name service; the driver and
// device model are the real ones. Writes are not flushed (neither side fsyncs).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VirtioBlock } from '../../hal/virtio/block.js';
import { VirtioEntropy } from '../../hal/virtio/rng.js';
import { blockInterface } from '../../ipc/interfaces/block.js';
import { randomInterface } from '../../ipc/interfaces/random.js';
import { loadDriverFolder } from '../driver_loader.js';
import { createDriver } from '../new_driver.js';
import { DriverRig } from './driver_rig.js';
import { durationAsync, figure, rateAsync, summarize, type Benchmark, type Figure } from './measure.js';

const MiB = 1024 * 1024;
const IMAGE_BYTES = 64 * MiB;
const SAMPLES = 7;
const RANDOM_READS = 2000;
const blockDriver = new URL('../../drivers/virtio-blk/main.js', import.meta.url).href;
const bareWorkerSource = "import { parentPort } from 'node:worker_threads'; parentPort.postMessage('ready');";

/** Positions of `count` random 4 KiB blocks in the image (the same list for both sides). */
function randomBlocks(count: number): number[] {
  let seed = 12345;
  return Array.from({ length: count }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % (IMAGE_BYTES / 4096);
  });
}

async function blockFigures(): Promise<Figure[]> {
  const directory = mkdtempSync(join(tmpdir(), 'baton-bench-blk-'));
  const image = join(directory, 'disk.img');
  writeFileSync(image, new Uint8Array(IMAGE_BYTES).fill(0x5a));
  const rig = await DriverRig.start({ module: blockDriver, name: 'virtio-blk', backend: new VirtioBlock({ path: image }), ramBytes: 128 * MiB });
  const host = await open(image, 'r+');
  try {
    const disk = rig.client(blockInterface);
    const bigs = Array.from({ length: 4 }, () => ({ kind: 'physical' as const, address: rig.buffer(MiB) }));
    const smalls = Array.from({ length: 32 }, () => ({ kind: 'physical' as const, address: rig.buffer(4096) }));
    const hostBigs = Array.from({ length: 4 }, () => new Uint8Array(MiB).fill(0xa5));
    const hostSmalls = Array.from({ length: 32 }, () => new Uint8Array(4096));
    const chunks = IMAGE_BYTES / MiB;
    const requests = 4 * chunks; // each sample passes over the image four times
    const blocks = randomBlocks(RANDOM_READS);

    /** `requests` 1 MiB requests in image order, `depth` in flight, through `transfer(slot, chunk)`. */
    const sequential = async (depth: number, transfer: (slot: number, chunk: number) => Promise<unknown>) => {
      let next = 0;
      await Promise.all(Array.from({ length: depth }, async (_, slot) => {
        while (next < requests) await transfer(slot, next++ % chunks);
      }));
    };
    const driverTransfer = (operation: 'read' | 'write') => (slot: number, chunk: number) =>
      disk[operation]({ sector: (chunk * MiB) / 512, bytes: MiB, buffer: bigs[slot]! });
    const hostTransfer = (operation: 'read' | 'write') => (slot: number, chunk: number) =>
      operation === 'read' ? host.read(hostBigs[slot]!, 0, MiB, chunk * MiB) : host.write(hostBigs[slot]!, 0, MiB, chunk * MiB);
    /** `count` random 4 KiB reads with `depth` in flight, through `readBlock(slot, block)`. */
    const randomReads = async (depth: number, readBlock: (slot: number, block: number) => Promise<unknown>) => {
      let next = 0;
      await Promise.all(Array.from({ length: depth }, async (_, slot) => {
        while (next < blocks.length) await readBlock(slot, blocks[next++]!);
      }));
    };
    const viaDriver = (slot: number, block: number) => disk.read({ sector: block * 8, bytes: 4096, buffer: smalls[slot]! });
    const viaHost = (slot: number, block: number) => host.read(hostSmalls[slot]!, 0, 4096, block * 4096);

    const figures: Figure[] = [];
    for (const operation of ['write', 'read'] as const) {
      for (const depth of [1, 4]) {
        const baseline = await rateAsync(() => sequential(depth, hostTransfer(operation)), requests, SAMPLES);
        const measured = await rateAsync(() => sequential(depth, driverTransfer(operation)), requests, SAMPLES);
        const name = `blk.seq-${operation}.1MiB.qd${depth}`;
        figures.push(figure(`${name}.host`, 'MiB/s', baseline), figure(name, 'MiB/s', measured, { name: `${name}.host`, samples: baseline }));
      }
    }
    for (const depth of [1, 32]) {
      const baseline = await rateAsync(() => randomReads(depth, viaHost), blocks.length, SAMPLES);
      const measured = await rateAsync(() => randomReads(depth, viaDriver), blocks.length, SAMPLES);
      const hostName = `blk.rand-read.4KiB.qd${depth}.host`;
      figures.push(figure(hostName, 'IOPS', baseline), figure(`blk.rand-read.4KiB.qd${depth}`, 'IOPS', measured, { name: hostName, samples: baseline }));
    }
    return figures;
  } finally {
    await host.close();
    await rig.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

/** One `load`: a fresh driver folder (so it is compiled), its thread, its init, its first request. */
async function loadOnce(root: string, index: number): Promise<number> {
  const folder = join(root, `bench-rng-${index}`);
  createDriver('bench-rng', folder);
  writeFileSync(join(folder, 'main.ts'), `// copy ${index}\n${readFileSync(join(folder, 'main.ts'), 'utf8')}`);
  const start = performance.now();
  const spec = loadDriverFolder(folder, { outputRoot: join(root, 'loaded') });
  const rig = await DriverRig.start({ module: spec.entry, name: spec.name, backend: new VirtioEntropy() });
  await rig.client(randomInterface).read({ bytes: 16 });
  const elapsed = performance.now() - start;
  await rig.stop();
  return elapsed;
}

async function bareWorkerStart(): Promise<void> {
  const worker = new Worker(bareWorkerSource, { eval: true });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
}

async function loadFigures(): Promise<Figure[]> {
  const root = mkdtempSync(join(tmpdir(), 'baton-bench-load-'));
  try {
    const baseline = await durationAsync(bareWorkerStart, SAMPLES);
    await loadOnce(root, -1); // warm-up: TypeScript itself loads once per process
    const times: number[] = [];
    for (let index = 0; index < SAMPLES; index++) times.push(await loadOnce(root, index));
    const load = summarize(times);
    return [figure('worker.bare-start', 'ms', baseline), figure('drivers.load.first-request', 'ms', load, { name: 'worker.bare-start', samples: baseline })];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [
  { name: 'drivers.virtio-blk', run: blockFigures },
  { name: 'drivers.load', run: loadFigures },
];
