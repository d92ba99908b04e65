// The page cache: file data in 4 KiB RAM pages (a PageSource: the memory service's pages),
// per file of each mount. Reads fill missing pages from the filesystem, a run of pages per
// call; writes land in pages and mark them dirty; write-back sends runs of dirty pages to
// the filesystem as single writes.
//
// Write-back policy (what the README tells users):
//   - fsync writes the file's dirty pages, then waits for the filesystem's sync;
//   - sync writes every dirty page of every mount, then syncs each filesystem;
//   - the last close of a file writes its dirty pages (so a crash of the VFS loses at most
//     what open files had not written back);
//   - a file with more than `dirtyFileLimit` dirty pages is written back by the write that
//     crosses it, and a full cache writes back the least recently used file before
//     evicting its pages; umount writes back the mount's pages.
// A write-back the filesystem refuses (ENOSPC, EIO) drops the file's cached pages (the
// filesystem keeps what it accepted) and is reported by the next write, fsync or close of
// the file, as Linux reports write-back errors.

import { errnoError } from '../../ipc/interfaces/errno.js';
import type { FileAttributes } from '../../ipc/interfaces/filesystem.js';
import { PeerRestartedError } from '../../ipc/errors.js';
import { PAGE_BYTES, type PageSource } from '../lib/pages.js';
import type { Location, MountedFilesystem } from './mount_table.js';

/** Most bytes one filesystem read or write carries. */
const TRANSFER_PAGES = 256;
/** Pages one step of a read or write touches; the cache must hold at least a few steps. */
const STEP_PAGES = 64;
/** Times a write-back is sent again when the filesystem server restarted under it. */
const RESTART_ATTEMPTS = 3;

interface CachedPage {
  readonly pa: number;
  dirty: boolean;
}

interface CachedFile {
  readonly location: Location;
  /** The size readers see: the filesystem's, grown by dirty pages. */
  size: number;
  /** The size the filesystem holds. */
  storedSize: number;
  /** When a write last changed the cached data (seconds), until write-back makes the filesystem's newer. */
  modifyTime: number | undefined;
  readonly pages: Map<number, CachedPage>;
  /** A write-back error not reported yet. */
  error: Error | undefined;
}

export interface PageCacheOptions {
  /** Most pages the cache holds (at least 4 × 64). */
  readonly limitPages: number;
  readonly dirtyFileLimit: number;
  readonly now?: () => number;
}

export class PageCache {
  private readonly files = new Map<MountedFilesystem, Map<number, CachedFile>>();
  /** Every cached page, least recently used first. */
  private readonly recency = new Map<CachedPage, { file: CachedFile; index: number }>();
  private readonly now: () => number;

  constructor(private readonly pages: PageSource, private readonly options: PageCacheOptions) {
    if (options.limitPages < 4 * STEP_PAGES) throw new RangeError(`a page cache needs at least ${4 * STEP_PAGES} pages`);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  get cachedPages(): number {
    return this.recency.size;
  }

  get dirtyPages(): number {
    let count = 0;
    for (const page of this.recency.keys()) if (page.dirty) count++;
    return count;
  }

  /** `attributes` as readers must see them: the cached size and modification time. */
  overlay(location: Location, attributes: FileAttributes): FileAttributes {
    const file = this.files.get(location.mount)?.get(location.inode);
    if (!file) return attributes;
    return { ...attributes, size: file.size, modifyTime: Math.max(attributes.modifyTime, file.modifyTime ?? 0) };
  }

  async read(location: Location, offset: number, length: number): Promise<Uint8Array> {
    const file = await this.file(location);
    const end = Math.min(file.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const data = new Uint8Array(end - offset);
    const lastIndex = Math.floor((end - 1) / PAGE_BYTES);
    for (let first = Math.floor(offset / PAGE_BYTES); first <= lastIndex; first += STEP_PAGES) {
      const last = Math.min(lastIndex, first + STEP_PAGES - 1);
      await this.fill(file, range(first, last), range(first, last));
      for (let index = first; index <= last; index++) {
        const pageStart = index * PAGE_BYTES;
        const from = Math.max(offset, pageStart);
        const to = Math.min(end, pageStart + PAGE_BYTES);
        data.set(this.pages.bytes(this.touch(file, index).pa).subarray(from - pageStart, to - pageStart), from - offset);
      }
    }
    return data;
  }

  /** Writes `data` at `offset` into the cache; reports a pending write-back error first. */
  async write(location: Location, offset: number, data: Uint8Array): Promise<number> {
    const file = await this.file(location);
    this.reportError(file);
    if (data.length === 0) return 0;
    const end = offset + data.length;
    const lastIndex = Math.floor((end - 1) / PAGE_BYTES);
    for (let first = Math.floor(offset / PAGE_BYTES); first <= lastIndex; first += STEP_PAGES) {
      const last = Math.min(lastIndex, first + STEP_PAGES - 1);
      // A page the write covers only in part keeps the rest of its bytes: read it first.
      const partial = range(first, last).filter((index) => index * PAGE_BYTES < offset || (index + 1) * PAGE_BYTES > end);
      await this.fill(file, range(first, last), partial);
      for (let index = first; index <= last; index++) {
        const pageStart = index * PAGE_BYTES;
        const from = Math.max(offset, pageStart);
        const to = Math.min(end, pageStart + PAGE_BYTES);
        const page = this.touch(file, index);
        this.pages.bytes(page.pa).set(data.subarray(from - offset, to - offset), from - pageStart);
        page.dirty = true;
      }
      // Grown step by step, so that a write-back this write causes covers what it wrote so far.
      file.size = Math.max(file.size, Math.min(end, (last + 1) * PAGE_BYTES));
      file.modifyTime = this.now();
    }
    if (this.dirtyCount(file) > this.options.dirtyFileLimit) await this.writeBackFile(file);
    return data.length;
  }

  /** The file's size becomes `size`, in the cache and on the filesystem. */
  async truncate(location: Location, size: number): Promise<void> {
    const file = this.files.get(location.mount)?.get(location.inode);
    if (file) {
      const keptPages = Math.ceil(size / PAGE_BYTES);
      for (const [index, page] of [...file.pages]) if (index >= keptPages) await this.drop(file, index, page);
      const tail = file.pages.get(keptPages - 1);
      if (tail && size % PAGE_BYTES !== 0) this.pages.bytes(tail.pa).fill(0, size % PAGE_BYTES);
    }
    await location.mount.filesystem.truncate({ inode: location.inode, size });
    if (file) {
      file.size = file.storedSize = size;
      file.modifyTime = this.now();
    }
  }

  /** Writes the file's dirty pages to its filesystem; throws (once) what write-back met. */
  async writeBack(location: Location): Promise<void> {
    const file = this.files.get(location.mount)?.get(location.inode);
    if (!file) return;
    await this.writeBackFile(file);
    this.reportError(file);
  }

  /** Writes every dirty page of `mount` (every mount when absent); the first error is thrown after all were tried. */
  async writeBackAll(mount?: MountedFilesystem): Promise<void> {
    let first: Error | undefined;
    for (const [owner, files] of this.files) {
      if (mount && owner !== mount) continue;
      for (const file of [...files.values()]) {
        await this.writeBackFile(file);
        if (file.error && !first) first = file.error;
        file.error = undefined;
      }
    }
    if (first) throw first;
  }

  /** Writes every dirty page back, then drops every page (Linux's drop_caches): later reads come from the filesystems. */
  async dropAll(): Promise<void> {
    await this.writeBackAll();
    for (const mount of [...this.files.keys()]) await this.forgetMount(mount);
  }

  /** Drops the file's pages, dirty or not (its inode is gone or was reused). */
  async forget(location: Location): Promise<void> {
    const file = this.files.get(location.mount)?.get(location.inode);
    if (!file) return;
    for (const [index, page] of [...file.pages]) await this.drop(file, index, page);
    this.files.get(location.mount)?.delete(location.inode);
  }

  /** Drops every page of `mount` (unmounted, or its server lost its files). */
  async forgetMount(mount: MountedFilesystem): Promise<void> {
    for (const file of [...(this.files.get(mount)?.values() ?? [])]) await this.forget(file.location);
    this.files.delete(mount);
  }

  private async file(location: Location): Promise<CachedFile> {
    let files = this.files.get(location.mount);
    if (!files) this.files.set(location.mount, (files = new Map()));
    let file = files.get(location.inode);
    if (!file) {
      const { size } = await location.mount.filesystem.getattr({ inode: location.inode });
      file = { location, size, storedSize: size, modifyTime: undefined, pages: new Map(), error: undefined };
      files.set(location.inode, file);
    }
    return file;
  }

  /** Makes pages `wanted` present; those in `toRead` that the filesystem holds data for are read. */
  private async fill(file: CachedFile, wanted: number[], toRead: number[]): Promise<void> {
    const missing = wanted.filter((index) => !file.pages.has(index));
    if (missing.length === 0) return;
    await this.makeRoom(missing.length, file, wanted[0]!, wanted.at(-1)!);
    for (const index of missing) {
      const page = { pa: await this.pages.allocate(), dirty: false };
      file.pages.set(index, page);
      this.recency.set(page, { file, index });
    }
    const reads = new Set(toRead.filter((index) => missing.includes(index) && index * PAGE_BYTES < file.storedSize));
    for (const run of runs([...reads].sort((a, b) => a - b))) {
      const start = run[0]! * PAGE_BYTES;
      const length = Math.min(run.length * PAGE_BYTES, file.storedSize - start);
      const { data } = await file.location.mount.filesystem.read({ inode: file.location.inode, offset: start, length });
      for (const index of run) {
        const from = index * PAGE_BYTES - start;
        if (from < data.length) this.pages.bytes(file.pages.get(index)!.pa).set(data.subarray(from, Math.min(data.length, from + PAGE_BYTES)));
      }
    }
  }

  /** Evicts least recently used pages (writing back their file first if dirty) until `count` more fit; never the pages `first`..`last` of `current` in use. */
  private async makeRoom(count: number, current: CachedFile, first: number, last: number): Promise<void> {
    const evictable = (owner: { file: CachedFile; index: number }) => owner.file !== current || owner.index < first || owner.index > last;
    while (this.recency.size + count > this.options.limitPages) {
      const victim = this.leastRecent((page, owner) => !page.dirty && evictable(owner)) ?? this.leastRecent((_, owner) => evictable(owner));
      if (!victim) return; // only pages in use: the cache grows by one step rather than evict them
      const [page, owner] = victim;
      if (page.dirty) {
        await this.writeBackFile(owner.file);
        continue;
      }
      await this.drop(owner.file, owner.index, page);
      if (owner.file !== current && owner.file.pages.size === 0 && owner.file.size === owner.file.storedSize) this.files.get(owner.file.location.mount)?.delete(owner.file.location.inode);
    }
  }

  private leastRecent(accept: (page: CachedPage, owner: { file: CachedFile; index: number }) => boolean): [CachedPage, { file: CachedFile; index: number }] | undefined {
    for (const entry of this.recency) if (accept(entry[0], entry[1])) return entry;
    return undefined;
  }

  private async writeBackFile(file: CachedFile): Promise<void> {
    const dirty = [...file.pages].filter(([, page]) => page.dirty).map(([index]) => index).sort((a, b) => a - b);
    const filesystem = file.location.mount.filesystem;
    try {
      for (const run of runs(dirty)) {
        for (let at = 0; at < run.length; at += TRANSFER_PAGES) {
          const chunk = run.slice(at, at + TRANSFER_PAGES);
          const start = chunk[0]! * PAGE_BYTES;
          const end = Math.min((chunk.at(-1)! + 1) * PAGE_BYTES, file.size);
          if (end <= start) {
            for (const index of chunk) file.pages.get(index)!.dirty = false; // past the end: nothing of it is the file's
            continue;
          }
          const data = new Uint8Array(end - start);
          for (const index of chunk) {
            const from = index * PAGE_BYTES - start;
            data.set(this.pages.bytes(file.pages.get(index)!.pa).subarray(0, Math.min(PAGE_BYTES, data.length - from)), from);
          }
          const { written } = await acrossRestarts(() => filesystem.write({ inode: file.location.inode, offset: start, data }));
          if (written < data.length) throw errnoError('ENOSPC', `the filesystem took ${written} of ${data.length} bytes at ${start}`);
          for (const index of chunk) file.pages.get(index)!.dirty = false;
          file.storedSize = Math.max(file.storedSize, end);
        }
      }
      file.modifyTime = undefined;
    } catch (error) {
      // What the filesystem refused is lost, as in Linux; drop the file's pages so readers see what it holds.
      for (const [index, page] of [...file.pages]) await this.drop(file, index, page);
      const { size } = await filesystem.getattr({ inode: file.location.inode }).catch(() => ({ size: file.storedSize }));
      file.size = file.storedSize = size;
      file.modifyTime = undefined;
      file.error = error as Error;
    }
  }

  private reportError(file: CachedFile): void {
    const error = file.error;
    if (!error) return;
    file.error = undefined;
    throw error;
  }

  private touch(file: CachedFile, index: number): CachedPage {
    const page = file.pages.get(index)!;
    this.recency.delete(page);
    this.recency.set(page, { file, index });
    return page;
  }

  private dirtyCount(file: CachedFile): number {
    let count = 0;
    for (const page of file.pages.values()) if (page.dirty) count++;
    return count;
  }

  private async drop(file: CachedFile, index: number, page: CachedPage): Promise<void> {
    file.pages.delete(index);
    this.recency.delete(page);
    await this.pages.free(page.pa);
  }
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, offset) => first + offset);
}

/** Sorted indices as runs of consecutive ones. */
function runs(sorted: number[]): number[][] {
  const result: number[][] = [];
  for (const index of sorted) {
    const current = result.at(-1);
    if (current && current.at(-1)! + 1 === index) current.push(index);
    else result.push([index]);
  }
  return result;
}

async function acrossRestarts<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof PeerRestartedError) || attempt >= RESTART_ATTEMPTS) throw error;
    }
  }
}
