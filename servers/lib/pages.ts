// RAM pages for servers that keep file data in memory (the VFS's page cache, tmpfs): 4 KiB
// pages from the memory service, taken in blocks of BLOCK_PAGES so that a megabyte of data
// costs a few calls, not hundreds. A block goes back to the memory service when its last
// page is freed. Pages are zeroed when handed out.

import type { ClientOf } from '../../ipc/define.js';
import type { memoryInterface } from '../../ipc/interfaces/memory.js';
import type { Ram } from '../../hal/ram.js';

export const PAGE_BYTES = 4096;
/** Pages per block asked of the memory service (2^4: 64 KiB). */
const BLOCK_ORDER = 4;
const BLOCK_PAGES = 1 << BLOCK_ORDER;

/** Where pages come from: physical addresses of zeroed 4 KiB pages, and their bytes. */
export interface PageSource {
  /** A zeroed page; rejects (the memory service's error) when there is no memory. */
  allocate(): Promise<number>;
  free(pa: number): Promise<void>;
  /** The page's 4096 bytes, a live view of RAM. */
  bytes(pa: number): Uint8Array;
  /** Pages handed out and not freed. */
  readonly pagesInUse: number;
}

interface Block {
  readonly pa: number;
  readonly free: number[];
}

/** Pages from the memory service, in blocks of 16 pages. */
export class MemoryServicePages implements PageSource {
  private readonly blocks = new Map<number, Block>();
  private readonly withFree = new Set<Block>();
  private inUse = 0;

  constructor(private readonly memory: ClientOf<typeof memoryInterface>, private readonly ram: Ram) {}

  get pagesInUse(): number {
    return this.inUse;
  }

  async allocate(): Promise<number> {
    let block = this.withFree.values().next().value as Block | undefined;
    if (!block) {
      const { pa } = await this.memory.allocate({ order: BLOCK_ORDER, zeroed: true });
      block = { pa, free: Array.from({ length: BLOCK_PAGES }, (_, index) => pa + (BLOCK_PAGES - 1 - index) * PAGE_BYTES) };
      this.blocks.set(pa, block);
      this.withFree.add(block);
    }
    const page = block.free.pop()!;
    if (block.free.length === 0) this.withFree.delete(block);
    this.inUse++;
    return page;
  }

  async free(pa: number): Promise<void> {
    // Blocks are aligned to their size (the buddy allocator's order): a page's block is its address rounded down.
    const blockPa = pa - (pa % (BLOCK_PAGES * PAGE_BYTES));
    const block = this.blocks.get(blockPa);
    if (!block) throw new RangeError(`page 0x${pa.toString(16)} was not handed out here`);
    this.bytes(pa).fill(0);
    block.free.push(pa);
    this.inUse--;
    if (block.free.length === BLOCK_PAGES) {
      this.blocks.delete(blockPa);
      this.withFree.delete(block);
      await this.memory.free({ pa: blockPa });
    } else {
      this.withFree.add(block);
    }
  }

  bytes(pa: number): Uint8Array {
    return this.ram.subarray(pa, PAGE_BYTES);
  }
}

/** Pages from a range of RAM the caller owns (tests, and a system without a memory service). */
export class RamRangePages implements PageSource {
  private readonly freePages: number[] = [];
  private next: number;
  private inUse = 0;

  constructor(private readonly ram: Ram, start: number, private readonly end: number) {
    this.next = start;
  }

  get pagesInUse(): number {
    return this.inUse;
  }

  async allocate(): Promise<number> {
    let pa = this.freePages.pop();
    if (pa === undefined) {
      if (this.next + PAGE_BYTES > this.end) throw new RangeError('no free page left in the range');
      pa = this.next;
      this.next += PAGE_BYTES;
    }
    this.bytes(pa).fill(0);
    this.inUse++;
    return pa;
  }

  async free(pa: number): Promise<void> {
    this.freePages.push(pa);
    this.inUse--;
  }

  bytes(pa: number): Uint8Array {
    return this.ram.subarray(pa, PAGE_BYTES);
  }
}
