// KHO core benchmarks: how fast blocks are preserved, and how fast the next kernel walks the
// tree and reserves what it names (the part of kexec downtime that grows with the handover).
//
//   kho.preserve.order0 / .order9     blocks/s into a fresh tree, dense 1 GiB / 2 GiB spans
//   kho.revive.order0 / .order9       preserved GiB/s through reviveHandover (validate + walk
//                                     + reserve + mark), 1 GiB preserved in a 2 GiB machine
//   kho.revive.64MiB.ram256MiB/2GiB   the same 64 MiB handover in a small and a large machine
//   kho.poison                        GiB of RAM per second poisoned at kexec (3/4 of a 256 MiB
//                                     machine not preserved), against one fill of all RAM
//
// Only the measured call is timed; trees, allocators and handovers are built outside it.

import { Ram } from '../../hal/ram.js';
import { PageFrameAllocator } from '../../microkernel/kho/page_allocator.js';
import { KhoOutgoing } from '../../microkernel/kho/outgoing.js';
import { reviveHandover, type HandoverPointers } from '../../microkernel/kho/incoming.js';
import { KhoPreserver } from '../../microkernel/kho/preserve.js';
import { KhoRadixTree } from '../../microkernel/kho/radix_tree.js';
import { poisonUnpreserved } from '../../microkernel/kho/poison.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const PAGE = 4096;
const SAMPLES = 7;

/** Runs `setup` then times `run` (which handles `units` of work), `SAMPLES` times after one warm-up; returns units per second. */
function timedRate<T>(setup: () => T, run: (state: T) => void, units: number, repeats = 1): Samples {
  const values: number[] = [];
  for (let sample = -1; sample < SAMPLES; sample++) {
    let elapsed = 0;
    for (let repeat = 0; repeat < repeats; repeat++) {
      const state = setup();
      const start = performance.now();
      run(state);
      elapsed += performance.now() - start;
    }
    if (sample >= 0) values.push((units * repeats) / (elapsed / 1000));
  }
  return summarize(values);
}

// RAM at the default base; table pages come from the top 64 MiB so preserved spans stay clear.
function freshPreserver(ram: Ram): KhoPreserver {
  const pages = new PageFrameAllocator(ram, [{ start: ram.end - 64 * MiB, end: ram.end }]);
  return new KhoPreserver(KhoRadixTree.create(ram, pages), pages);
}

function preserveFigures(): Figure[] {
  const ram = Ram.allocate(2 * GiB);
  const order0Blocks = GiB / PAGE;
  const order0 = timedRate(() => freshPreserver(ram), (preserver) => {
    for (let index = 0; index < order0Blocks; index++) preserver.preserveFolio(ram.base + index * PAGE, 0);
  }, order0Blocks);
  const order9Blocks = (GiB + GiB / 2) / (2 * MiB);
  const order9 = timedRate(() => freshPreserver(ram), (preserver) => {
    for (let index = 0; index < order9Blocks; index++) preserver.preserveFolio(ram.base + index * 2 * MiB, 9);
  }, order9Blocks, 32);
  return [
    figure('kho.preserve.order0', 'blocks/s', order0),
    figure('kho.preserve.order9', 'blocks/s', order9, { name: 'kho.preserve.order0', samples: order0 }),
  ];
}

// A machine whose first kernel preserved `preserved` bytes from the start of RAM as blocks
// of `order` (scratch: the top 16 MiB); returns the /chosen pointers.
function handoverOf(ram: Ram, order: number, preserved: number): HandoverPointers {
  const scratch = [{ addr: ram.end - 16 * MiB, size: 16 * MiB }];
  const allocator = new PageFrameAllocator(ram, [{ start: ram.base + preserved, end: scratch[0]!.addr }]);
  const kho = KhoOutgoing.create(ram, allocator, scratch);
  const size = PAGE * 2 ** order;
  for (let pa = ram.base; pa < ram.base + preserved; pa += size) kho.preserver.preserveFolio(pa, order);
  return kho.prepareHandover().pointers;
}

/** reviveHandover (validate, walk, reserve into a fresh allocator, mark) in preserved GiB per second. */
function reviveRate(ram: Ram, pointers: HandoverPointers, preserved: number): Samples {
  return timedRate(() => new PageFrameAllocator(ram, []), (allocator) => {
    const revival = reviveHandover(ram, pointers, { reserve: (pa, size) => allocator.reserve(pa, size) });
    if (!revival.revived) throw new Error(revival.reason);
  }, preserved / GiB);
}

function reviveFigures(): Figure[] {
  const ram0 = Ram.allocate(2 * GiB);
  const order0 = reviveRate(ram0, handoverOf(ram0, 0, GiB), GiB);
  const ram9 = Ram.allocate(2 * GiB);
  const order9 = reviveRate(ram9, handoverOf(ram9, 9, GiB), GiB);
  // The same 64 MiB of order-0 pages in a 256 MiB and a 2 GiB machine: the cost should follow
  // the number of blocks, not the size of RAM.
  const small = Ram.allocate(256 * MiB);
  const inSmall = reviveRate(small, handoverOf(small, 0, 64 * MiB), 64 * MiB);
  const large = Ram.allocate(2 * GiB);
  const inLarge = reviveRate(large, handoverOf(large, 0, 64 * MiB), 64 * MiB);
  return [
    figure('kho.revive.order0', 'GiB/s', order0),
    figure('kho.revive.order9', 'GiB/s', order9, { name: 'kho.revive.order0', samples: order0 }),
    figure('kho.revive.64MiB.ram256MiB', 'GiB/s', inSmall),
    figure('kho.revive.64MiB.ram2GiB', 'GiB/s', inLarge, { name: 'kho.revive.64MiB.ram256MiB', samples: inSmall }),
  ];
}

function poisonFigures(): Figure[] {
  const ramSize = 256 * MiB;
  const ram = Ram.allocate(ramSize);
  const allocator = new PageFrameAllocator(ram, [{ start: ram.base, end: ram.end - 16 * MiB }]);
  const kho = KhoOutgoing.create(ram, allocator, [{ addr: ram.end - 16 * MiB, size: 16 * MiB }]);
  for (let index = 0; index < (64 * MiB) / PAGE; index++) kho.preserver.preserveFolio(ram.base + 2 * index * PAGE, 0); // every other page
  const poison = timedRate(() => null, () => poisonUnpreserved(kho.tree), ramSize / GiB);
  // Last: a plain fill of all RAM (the same u32 fill poison uses) overwrites the tree too.
  const words = new Uint32Array(ram.buffer);
  const fill = timedRate(() => null, () => words.fill(0x6b6b6b6b), ramSize / GiB);
  return [
    figure('kho.fill.baseline', 'GiB/s', fill),
    figure('kho.poison', 'GiB/s', poison, { name: 'kho.fill.baseline', samples: fill }),
  ];
}

export const benchmarks: Benchmark[] = [
  { name: 'kho.preserve', run: async () => preserveFigures() },
  { name: 'kho.revive', run: async () => reviveFigures() },
  { name: 'kho.poison', run: async () => poisonFigures() },
];
