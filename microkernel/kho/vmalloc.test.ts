import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoOutgoing } from './outgoing.js';
import { reviveHandover } from './incoming.js';
import {
  KHO_VMALLOC_ALLOC, KHO_VMALLOC_CHUNK_ENTRIES, KHO_VMALLOC_HUGE_VMAP, decodeVmallocDescriptor, encodeVmallocDescriptor,
  preserveVmalloc, restoreVmalloc, unpreserveVmalloc, type KhoVmalloc,
} from './vmalloc.js';
import type { Ram as RamType } from '../../hal/ram.js';

const MiB = 2 ** 20;
const BASE = 0x8000_0000;
const SCRATCH = { addr: BASE + 56 * MiB, size: 8 * MiB };

function setup() {
  const ram = Ram.allocate(64 * MiB);
  const allocator = new PageFrameAllocator(ram, [{ start: BASE, end: SCRATCH.addr }]);
  const outgoing = KhoOutgoing.create(ram, allocator, [SCRATCH]);
  return { ram, allocator, outgoing };
}

// Scattered order-`order` blocks allocated from the first kernel's allocator.
function scatteredBlocks(allocator: PageFrameAllocator, count: number, order: number): number[] {
  const blocks: number[] = [];
  for (let index = 0; index < count; index++) {
    blocks.push(allocator.allocatePages(order)!);
    allocator.allocatePages(0); // a hole between blocks
  }
  return blocks.reverse();
}

function chunkEntries(ram: RamType, chunk: number): number[] {
  const entries: number[] = [];
  for (let index = 0; index < KHO_VMALLOC_CHUNK_ENTRIES; index++) {
    const value = ram.readU64Number(chunk + 8 + 8 * index);
    if (value === 0) break;
    entries.push(value);
  }
  return entries;
}

function revive(ram: RamType, outgoing: KhoOutgoing) {
  const revival = reviveHandover(ram, outgoing.prepareHandover().pointers);
  if (!revival.revived) throw new Error(revival.reason);
  return revival.handover;
}

describe('preserveVmalloc', () => {
  it('preserveVmalloc writes the chunk list: next pointer, then zero-terminated block addresses', () => {
    const { ram, allocator, outgoing } = setup();
    const blocks = scatteredBlocks(allocator, 1000, 0);
    const descriptor = preserveVmalloc(outgoing.preserver, { blocks, order: 0, flags: KHO_VMALLOC_ALLOC });
    expect(descriptor.totalPages).toBe(1000);
    const second = ram.readU64Number(descriptor.firstChunkPa);
    expect(chunkEntries(ram, descriptor.firstChunkPa)).toEqual(blocks.slice(0, 511));
    expect(chunkEntries(ram, second)).toEqual(blocks.slice(511));
    expect(ram.readU64Number(second)).toBe(0);
    for (const pa of [...blocks, descriptor.firstChunkPa, second]) expect(outgoing.preserver.isPreserved(pa, 0)).toBe(true);
  });

  it('preserveVmalloc starts a new, empty chunk as soon as one fills up (511 blocks → 2 chunks)', () => {
    const { ram, allocator, outgoing } = setup();
    const descriptor = preserveVmalloc(outgoing.preserver, { blocks: scatteredBlocks(allocator, 511, 0), order: 0, flags: KHO_VMALLOC_ALLOC });
    const second = ram.readU64Number(descriptor.firstChunkPa);
    expect(second).not.toBe(0);
    expect(chunkEntries(ram, second)).toEqual([]);
  });

  it('encodeVmallocDescriptor lays out {u64 first; u32 total_pages; u16 flags; u16 order} little-endian', () => {
    const descriptor: KhoVmalloc = { firstChunkPa: 0x8123_4000, totalPages: 0x10203, flags: 3, order: 9 };
    const bytes = encodeVmallocDescriptor(descriptor);
    expect([...bytes]).toEqual([0x00, 0x40, 0x23, 0x81, 0, 0, 0, 0, 0x03, 0x02, 0x01, 0, 3, 0, 9, 0]);
    expect(decodeVmallocDescriptor(bytes)).toEqual(descriptor);
    expect(() => decodeVmallocDescriptor(bytes.subarray(0, 15))).toThrow(/16 bytes/);
  });

  it('preserveVmalloc rejects unknown flags with EOPNOTSUPP', () => {
    const { outgoing } = setup();
    expect(() => preserveVmalloc(outgoing.preserver, { blocks: [BASE + MiB], order: 0, flags: 4 })).toThrow(/EOPNOTSUPP/);
  });

  it('preserveVmalloc undoes everything when a block cannot be preserved', () => {
    const { allocator, outgoing } = setup();
    const blocks = scatteredBlocks(allocator, 600, 0);
    blocks[550] = SCRATCH.addr; // not preservable: inside scratch
    const free = allocator.freePageCount;
    const treePages = outgoing.tree.pageCount();
    expect(() => preserveVmalloc(outgoing.preserver, { blocks, order: 0, flags: KHO_VMALLOC_ALLOC })).toThrow(/overlaps scratch/);
    for (const pa of blocks) expect(outgoing.preserver.isPreserved(pa, 0)).toBe(false);
    expect(allocator.freePageCount).toBe(free - (outgoing.tree.pageCount() - treePages));
  });

  it('unpreserveVmalloc clears every block and chunk key and frees the chunk pages', () => {
    const { allocator, outgoing } = setup();
    const blocks = scatteredBlocks(allocator, 700, 1);
    const free = allocator.freePageCount;
    const treePagesBefore = outgoing.tree.pageCount();
    const descriptor = preserveVmalloc(outgoing.preserver, { blocks, order: 1, flags: KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP });
    const treePages = outgoing.tree.pageCount();
    unpreserveVmalloc(outgoing.preserver, descriptor);
    let keys = 0;
    outgoing.tree.walk(() => { keys++; });
    expect(keys).toBe(1); // only the root FDT page remains
    // Chunk pages come back; tree pages are never freed.
    expect(allocator.freePageCount).toBe(free - (treePages - treePagesBefore));
  });
});

describe('restoreVmalloc', () => {
  it('restoreVmalloc in the next kernel returns the same blocks and frees the chunk pages', () => {
    const { ram, allocator, outgoing } = setup();
    const blocks = scatteredBlocks(allocator, 1200, 2);
    const bytes = encodeVmallocDescriptor(preserveVmalloc(outgoing.preserver, { blocks, order: 2, flags: KHO_VMALLOC_ALLOC }));
    const incoming = revive(ram, outgoing);
    const freed: number[] = [];
    const area = restoreVmalloc(incoming.restorer, decodeVmallocDescriptor(bytes), (pa) => freed.push(pa));
    expect(area).toEqual({ blocks, order: 2, flags: KHO_VMALLOC_ALLOC });
    expect(freed).toHaveLength(3);
    expect(incoming.restorer.markedOrder(blocks[0]!)).toBeUndefined();
    expect(() => restoreVmalloc(incoming.restorer, decodeVmallocDescriptor(bytes))).toThrow(/already-restored/);
  });

  it('restoreVmalloc rejects a total_pages that disagrees with the chunks, restoring nothing', () => {
    const { ram, allocator, outgoing } = setup();
    const blocks = scatteredBlocks(allocator, 10, 0);
    const descriptor = preserveVmalloc(outgoing.preserver, { blocks, order: 0, flags: KHO_VMALLOC_ALLOC });
    const incoming = revive(ram, outgoing);
    expect(() => restoreVmalloc(incoming.restorer, { ...descriptor, totalPages: 11 })).toThrow(/EUCLEAN/);
    expect(() => restoreVmalloc(incoming.restorer, { ...descriptor, totalPages: 9 })).toThrow(/more than total_pages/);
    expect(incoming.restorer.markedOrder(blocks[0]!)).toBe(0);
  });

  it('restoreVmalloc rejects a chunk pointer outside RAM with EUCLEAN', () => {
    const { ram, allocator, outgoing } = setup();
    const descriptor = preserveVmalloc(outgoing.preserver, { blocks: scatteredBlocks(allocator, 3, 0), order: 0, flags: KHO_VMALLOC_ALLOC });
    const incoming = revive(ram, outgoing);
    ram.writeU64Number(descriptor.firstChunkPa, 0x7000_0000);
    expect(() => restoreVmalloc(incoming.restorer, descriptor)).toThrow(/vmalloc chunk pointer 0x70000000/);
    expect(() => restoreVmalloc(incoming.restorer, { ...descriptor, flags: 0x10 })).toThrow(/EOPNOTSUPP/);
  });
});

