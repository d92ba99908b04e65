import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoRadixTree } from './radix_tree.js';
import { KhoPreserver, getOrder } from './preserve.js';
import { isKhoError, type KhoErrorCode } from './errors.js';

const MiB = 2 ** 20;
const PAGE = 4096;

function setup(scratch = [{ addr: 0x8300_0000, size: 2 * MiB }]) {
  const ram = Ram.allocate(64 * MiB);
  const allocator = new PageFrameAllocator(ram, [{ start: ram.base, end: 0x8300_0000 }]);
  const tree = KhoRadixTree.create(ram, allocator);
  return { ram, allocator, tree, preserver: new KhoPreserver(tree, allocator, scratch) };
}

function codeOf(action: () => unknown): KhoErrorCode | undefined {
  try {
    action();
  } catch (error) {
    if (isKhoError(error)) return error.code;
    throw error;
  }
  return undefined;
}

function keys(tree: KhoRadixTree): string[] {
  const found: string[] = [];
  tree.walk((pa, order) => { found.push(`${pa.toString(16)}/${order}`); });
  return found;
}

describe('KhoPreserver', () => {
  it('preserveFolio adds exactly one key and unpreserveFolio clears it', () => {
    const { tree, preserver } = setup();
    preserver.preserveFolio(0x8040_0000, 10);
    preserver.preserveFolio(0x8040_0000, 10);
    expect(keys(tree)).toEqual(['80400000/10']);
    expect(preserver.isPreserved(0x8040_0000, 10)).toBe(true);
    expect(preserver.unpreserveFolio(0x8040_0000, 10)).toBe(true);
    expect(keys(tree)).toEqual([]);
  });

  it('preserveFolio rejects misaligned, outside-RAM and scratch-overlapping blocks with EINVAL', () => {
    const { tree, preserver } = setup();
    expect(codeOf(() => preserver.preserveFolio(0x8000_1000, 1))).toBe('EINVAL');
    expect(codeOf(() => preserver.preserveFolio(0x7000_0000, 0))).toBe('EINVAL');
    expect(codeOf(() => preserver.preserveFolio(0x83ff_f000 + 2 * PAGE * 1024, 0))).toBe('EINVAL');
    expect(codeOf(() => preserver.preserveFolio(0x8300_1000, 0))).toBe('EINVAL');
    expect(codeOf(() => preserver.preserveFolio(0x8200_0000, 13))).toBe('EINVAL'); // 32 MiB block reaches into scratch
    expect(keys(tree)).toEqual([]);
  });

  it('preservePages splits into maximal aligned blocks and unpreservePages clears the same split', () => {
    const { tree, preserver } = setup([]);
    preserver.preservePages(0x8000_3000, 13);
    expect(keys(tree)).toEqual(['80008000/3', '80004000/2', '80003000/0']);
    preserver.unpreservePages(0x8000_3000, 13);
    expect(keys(tree)).toEqual([]);
  });

  it('preservePages rejects ranges that overlap scratch or leave RAM, adding nothing', () => {
    const { tree, preserver } = setup();
    expect(codeOf(() => preserver.preservePages(0x82ff_f000, 2))).toBe('EINVAL');
    expect(codeOf(() => preserver.preservePages(0x83ff_f000, 2))).toBe('EINVAL');
    expect(codeOf(() => preserver.preservePages(0x8000_0001, 1))).toBe('EINVAL');
    expect(codeOf(() => preserver.preservePages(0x8000_0000, -1))).toBe('EINVAL');
    expect(keys(tree)).toEqual([]);
  });

  it('preservePages removes the blocks it added when the tree runs out of pages', () => {
    const ram = Ram.allocate(64 * MiB);
    // Root + one branch of 5 pages for order 0's path, nothing more.
    const allocator = new PageFrameAllocator(ram, [{ start: ram.base, end: ram.base + 6 * PAGE }]);
    const tree = KhoRadixTree.create(ram, allocator);
    const preserver = new KhoPreserver(tree, allocator);
    // 0x8010_1000 + 3 pages splits as order 0 (root index 2) then order 1 (root index 1, needs 5 new pages).
    expect(codeOf(() => preserver.preservePages(0x8010_1000, 3))).toBe('ENOMEM');
    expect(keys(tree)).toEqual([]);
  });

  it('allocPreserve returns a zeroed, preserved folio of get_order(size) and unpreserveFree releases it', () => {
    const { ram, allocator, tree, preserver } = setup();
    const free = allocator.freePageCount;
    const pa = preserver.allocPreserve(3 * PAGE + 1);
    expect(preserver.allocationOrder(pa)).toBe(2);
    expect(pa % (4 * PAGE)).toBe(0);
    expect(ram.read(pa, 4 * PAGE).every((byte) => byte === 0)).toBe(true);
    expect(keys(tree)).toEqual([`${pa.toString(16)}/2`]);
    preserver.unpreserveFree(pa);
    expect(keys(tree)).toEqual([]);
    expect(allocator.freePageCount).toBe(free - tree.pageCount() + 1);
    expect(codeOf(() => preserver.unpreserveFree(pa))).toBe('EINVAL');
  });

  it('allocPreserve rejects size 0 (EINVAL), above MAX_PAGE_ORDER (E2BIG) and exhaustion (ENOMEM)', () => {
    const { preserver } = setup();
    expect(codeOf(() => preserver.allocPreserve(0))).toBe('EINVAL');
    expect(codeOf(() => preserver.allocPreserve(4 * MiB + 1))).toBe('E2BIG');
    expect(preserver.allocPreserve(4 * MiB)).toBeGreaterThan(0);
    const ram = Ram.allocate(4 * MiB);
    const small = new PageFrameAllocator(ram, [{ start: ram.base, end: ram.base + 8 * PAGE }]);
    const tiny = new KhoPreserver(KhoRadixTree.create(ram, small), small);
    expect(codeOf(() => tiny.allocPreserve(8 * PAGE))).toBe('ENOMEM');
  });

  it('getOrder rounds up to a power-of-two number of pages', () => {
    expect([1, 4096, 4097, 8192, 8193, 4 * MiB].map(getOrder)).toEqual([0, 0, 1, 1, 2, 10]);
  });
});
