// The KHO server's own memory: one contiguous arena whose bookkeeping lives in the arena
// itself (in guest RAM), so a restarted KHO server reattaches to it and loses nothing —
// the tree pages and kho_alloc_preserve blocks it handed out stay where they are.
//
// Layout: page 0 holds the header {magic 'KHOA', pages, root FDT pa} and one state byte
// per arena page (0 free, 1 used) from offset 64. Blocks are naturally aligned within
// the arena (order-o blocks start at multiples of 2^o pages from the arena base, which is
// itself aligned to the largest order it serves).

import { PAGE_SIZE } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import type { PageAllocator } from '../../microkernel/kho/preserve.js';

const MAGIC = 0x414f484b; // "KHOA" little-endian
const STATE_OFFSET = 64;
const FREE = 0;
const USED = 1;

export class KhoArena implements PageAllocator {
  readonly ram: Ram;
  readonly base: number;
  readonly pages: number;
  private readonly state: Uint8Array;

  private constructor(ram: Ram, base: number, pages: number) {
    this.ram = ram;
    this.base = base;
    this.pages = pages;
    this.state = ram.subarray(base + STATE_OFFSET, pages);
  }

  /** Formats a fresh arena of `size` bytes at `base` (zeroed RAM the server owns). */
  static format(ram: Ram, base: number, size: number): KhoArena {
    const pages = Math.floor(size / PAGE_SIZE);
    if (STATE_OFFSET + pages > PAGE_SIZE) throw new RangeError(`a KHO arena holds at most ${PAGE_SIZE - STATE_OFFSET} pages`);
    ram.writeU32(base, MAGIC);
    ram.writeU32(base + 4, pages);
    ram.writeU64Number(base + 8, 0);
    const arena = new KhoArena(ram, base, pages);
    arena.state.fill(FREE);
    arena.state[0] = USED;
    return arena;
  }

  /** Reattaches to the arena at `base`; throws if there is none. */
  static attach(ram: Ram, base: number): KhoArena {
    if (!ram.contains(base, PAGE_SIZE) || ram.readU32(base) !== MAGIC) throw new Error(`no KHO arena at 0x${base.toString(16)}`);
    return new KhoArena(ram, base, ram.readU32(base + 4));
  }

  /** The root KHO FDT's address, kept in the header for the next instance (0 = none yet). */
  get rootFdt(): number {
    return this.ram.readU64Number(this.base + 8);
  }

  set rootFdt(pa: number) {
    this.ram.writeU64Number(this.base + 8, pa);
  }

  get usedPages(): number {
    let used = 0;
    for (const byte of this.state) used += byte;
    return used;
  }

  allocatePages(order: number): number | null {
    const count = 2 ** order;
    for (let first = 0; first + count <= this.pages; first += count) {
      if (this.state.subarray(first, first + count).every((byte) => byte === FREE)) {
        this.state.fill(USED, first, first + count);
        const pa = this.base + first * PAGE_SIZE;
        this.ram.fill(pa, count * PAGE_SIZE, 0);
        return pa;
      }
    }
    return null;
  }

  freePages(pa: number, order: number): void {
    const first = (pa - this.base) / PAGE_SIZE;
    if (!Number.isInteger(first) || first < 1 || first + 2 ** order > this.pages) return;
    this.state.fill(FREE, first, first + 2 ** order);
  }
}
