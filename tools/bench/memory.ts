// Memory server benchmarks: page allocation, mapping and translation.
//
//   memory.alloc_free.order0        one order-0 allocate + free per pair (the hot-page cache path)
//   memory.alloc_free.order0.batch  1000 allocates then 1000 frees (splits and merges in the buddy)
//   memory.alloc_free.order9        one 2 MiB block allocate + free per pair
//   memory.alloc_free.order0.journaled  as order0, with the state in a state region as the
//                                   server keeps it: every word journaled, committed per call
//   memory.alloc_free.order0.batch.journaled  as order0.batch, journaled and committed per call
//   memory.map_unmap                map + unmap of a 4 KiB page in an address space
//   memory.translate.warm           translate with every lookup hitting the translation cache
//   memory.translate.cold           translate with every lookup missing (walk + fill)
//   memory.walk                     the bare Sv32 walk (sv32.translate, no cache)
//
// Baselines measured in the same run: a simple free-list allocator (xv6 kalloc style: a stack of
// free blocks of one size, no splitting or merging), for the same order and pattern.

import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { BuddyAllocator } from '../../servers/memory/buddy.js';
import { StateRegion } from '../../servers/memory/state_region.js';
import { memoryStateBytes } from '../../ipc/interfaces/memory_state.js';
import { AddressSpace } from '../../servers/memory/address_space.js';
import { TranslationCache } from '../../servers/memory/tlb.js';
import { permissions, translate } from '../../servers/memory/sv32.js';
import { type Benchmark, type Figure, figure, rate } from './measure.js';

const RAM_SIZE = 64 << 20;
const PAIRS = 1_000_000;
const BATCH = 1000;
const BATCH_ROUNDS = 500;

/** The baseline: free blocks of one size on a stack; allocate pops, free pushes. */
class FreeListAllocator {
  readonly #free: Float64Array;
  #count = 0;

  constructor(base: number, size: number, blockSize: number) {
    this.#free = new Float64Array(Math.floor(size / blockSize));
    for (let address = base + size - blockSize; address >= base; address -= blockSize) this.#free[this.#count++] = address;
  }

  allocate(): number {
    if (this.#count === 0) throw new Error('out of memory');
    return this.#free[--this.#count]!;
  }

  free(address: number): void {
    this.#free[this.#count++] = address;
  }
}

function freshBuddy(): BuddyAllocator {
  const ram = Ram.allocate(RAM_SIZE);
  const buddy = new BuddyAllocator(ram);
  buddy.addFreeRange(ram.base, ram.size);
  return buddy;
}

/** A buddy over RAM minus its state region, journaling as the memory server does; commit() ends a call. */
function journaledBuddy(): { buddy: BuddyAllocator; commit: () => void } {
  const ram = Ram.allocate(RAM_SIZE);
  const size = memoryStateBytes(ram.base, ram.size);
  const region = StateRegion.format(ram, ram.base, size);
  const buddy = new BuddyAllocator(ram, region.storage);
  region.storage.journal.suspend();
  buddy.addFreeRange(ram.base + size, ram.size - size);
  region.storage.journal.resume();
  region.markReady();
  const journal = region.storage.journal;
  return { buddy, commit: () => journal.commit() };
}

function journaledFigures(): Figure[] {
  const figures: Figure[] = [];
  const plain = freshBuddy();
  const baseline = rate(() => {
    for (let index = 0; index < PAIRS; index++) plain.free(plain.allocate(1, 0), 1);
  }, PAIRS);
  const { buddy, commit } = journaledBuddy();
  const measured = rate(() => {
    for (let index = 0; index < PAIRS; index++) {
      const page = buddy.allocate(1, 0);
      commit();
      buddy.free(page, 1);
      commit();
    }
  }, PAIRS);
  figures.push(figure('memory.alloc_free.order0.heap', 'pairs/s', baseline));
  figures.push(figure('memory.alloc_free.order0.journaled', 'pairs/s', measured, { name: 'memory.alloc_free.order0.heap', samples: baseline }));
  const held = new Float64Array(BATCH);
  const plainBatch = freshBuddy();
  const batchBaseline = rate(() => {
    for (let round = 0; round < BATCH_ROUNDS; round++) {
      for (let index = 0; index < BATCH; index++) held[index] = plainBatch.allocate(1, 0);
      for (let index = 0; index < BATCH; index++) plainBatch.free(held[index]!, 1);
    }
  }, BATCH * BATCH_ROUNDS);
  const batch = journaledBuddy();
  const batchMeasured = rate(() => {
    for (let round = 0; round < BATCH_ROUNDS; round++) {
      for (let index = 0; index < BATCH; index++) {
        held[index] = batch.buddy.allocate(1, 0);
        batch.commit();
      }
      for (let index = 0; index < BATCH; index++) {
        batch.buddy.free(held[index]!, 1);
        batch.commit();
      }
    }
  }, BATCH * BATCH_ROUNDS);
  figures.push(figure('memory.alloc_free.order0.batch.heap', 'pairs/s', batchBaseline));
  figures.push(figure('memory.alloc_free.order0.batch.journaled', 'pairs/s', batchMeasured, { name: 'memory.alloc_free.order0.batch.heap', samples: batchBaseline }));
  return figures;
}

function allocationFigures(): Figure[] {
  const figures: Figure[] = [];
  const ram = Ram.allocate(RAM_SIZE);
  for (const order of [0, 9]) {
    const buddy = freshBuddy();
    const list = new FreeListAllocator(ram.base, ram.size, PAGE_SIZE << order);
    const baseline = rate(() => {
      for (let index = 0; index < PAIRS; index++) list.free(list.allocate());
    }, PAIRS);
    const measured = rate(() => {
      for (let index = 0; index < PAIRS; index++) buddy.free(buddy.allocate(1, order), 1);
    }, PAIRS);
    const baselineName = `memory.free_list.order${order}`;
    figures.push(figure(baselineName, 'pairs/s', baseline));
    figures.push(figure(`memory.alloc_free.order${order}`, 'pairs/s', measured, { name: baselineName, samples: baseline }));
  }
  // Batches overflow the hot-page cache, so most pages split from and merge back into larger blocks.
  const buddy = freshBuddy();
  const list = new FreeListAllocator(ram.base, ram.size, PAGE_SIZE);
  const held = new Float64Array(BATCH);
  const baseline = rate(() => {
    for (let round = 0; round < BATCH_ROUNDS; round++) {
      for (let index = 0; index < BATCH; index++) held[index] = list.allocate();
      for (let index = 0; index < BATCH; index++) list.free(held[index]!);
    }
  }, BATCH * BATCH_ROUNDS);
  const measured = rate(() => {
    for (let round = 0; round < BATCH_ROUNDS; round++) {
      for (let index = 0; index < BATCH; index++) held[index] = buddy.allocate(1, 0);
      for (let index = 0; index < BATCH; index++) buddy.free(held[index]!, 1);
    }
  }, BATCH * BATCH_ROUNDS);
  figures.push(figure('memory.free_list.order0.batch', 'pairs/s', baseline));
  figures.push(figure('memory.alloc_free.order0.batch', 'pairs/s', measured, { name: 'memory.free_list.order0.batch', samples: baseline }));
  return figures;
}

function mappingFigures(): Figure[] {
  const ram = Ram.allocate(RAM_SIZE);
  const buddy = new BuddyAllocator(ram);
  buddy.addFreeRange(ram.base, ram.size);
  const tlb = new TranslationCache();
  const context = { ram, buddy, tlb };
  const space = AddressSpace.create(context, 1, 1);
  const frame = buddy.allocate(1, 0);
  const readWrite = permissions('rwu');
  const pages = 1024;
  const mapUnmap = rate(() => {
    for (let round = 0; round < 100; round++) {
      for (let page = 0; page < pages; page++) {
        space.map(page * PAGE_SIZE, frame, readWrite);
        space.unmap(page * PAGE_SIZE);
      }
    }
  }, 100 * pages);

  // Warm: 256 pages, all resident in the cache. Cold: 16384 pages cycling through a 4096-entry
  // direct-mapped cache, so every lookup misses and walks.
  const warmPages = 256;
  const coldPages = 16384;
  for (let page = 0; page < coldPages; page++) space.map(page * PAGE_SIZE, frame, readWrite);
  const lookups = 1_000_000;
  let sink = 0;
  const warm = rate(() => {
    for (let index = 0; index < lookups; index++) sink += space.translate(((index % warmPages) * PAGE_SIZE) | 8, 'read', 'user') as number;
  }, lookups);
  const cold = rate(() => {
    for (let index = 0; index < lookups; index++) sink += space.translate(((index % coldPages) * PAGE_SIZE) | 8, 'read', 'user') as number;
  }, lookups);
  const walk = rate(() => {
    for (let index = 0; index < lookups; index++) sink += translate(ram, space.root, ((index % coldPages) * PAGE_SIZE) | 8, 'read', 'user') as number;
  }, lookups);
  if (sink === 0) throw new Error('translations returned nothing');
  const walkFigure = { name: 'memory.walk', samples: walk };
  return [
    figure('memory.map_unmap', 'pairs/s', mapUnmap),
    figure('memory.walk', 'translations/s', walk),
    figure('memory.translate.cold', 'translations/s', cold, walkFigure),
    figure('memory.translate.warm', 'translations/s', warm, { name: 'memory.translate.cold', samples: cold }),
  ];
}

export const benchmarks: Benchmark[] = [
  {
    name: 'memory',
    async run(): Promise<Figure[]> {
      return [...allocationFigures(), ...journaledFigures(), ...mappingFigures()];
    },
  },
];
