// The metadata buffer cache: filesystem blocks read once and kept, changed in place, and
// written back in the order that keeps a crash repairable (see README.md, "Write order").
//
// Every block the filesystem changes belongs to one write-back class. A sync writes the
// classes in order — file data (and indirect blocks), then bitmaps, then directories, then
// inode tables, then the group descriptors and superblock — and flushes the device after
// each metadata class, so a crash stops between two classes at worst. README.md says why
// this order leaves only what `e2fsck -p` repairs by itself.

import type { BlockStore } from './block_store.js';

export type WriteBackClass = 'data' | 'bitmap' | 'directory' | 'inode' | 'summary';
const WRITE_ORDER: readonly WriteBackClass[] = ['data', 'bitmap', 'directory', 'inode', 'summary'];

export class BufferCache {
  readonly blockBytes: number;
  private readonly store: BlockStore;
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly dirty = new Map<number, WriteBackClass>();
  private readonly pinned = new Set<number>();
  /** Blocks kept clean beyond this many are dropped, oldest first. */
  private readonly cleanLimit: number;

  constructor(store: BlockStore, blockBytes: number, cleanLimit = 4096) {
    this.store = store;
    this.blockBytes = blockBytes;
    this.cleanLimit = cleanLimit;
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** The cached bytes of block `block` (read from the device the first time). */
  async get(block: number): Promise<Uint8Array> {
    const cached = this.blocks.get(block);
    if (cached) {
      // Refresh its place in the insertion order: the map is the least-recently-used list.
      this.blocks.delete(block);
      this.blocks.set(block, cached);
      return cached;
    }
    const bytes = await this.store.read(block * this.blockBytes, this.blockBytes);
    this.blocks.set(block, bytes);
    this.evictClean();
    return bytes;
  }

  /**
   * `count` consecutive blocks from `first`, for file data: read from the device in one
   * request, not kept (file data is the VFS page cache's to keep, and would push metadata
   * out of this one), with any block this cache holds — perhaps changed, not yet written —
   * taken from the cache instead.
   */
  async readRun(first: number, count: number): Promise<Uint8Array> {
    if (count === 1) return (await this.get(first)).slice();
    const data = await this.store.read(first * this.blockBytes, count * this.blockBytes);
    for (let index = 0; index < count; index++) {
      const cached = this.blocks.get(first + index);
      if (cached) data.set(cached, index * this.blockBytes);
    }
    return data;
  }

  /** Keeps `block` cached for good: the superblock and descriptors are views into their blocks. */
  async pin(block: number): Promise<Uint8Array> {
    const bytes = await this.get(block);
    this.pinned.add(block);
    return bytes;
  }

  /** A block about to be overwritten whole: no read, zero-filled. */
  fresh(block: number, writeBackClass: WriteBackClass): Uint8Array {
    const bytes = new Uint8Array(this.blockBytes);
    this.blocks.set(block, bytes);
    this.dirty.set(block, writeBackClass);
    return bytes;
  }

  /**
   * Marks `block` changed: `bytes` (what `get` returned) reaches the disk at the next sync,
   * in its class's turn. Dirty blocks are never evicted.
   */
  markDirty(block: number, bytes: Uint8Array, writeBackClass: WriteBackClass): void {
    if (bytes.length !== this.blockBytes) throw new RangeError(`block ${block}: ${bytes.length} bytes is not one block`);
    this.blocks.set(block, bytes);
    const previous = this.dirty.get(block);
    // A block changed as two classes is written in the earlier one's turn.
    if (previous === undefined || WRITE_ORDER.indexOf(writeBackClass) < WRITE_ORDER.indexOf(previous)) {
      this.dirty.set(block, writeBackClass);
    }
  }

  /** Forgets a block that was freed, so stale contents never reach the disk. */
  discard(block: number): void {
    this.blocks.delete(block);
    this.dirty.delete(block);
  }

  /** Writes every dirty block in write-back order and flushes; resolves when all is durable. */
  async sync(): Promise<void> {
    for (const writeBackClass of WRITE_ORDER) {
      const blocks = [...this.dirty].filter(([, kind]) => kind === writeBackClass).map(([block]) => block).sort((a, b) => a - b);
      if (blocks.length === 0) continue;
      for (const run of contiguousRuns(blocks)) {
        const data = new Uint8Array(run.length * this.blockBytes);
        run.forEach((block, index) => data.set(this.blocks.get(block)!, index * this.blockBytes));
        await this.store.write(run[0]! * this.blockBytes, data);
        for (const block of run) this.dirty.delete(block);
      }
      if (writeBackClass !== 'data') await this.store.flush();
    }
    await this.store.flush();
    this.evictClean();
  }

  private evictClean(): void {
    if (this.blocks.size <= this.cleanLimit) return;
    for (const block of this.blocks.keys()) {
      if (this.blocks.size <= this.cleanLimit) return;
      if (!this.dirty.has(block) && !this.pinned.has(block)) this.blocks.delete(block);
    }
  }
}

/** Splits sorted block numbers into runs of consecutive ones, at most 256 blocks each. */
function contiguousRuns(blocks: readonly number[]): number[][] {
  const runs: number[][] = [];
  for (const block of blocks) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] === block - 1 && run.length < 256) run.push(block);
    else runs.push([block]);
  }
  return runs;
}
