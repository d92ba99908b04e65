import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Ram } from '../../hal/ram.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoRadixTree } from './radix_tree.js';
import { encodeKey } from './key.js';
import { splitIntoBlocks } from './block_split.js';
import { isKhoError } from './errors.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const PAGE = 4096;

function newTree(ramSize = 16 * MiB): { ram: Ram; pages: PageFrameAllocator; tree: KhoRadixTree } {
  const ram = Ram.allocate(ramSize);
  const pages = new PageFrameAllocator(ram);
  return { ram, pages, tree: KhoRadixTree.create(ram, pages) };
}

function walkAll(tree: KhoRadixTree): { pa: number; order: number }[] {
  const blocks: { pa: number; order: number }[] = [];
  tree.walk((pa, order) => { blocks.push({ pa, order }); });
  return blocks;
}

describe('KhoRadixTree', () => {
  it('KhoRadixTree.create starts with only the zeroed root page', () => {
    const { ram, tree } = newTree();
    expect(tree.pageCount()).toBe(1);
    expect(ram.read(tree.rootPa, PAGE).every((byte) => byte === 0)).toBe(true);
    expect(walkAll(tree)).toEqual([]);
  });

  it('KhoRadixTree.add writes example A byte-exact: LE table pointers and leaf byte 0x68A mask 0x40', () => {
    const { ram, tree } = newTree();
    tree.add(0x1_2345_6000, 0);
    let node = tree.rootPa;
    const path = [2, 0, 0, 0, 36];
    for (const index of path) {
      const entry = ram.readU64(node + 8 * index);
      expect(entry).not.toBe(0n);
      expect(Number(entry) % PAGE).toBe(0);
      // Every other entry of the table is empty.
      const others = ram.read(node, PAGE);
      others.fill(0, 8 * index, 8 * index + 8);
      expect(others.every((byte) => byte === 0)).toBe(true);
      node = Number(entry);
    }
    const leaf = ram.read(node, PAGE);
    expect(leaf[0x68a]).toBe(0x40);
    leaf[0x68a] = 0;
    expect(leaf.every((byte) => byte === 0)).toBe(true);
    expect(tree.pageCount()).toBe(6);
  });

  it('KhoRadixTree.add of example B sets leaf bit 512 under root index 0, L4 index 2', () => {
    const { ram, tree } = newTree();
    tree.add(0x4000_0000, 9);
    const l4 = Number(ram.readU64(tree.rootPa));
    const l3 = Number(ram.readU64(l4 + 8 * 2));
    const l2 = Number(ram.readU64(l3));
    const l1 = Number(ram.readU64(l2));
    const leaf = Number(ram.readU64(l1));
    expect(ram.readU8(leaf + 64)).toBe(1);
  });

  it('KhoRadixTree.add and delete are idempotent single bits, and delete never frees pages', () => {
    const { tree } = newTree();
    tree.add(0x8010_0000, 0);
    tree.add(0x8010_0000, 0);
    expect(walkAll(tree)).toEqual([{ pa: 0x8010_0000, order: 0 }]);
    expect(tree.has(0x8010_0000, 0)).toBe(true);
    expect(tree.has(0x8010_0000, 1)).toBe(false);
    const pages = tree.pageCount();
    expect(tree.delete(0x8010_0000, 0)).toBe(true);
    expect(tree.delete(0x8010_0000, 0)).toBe(false);
    expect(tree.delete(0x9000_0000, 3)).toBe(false);
    expect(walkAll(tree)).toEqual([]);
    expect(tree.pageCount()).toBe(pages);
  });

  it('KhoRadixTree.walk visits blocks in ascending key order and exactly the added set', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 20 })), { maxLength: 60 }), (entries) => {
      const { tree } = newTree(8 * MiB);
      const expected = new Map<number, { pa: number; order: number }>();
      for (const [order, index] of entries) {
        const pa = index * PAGE * 2 ** order;
        tree.add(pa, order);
        expected.set(encodeKey(pa, order), { pa, order });
      }
      const walked = walkAll(tree);
      const keys = walked.map((block) => encodeKey(block.pa, block.order));
      expect(keys).toEqual([...expected.keys()].sort((a, b) => a - b));
      expect(new Set(keys).size).toBe(keys.length);
    }), { numRuns: 30 });
  });

  it('KhoRadixTree.walk stops when the visitor returns true', () => {
    const { tree } = newTree();
    for (let index = 0; index < 10; index++) tree.add(0x8000_0000 + index * PAGE, 0);
    let seen = 0;
    expect(tree.walk(() => ++seen === 3)).toBe(true);
    expect(seen).toBe(3);
  });

  it('KhoRadixTree.walk decodes the high orders that share the leaf under key prefix 0', () => {
    const { tree } = newTree();
    tree.add(0, 52);
    tree.add(0, 45);
    tree.add(2 ** 50, 38);
    expect(walkAll(tree)).toEqual([{ pa: 0, order: 52 }, { pa: 0, order: 45 }, { pa: 2 ** 50, order: 38 }]);
    expect(tree.blockCountsByOrder()[45]).toBe(1);
  });

  describe('KHO-ABI.md §8 tree page counts', () => {
    it('(a) 1 GiB of order-0 pages packed in one aligned span: 13 pages', () => {
      const { tree } = newTree();
      for (let page = 0; page < GiB / PAGE; page++) tree.add(GiB + page * PAGE, 0);
      expect(tree.pageCount()).toBe(13);
      expect(tree.blockCountsByOrder()[0]).toBe(262_144);
    });

    it('(a) the same pages spread over 64 GiB from 4 GiB: 518 pages', () => {
      const { tree } = newTree();
      for (let page = 0; page < GiB / PAGE; page++) tree.add(4 * GiB + page * 256 * 1024, 0);
      expect(tree.pageCount()).toBe(518);
    });

    it('(a) the same pages spread over 1 TiB from 4 GiB: 8213 pages', () => {
      const { tree } = newTree(40 * MiB);
      for (let page = 0; page < GiB / PAGE; page++) tree.add(4 * GiB + page * 4 * MiB, 0);
      expect(tree.pageCount()).toBe(8213);
    });

    it('(b) 1 GiB as one order-18 block: 6 pages; (b\') offset by 4 KiB: 19 keys, 71 pages', () => {
      const aligned = newTree().tree;
      for (const block of splitIntoBlocks(0xc000_0000, GiB / PAGE)) aligned.add(block.pa, block.order);
      expect(aligned.pageCount()).toBe(6);
      const offset = newTree().tree;
      const blocks = splitIntoBlocks(0xc000_0000 + PAGE, GiB / PAGE);
      for (const block of blocks) offset.add(block.pa, block.order);
      expect(blocks).toHaveLength(19);
      expect(offset.pageCount()).toBe(71);
    });

    it('(c) 64 GiB of contiguous aligned 2 MiB folios: 6 pages; one per 64 MiB over 2 TiB: 37 pages', () => {
      const packed = newTree().tree;
      for (let folio = 0; folio < 32_768; folio++) packed.add(64 * GiB + folio * 2 * MiB, 9);
      expect(packed.pageCount()).toBe(6);
      expect(packed.blockCountsByOrder()[9]).toBe(32_768);
      const spread = newTree().tree;
      for (let folio = 0; folio < 32_768; folio++) spread.add(folio * 64 * MiB, 9);
      expect(spread.pageCount()).toBe(37);
    });
  });

  it('KhoRadixTree.add rolls back the new branch and frees its pages when a page cannot be allocated', () => {
    const ram = Ram.allocate(4 * MiB);
    const pages = new PageFrameAllocator(ram, [{ start: ram.base, end: ram.base + 4 * PAGE }]);
    const tree = KhoRadixTree.create(ram, pages);
    expect(pages.freePageCount).toBe(3);
    let error: unknown;
    try { tree.add(0x8000_0000, 0); } catch (caught) { error = caught; }
    expect(isKhoError(error, 'ENOMEM')).toBe(true);
    expect(pages.freePageCount).toBe(3);
    expect(ram.read(tree.rootPa, PAGE).every((byte) => byte === 0)).toBe(true);
    expect(tree.pageCount()).toBe(1);
  });

  it('KhoRadixTree.add rolls back when the page source throws, and rethrows its error', () => {
    const ram = Ram.allocate(4 * MiB);
    const backing = new PageFrameAllocator(ram);
    let budget = 3;
    const tree = KhoRadixTree.create(ram, {
      allocatePage: () => { if (budget-- <= 0) throw new Error('page source failed'); return backing.allocatePage(); },
      freePage: (pa) => backing.freePage(pa),
    });
    const freeBefore = backing.freePageCount;
    expect(() => tree.add(0x8000_0000, 0)).toThrow('page source failed');
    expect(backing.freePageCount).toBe(freeBefore);
    expect(tree.pageCount()).toBe(1);
  });

  it('KhoRadixTree.open reads a tree written by another instance', () => {
    const { ram, tree } = newTree();
    tree.add(0x8020_0000, 9);
    tree.add(0x8000_1000, 0);
    const reopened = KhoRadixTree.open(ram, tree.rootPa);
    expect(walkAll(reopened)).toEqual([{ pa: 0x8020_0000, order: 9 }, { pa: 0x8000_1000, order: 0 }]);
    expect(() => reopened.add(0x8000_2000, 0)).toThrow(/read-only/);
    expect(() => reopened.delete(0x8000_1000, 0)).toThrow(/read-only/);
  });

  it('KhoRadixTree.walk throws EUCLEAN for a child pointer outside RAM or misaligned', () => {
    const { ram, tree } = newTree();
    tree.add(0x8000_1000, 0);
    ram.writeU64(tree.rootPa + 8 * 2, 0x7000_0000n);
    let error: unknown;
    try { tree.walk(() => {}); } catch (caught) { error = caught; }
    expect(isKhoError(error, 'EUCLEAN')).toBe(true);
    ram.writeU64(tree.rootPa + 8 * 2, BigInt(ram.base + 12));
    expect(() => tree.pageCount()).toThrow(/not a page inside RAM/);
  });

  it('KhoRadixTree.walk throws EUCLEAN for root entries that would mean keys ≥ 2^53', () => {
    const { ram, tree } = newTree();
    tree.add(0x8000_1000, 0);
    ram.writeU64(tree.rootPa + 8 * 7, ram.readU64(tree.rootPa + 8 * 2));
    expect(() => tree.walk(() => {})).toThrow(/root entry 7/);
  });

  it('KhoRadixTree.walk terminates on a tree whose tables point back at themselves', () => {
    const { ram, tree } = newTree();
    tree.add(0x8000_1000, 0);
    // Make every entry of the L2 table point to the L2 table itself: a dense cycle.
    const l2 = Number(ram.readU64(Number(ram.readU64(Number(ram.readU64(tree.rootPa + 16))))));
    for (let index = 0; index < 512; index++) ram.writeU64(l2 + 8 * index, BigInt(l2));
    expect(() => tree.walk(() => {})).toThrow(/more pages than RAM/);
  });

  it('KhoRadixTree.open rejects a root that is not a RAM page', () => {
    const ram = Ram.allocate(4 * MiB);
    expect(() => KhoRadixTree.open(ram, 0)).toThrow(/not a page inside RAM/);
    expect(() => KhoRadixTree.open(ram, ram.base + 100)).toThrow(/EUCLEAN/);
  });
});
