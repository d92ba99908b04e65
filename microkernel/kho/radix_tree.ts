// The kho-v2 preserved-memory radix tree, living in guest RAM (KHO-ABI.md §2, §3).
//
//   root (L5 table) ─► L4 ─► L3 ─► L2 ─► L1 table ─► leaf bitmap (level 0)
//
// Every node is one 4 KiB page. A table is 512 little-endian u64 entries, each the raw
// physical address of the child page, 0 = empty. A leaf is 32768 bits; bit b (byte b>>3,
// mask 1<<(b&7)) set = one preserved block whose key has that bit as its low 15 bits.
// Nothing about the tree is kept outside RAM: a tree is its root's physical address, so a
// new kernel (or a restarted server) opens it again with KhoRadixTree.open.
//
// Reading a tree handed over by someone else is defensive: every child pointer must be a
// page-aligned page inside RAM, keys must decode to safe addresses, and a walk visits at
// most as many pages as RAM has; otherwise KhoError('EUCLEAN') is thrown.

import { PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { KhoError } from './errors.js';
import {
  KHO_BITMAP_SIZE_LOG2, KHO_LEAF_BITS, KHO_ORDER_0_LOG2, KHO_TABLE_ENTRIES, KHO_TABLE_SIZE_LOG2,
  KHO_TREE_MAX_DEPTH, blockSize, decodeKey, encodeKey, fls, tableIndex,
} from './key.js';

/** Where the tree gets its table and leaf pages. */
export interface TablePageSource {
  /** Physical address of a zeroed 4 KiB page, or null when memory is exhausted (may also throw). */
  allocatePage(): number | null;
  freePage(pa: number): void;
}

/** Called once per preserved block in ascending key order; return true to stop the walk. */
export type WalkVisitor = (pa: number, order: number) => boolean | void;

const TOP_LEVEL = KHO_TREE_MAX_DEPTH - 1; // 5
const WORDS_PER_PAGE = PAGE_SIZE / 4;
const TWO_POW_32 = 2 ** 32;
// Root indices ≥ 4 would mean keys ≥ 2^53, which no (pa, order) encodes.
const ROOT_INDEX_LIMIT = 2 ** (KHO_ORDER_0_LOG2 + 1 - levelShift(TOP_LEVEL));

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function levelShift(level: number): number {
  return (level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2;
}

function popcount32(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export class KhoRadixTree {
  readonly ram: Ram;
  readonly rootPa: number;
  readonly #words: Uint32Array;
  readonly #pages: TablePageSource | null;

  private constructor(ram: Ram, rootPa: number, pages: TablePageSource | null) {
    if (!littleEndianHost) throw new Error('the KHO radix tree needs a little-endian host');
    this.ram = ram;
    this.rootPa = rootPa;
    this.#words = new Uint32Array(ram.buffer);
    this.#pages = pages;
  }

  /** A new, empty tree: allocates the (zeroed) root page from `pages`. Throws ENOMEM. */
  static create(ram: Ram, pages: TablePageSource): KhoRadixTree {
    const tree = new KhoRadixTree(ram, 0, pages);
    return new KhoRadixTree(ram, tree.#allocateTablePage(), pages);
  }

  /**
   * Opens the tree rooted at `rootPa` (written by a previous kernel or server instance).
   * Without `pages` the tree is read-only (add and delete throw EINVAL). Throws EUCLEAN if the root is not a
   * RAM page.
   */
  static open(ram: Ram, rootPa: number, pages: TablePageSource | null = null): KhoRadixTree {
    const tree = new KhoRadixTree(ram, rootPa, pages);
    tree.#checkNode(rootPa, 'root');
    return tree;
  }

  /**
   * Marks block (pa, order) preserved, allocating missing tables. Idempotent. If a page
   * cannot be allocated, frees the pages this call allocated, unlinks the new branch and
   * throws ENOMEM (or rethrows what the page source threw).
   */
  add(pa: number, order: number): void {
    const key = encodeKey(pa, order);
    const pages = this.#checkWritable();
    let node = this.rootPa;
    for (let level = TOP_LEVEL; level >= 1; level--) {
      const entryWord = this.#wordIndex(node) + 2 * tableIndex(key, level);
      const child = this.#readEntry(entryWord, level);
      if (child === 0) {
        node = this.#addBranch(pages, key, level, entryWord);
        break;
      }
      node = child;
    }
    const bit = key % KHO_LEAF_BITS;
    this.#words[this.#wordIndex(node) + (bit >>> 5)] |= 1 << (bit & 31);
  }

  // Allocates the missing tables from `level` down to the leaf for `key`, the first one
  // linked at `anchorWord`; returns the leaf. On failure frees them and unlinks the branch.
  #addBranch(pages: TablePageSource, key: number, level: number, anchorWord: number): number {
    const allocated: number[] = [];
    let entryWord = anchorWord;
    try {
      for (let current = level; ; current--) {
        const child = this.#allocateTablePage();
        allocated.push(child);
        this.#writeEntry(entryWord, child);
        if (current === 1) return child;
        entryWord = this.#wordIndex(child) + 2 * tableIndex(key, current - 1);
      }
    } catch (error) {
      for (const page of allocated) pages.freePage(page);
      this.#writeEntry(anchorWord, 0);
      throw error;
    }
  }

  /**
   * Clears block (pa, order). Returns whether it was preserved (Linux warns and returns when
   * the path is missing). Empty tables and leaves are never freed.
   */
  delete(pa: number, order: number): boolean {
    this.#checkWritable();
    const location = this.#locate(encodeKey(pa, order));
    if (location < 0) return false;
    const word = Math.floor(location / 32);
    const mask = 1 << (location % 32);
    const wasSet = (this.#words[word]! & mask) !== 0;
    this.#words[word] = this.#words[word]! & ~mask;
    return wasSet;
  }

  /** Whether block (pa, order) is preserved (that exact key; other orders do not count). */
  has(pa: number, order: number): boolean {
    const location = this.#locate(encodeKey(pa, order));
    if (location < 0) return false;
    return (this.#words[Math.floor(location / 32)]! & (1 << (location % 32))) !== 0;
  }

  /**
   * Calls `visit(pa, order)` for every preserved block in ascending key order (higher orders
   * first, then by address). Returns true if the visitor stopped the walk. Throws EUCLEAN on
   * a corrupt tree; blocks before the corruption have already been visited.
   */
  walk(visit: WalkVisitor): boolean {
    const budget = { pages: this.#pageBudget() };
    return this.#walkTable(this.rootPa, TOP_LEVEL, 0, visit, budget);
  }

  /** Calls `visit(pa, level)` for every page of the tree, root (level 5) included, leaves are level 0. */
  forEachPage(visit: (pa: number, level: number) => void): void {
    const budget = { pages: this.#pageBudget() };
    const descend = (table: number, level: number): void => {
      this.#spend(budget, table);
      visit(table, level);
      const base = this.#wordIndex(table);
      for (let index = 0; index < KHO_TABLE_ENTRIES; index++) {
        const child = this.#readEntry(base + 2 * index, level);
        if (child === 0) continue;
        if (level === 1) {
          this.#spend(budget, child);
          visit(child, 0);
        } else {
          descend(child, level - 1);
        }
      }
    };
    descend(this.rootPa, TOP_LEVEL);
  }

  /** Number of 4 KiB pages the tree occupies, root included. */
  pageCount(): number {
    let pages = 0;
    this.forEachPage(() => { pages++; });
    return pages;
  }

  /** Preserved block counts indexed by order (length 53); counts bits without decoding each. */
  blockCountsByOrder(): number[] {
    const counts = new Array<number>(KHO_ORDER_0_LOG2 + 1).fill(0);
    const budget = { pages: this.#pageBudget() };
    const descend = (table: number, level: number, prefix: number): void => {
      this.#spend(budget, table);
      const base = this.#wordIndex(table);
      for (let index = 0; index < KHO_TABLE_ENTRIES; index++) {
        const child = this.#readEntry(base + 2 * index, level);
        if (child === 0) continue;
        this.#checkRootIndex(level, index);
        const key = prefix + index * 2 ** levelShift(level);
        if (level > 1) {
          descend(child, level - 1, key);
          continue;
        }
        this.#spend(budget, child);
        if (key === 0) {
          this.#walkLeaf(child, 0, (_pa, order) => { counts[order]!++; });
          continue;
        }
        const leafBase = this.#wordIndex(child);
        let bits = 0;
        for (let word = 0; word < WORDS_PER_PAGE; word++) bits += popcount32(this.#words[leafBase + word]!);
        counts[KHO_ORDER_0_LOG2 + 1 - fls(key)]! += bits;
      }
    };
    descend(this.rootPa, TOP_LEVEL, 0);
    return counts;
  }

  #walkTable(table: number, level: number, prefix: number, visit: WalkVisitor, budget: { pages: number }): boolean {
    this.#spend(budget, table);
    const base = this.#wordIndex(table);
    const shift = 2 ** levelShift(level);
    for (let index = 0; index < KHO_TABLE_ENTRIES; index++) {
      const child = this.#readEntry(base + 2 * index, level);
      if (child === 0) continue;
      this.#checkRootIndex(level, index);
      const key = prefix + index * shift;
      if (level === 1) {
        this.#spend(budget, child);
        if (this.#walkLeaf(child, key, visit)) return true;
      } else if (this.#walkTable(child, level - 1, key, visit, budget)) {
        return true;
      }
    }
    return false;
  }

  // Visits the set bits of one leaf whose keys are `prefix | bit`. Below prefix 2^15 the
  // order changes from bit to bit (orders ≥ 38), so those keys are decoded one by one.
  #walkLeaf(leaf: number, prefix: number, visit: WalkVisitor): boolean {
    const base = this.#wordIndex(leaf);
    const order = prefix === 0 ? -1 : KHO_ORDER_0_LOG2 + 1 - fls(prefix);
    const scale = order < 0 ? 0 : blockSize(order);
    const start = order < 0 ? 0 : prefix - 2 ** (KHO_ORDER_0_LOG2 - order);
    if (order >= 0 && !Number.isSafeInteger((start + KHO_LEAF_BITS) * scale)) {
      // Only the last key of such a leaf could overflow; check the actual bits.
      for (let word = 0; word < WORDS_PER_PAGE; word++) {
        if (this.#words[base + word] === 0) continue;
        const last = start + word * 32 + 31 - Math.clz32(this.#words[base + word]!);
        if (!Number.isSafeInteger(last * scale)) this.#corrupt(`a key in leaf ${hex(leaf)} decodes to an address beyond 2^53`);
      }
    }
    for (let word = 0; word < WORDS_PER_PAGE; word++) {
      let bits = this.#words[base + word]!;
      while (bits !== 0) {
        const lowest = bits & -bits;
        const bit = word * 32 + 31 - Math.clz32(lowest);
        bits ^= lowest;
        if (order >= 0) {
          if (visit((start + bit) * scale, order) === true) return true;
          continue;
        }
        if (bit === 0) this.#corrupt(`leaf ${hex(leaf)} has key 0 set`);
        const block = decodeKey(bit);
        if (visit(block.pa, block.order) === true) return true;
      }
    }
    return false;
  }

  // Leaf bit position (as a bit index into the u32 words of RAM) of `key`, or −1 if a table is missing.
  #locate(key: number): number {
    let node = this.rootPa;
    for (let level = TOP_LEVEL; level >= 1; level--) {
      node = this.#readEntry(this.#wordIndex(node) + 2 * tableIndex(key, level), level);
      if (node === 0) return -1;
    }
    return this.#wordIndex(node) * 32 + (key % KHO_LEAF_BITS);
  }

  #checkWritable(): TablePageSource {
    if (!this.#pages) throw new KhoError('EINVAL', `tree at ${hex(this.rootPa)} was opened read-only (no page source)`);
    return this.#pages;
  }

  #allocateTablePage(): number {
    const page = this.#checkWritable().allocatePage();
    if (page === null) throw new KhoError('ENOMEM', 'no page for a KHO radix tree node');
    if (!Number.isSafeInteger(page) || page === 0 || page % PAGE_SIZE !== 0 || !this.ram.contains(page, PAGE_SIZE)) {
      throw new RangeError(`page source returned ${page}, not a page-aligned RAM page`);
    }
    this.ram.fill(page, PAGE_SIZE, 0);
    return page;
  }

  #wordIndex(pa: number): number {
    return (pa - this.ram.base) / 4;
  }

  // The child page address stored at u32 index `word` (an entry of a table at `level`), 0 if empty.
  #readEntry(word: number, level: number): number {
    const low = this.#words[word]!;
    const high = this.#words[word + 1]!;
    if (low === 0 && high === 0) return 0;
    const child = high * TWO_POW_32 + low;
    this.#checkNode(child, level === 1 ? 'leaf' : `level-${level - 1} table`);
    return child;
  }

  #writeEntry(word: number, pa: number): void {
    this.#words[word] = pa % TWO_POW_32;
    this.#words[word + 1] = Math.floor(pa / TWO_POW_32);
  }

  #checkNode(pa: number, what: string): void {
    if (!Number.isSafeInteger(pa) || pa % PAGE_SIZE !== 0 || !this.ram.contains(pa, PAGE_SIZE)) {
      this.#corrupt(`${what} pointer 0x${pa.toString(16)} is not a page inside RAM ${hex(this.ram.base)}..${hex(this.ram.end)}`);
    }
  }

  #checkRootIndex(level: number, index: number): void {
    if (level === TOP_LEVEL && index >= ROOT_INDEX_LIMIT) this.#corrupt(`root entry ${index} is set (keys ≥ 2^53)`);
  }

  #pageBudget(): number {
    return this.ram.size / PAGE_SIZE;
  }

  #spend(budget: { pages: number }, pa: number): void {
    if (--budget.pages < 0) this.#corrupt(`tree visits more pages than RAM holds (cycle near ${hex(pa)})`);
  }

  #corrupt(message: string): never {
    throw new KhoError('EUCLEAN', `corrupt KHO radix tree at ${hex(this.rootPa)}: ${message}`);
  }
}
