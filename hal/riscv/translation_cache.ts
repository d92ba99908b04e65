// The hart's translation cache: leaves found by page walks, tagged by ASID, flushed as
// sfence.vma flushes. Global leaves (G = 1) match every ASID. A megapage is kept once, by
// its 4 MiB region, so a flush by any address inside it drops it.
//
// This is the second level; the hart keeps small direct-mapped arrays in front of it
// (untagged, emptied whenever satp changes or anything is flushed).

import { PTE_G, type Leaf } from './sv32.js';

const GLOBAL = 1 << 9; // above every 9-bit ASID

export class TranslationCache {
  private readonly pages = new Map<number, Leaf>();
  private readonly megapages = new Map<number, Leaf>();
  /** Leaves cached, for tests and statistics. */
  get size(): number { return this.pages.size + this.megapages.size; }

  lookup(asid: number, va: number): Leaf | undefined {
    const vpn = va >>> 12, region = va >>> 22;
    return this.pages.get(asid * 2 ** 20 + vpn) ?? this.pages.get(GLOBAL * 2 ** 20 + vpn)
      ?? this.megapages.get(asid * 1024 + region) ?? this.megapages.get(GLOBAL * 1024 + region);
  }

  insert(asid: number, va: number, leaf: Leaf): void {
    const tag = leaf.pte & PTE_G ? GLOBAL : asid;
    if (leaf.level === 1) this.megapages.set(tag * 1024 + (va >>> 22), leaf);
    else this.pages.set(tag * 2 ** 20 + (va >>> 12), leaf);
  }

  /**
   * sfence.vma rs1, rs2: `va` undefined is rs1 = x0 (every address), `asid` undefined is
   * rs2 = x0 (every address space, global leaves too). With an ASID, global leaves stay.
   */
  flush(va?: number, asid?: number): void {
    if (va === undefined && asid === undefined) {
      this.pages.clear();
      this.megapages.clear();
      return;
    }
    const matches = (key: number, width: number, index: number | undefined) => {
      const tag = Math.floor(key / width), where = key % width;
      if (asid !== undefined && tag !== asid) return false; // other ASIDs, and global leaves, stay
      return index === undefined || where === index;
    };
    for (const key of this.pages.keys()) if (matches(key, 2 ** 20, va === undefined ? undefined : va >>> 12)) this.pages.delete(key);
    for (const key of this.megapages.keys()) if (matches(key, 1024, va === undefined ? undefined : va >>> 22)) this.megapages.delete(key);
  }
}
