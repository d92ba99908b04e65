// Pre-decoded code, per physical page of RAM, and the basic blocks built from it.
//
// A page's instructions are decoded once, on first execution, into a slot per halfword;
// blocks (straight-line runs ending at a control transfer, a system instruction, MAX_BLOCK
// instructions or the page's end) are kept per page by start offset, with a hit count and,
// once hot, their compiled function. A store by this hart into a code page (HartMemory's
// slow path) or fence.i drops the page's decoded code at once. Writes by anyone else (another
// hart, the kernel loading a program or reusing a page, DMA) are seen at the next trap: the
// hart checks each block against RAM (stillMatches) the first time it runs in a run() call.
// invalidateRange() drops decoded code eagerly, for a kernel that knows what it rewrote.

import { decode } from './decode.js';
import { endsBlock, type Decoded } from './instructions.js';
import type { HartMemory } from './memory.js';

export const MAX_BLOCK = 64;

export type CompiledBlock = (hart: never) => void;

export interface Block {
  /** Virtual address of the first instruction (the same code at another address is another block). */
  readonly va: number;
  readonly ops: readonly Decoded[];
  /** Virtual address of each instruction. */
  readonly pcs: readonly number[];
  /** The address after the last instruction. */
  readonly end: number;
  /** Byte offset in RAM of the block's page. */
  readonly pageOffset: number;
  hits: number;
  compiled: CompiledBlock | undefined;
  /** The hart's run() call in which the block was last checked against RAM (CodeCache.stillMatches). */
  checkedInRun: number;
  /** False once its page's decoded code is dropped. */
  alive: boolean;
  /**
   * The blocks that followed this one last (two: a branch's two ways), with the translation
   * epoch (HartMemory.epoch) they were found in: the run loop chains to them without a lookup.
   */
  readonly successorVa: number[];
  readonly successor: (Block | undefined)[];
  readonly successorEpoch: number[];
}

class DecodedPage {
  readonly slots: (Decoded | undefined)[] = new Array(2048);
  readonly blocks = new Map<number, Block>();
}

export class CodeCache {
  private readonly pages = new Map<number, DecodedPage>();
  private readonly memory: HartMemory;
  /** Blocks built and compiled since the hart started, for statistics. */
  blocksBuilt = 0;

  constructor(memory: HartMemory) {
    this.memory = memory;
    memory.onCodeWrite = (page) => this.invalidatePage(page);
  }

  /**
   * The block starting at `va`, whose page lies at RAM offset `pageOffset`; undefined if the
   * instruction at `va` straddles the page's end (the hart executes that one on its own).
   */
  block(va: number, pageOffset: number): Block | undefined {
    const pageIndex = pageOffset >>> 12;
    let page = this.pages.get(pageIndex);
    if (!page) {
      page = new DecodedPage();
      this.pages.set(pageIndex, page);
      this.memory.codePages[pageIndex] = 1;
      this.memory.dropWriteEntries(pageIndex);
    }
    const start = va & 0xfff;
    const found = page.blocks.get(start);
    if (found && found.va === va) return found;
    const ops: Decoded[] = [], pcs: number[] = [];
    let offset = start;
    while (offset < 4096 && ops.length < MAX_BLOCK) {
      let op = page.slots[offset >> 1];
      if (!op) {
        const low = this.memory.u16[(pageOffset + offset) >> 1]!;
        if ((low & 3) === 3) {
          if (offset === 4094) break;
          op = decode(low | (this.memory.u16[(pageOffset + offset + 2) >> 1]! << 16));
        } else op = decode(low);
        page.slots[offset >> 1] = op;
      }
      ops.push(op);
      pcs.push((va - start + offset) >>> 0);
      offset += op.size;
      if (endsBlock(op.op)) break;
    }
    if (ops.length === 0) return undefined;
    const block: Block = {
      va, ops, pcs, end: (va - start + offset) >>> 0, pageOffset, hits: 0, compiled: undefined, checkedInRun: -1, alive: true,
      successorVa: [-1, -1], successor: [undefined, undefined], successorEpoch: [-1, -1],
    };
    if (found) found.alive = false;
    page.blocks.set(start, block);
    this.blocksBuilt++;
    return block;
  }

  /** Whether RAM still holds the instructions `block` was decoded from. */
  stillMatches(block: Block): boolean {
    const u16 = this.memory.u16, base = block.pageOffset;
    for (let index = 0; index < block.ops.length; index++) {
      const op = block.ops[index]!, at = (base + (block.pcs[index]! & 0xfff)) >> 1;
      const bits = op.size === 2 ? u16[at]! : (u16[at]! | (u16[at + 1]! << 16)) >>> 0;
      if (bits !== op.bits) return false;
    }
    return true;
  }

  invalidatePage(pageIndex: number): void {
    const page = this.pages.get(pageIndex);
    if (page) for (const block of page.blocks.values()) block.alive = false;
    this.pages.delete(pageIndex);
    this.memory.codePages[pageIndex] = 0;
  }

  /** Drops decoded code of physical range [address, address + length): call after writing code there from outside this hart. */
  invalidateRange(address: number, length: number): void {
    const first = Math.floor((address - this.memory.ram.base) / 4096);
    const last = Math.floor((address + Math.max(length, 1) - 1 - this.memory.ram.base) / 4096);
    for (let page = Math.max(first, 0); page <= last && page < this.memory.codePages.length; page++) this.invalidatePage(page);
  }

  /** fence.i: drops every decoded page. */
  flush(): void {
    for (const [pageIndex, page] of this.pages) {
      this.memory.codePages[pageIndex] = 0;
      for (const block of page.blocks.values()) block.alive = false;
    }
    this.pages.clear();
  }

  get decodedPages(): number {
    return this.pages.size;
  }
}
