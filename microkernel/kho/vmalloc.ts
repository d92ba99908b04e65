// Preserving a vmalloc-style area: a list of physically scattered blocks of 2^order pages
// (KHO-ABI.md §3 "vmalloc ABI").
//
//   descriptor (16 B, kept by the client, e.g. inside its FDT):
//     struct kho_vmalloc { u64 first_chunk_pa; u32 total_pages; u16 flags; u16 order; }
//   chunk (one preserved 4 KiB page):
//     struct kho_vmalloc_chunk { u64 next_pa; u64 phys[511]; }   phys zero-terminated
//
// As in Linux: each block is preserved with preservePages(pa, 2^order), each chunk page with
// preservePages(chunk, 1); a new chunk is started as soon as one fills up (so 511 blocks
// leave an empty second chunk). baton has no virtual mapping, so "the area" is its block
// list and restoring it returns that list.

import { PAGE_SIZE, hex } from '../../hal/address.js';
import { KhoError } from './errors.js';
import type { KhoPreserver } from './preserve.js';
import type { KhoRestorer } from './restore.js';

export const KHO_VMALLOC_ALLOC = 0x0001;
export const KHO_VMALLOC_HUGE_VMAP = 0x0002;
export const KHO_VMALLOC_SUPPORTED_FLAGS = KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP;
export const KHO_VMALLOC_DESCRIPTOR_SIZE = 16;
/** Block addresses per chunk page: (PAGE_SIZE − 8) / 8. */
export const KHO_VMALLOC_CHUNK_ENTRIES = (PAGE_SIZE - 8) / 8;

export interface KhoVmalloc {
  readonly firstChunkPa: number;
  readonly totalPages: number;
  readonly flags: number;
  readonly order: number;
}

export interface VmallocArea {
  /** Physical address of each block, in area order. */
  readonly blocks: readonly number[];
  /** Every block is 2^order pages. */
  readonly order: number;
  /** KHO_VMALLOC_* flags. */
  readonly flags: number;
}

export function encodeVmallocDescriptor(descriptor: KhoVmalloc): Uint8Array {
  const bytes = new Uint8Array(KHO_VMALLOC_DESCRIPTOR_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(descriptor.firstChunkPa), true);
  view.setUint32(8, descriptor.totalPages, true);
  view.setUint16(12, descriptor.flags, true);
  view.setUint16(14, descriptor.order, true);
  return bytes;
}

/** Decodes 16 descriptor bytes; EINVAL for another length or a first chunk beyond 2^53. */
export function decodeVmallocDescriptor(bytes: Uint8Array): KhoVmalloc {
  if (bytes.length !== KHO_VMALLOC_DESCRIPTOR_SIZE) throw new KhoError('EINVAL', `a kho_vmalloc descriptor is 16 bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getBigUint64(0, true);
  if (first > BigInt(Number.MAX_SAFE_INTEGER)) throw new KhoError('EINVAL', `first chunk 0x${first.toString(16)} beyond 2^53`);
  return { firstChunkPa: Number(first), totalPages: view.getUint32(8, true), flags: view.getUint16(12, true), order: view.getUint16(14, true) };
}

/**
 * kho_preserve_vmalloc: preserves every block and a chunk list naming them; returns the
 * descriptor. EOPNOTSUPP for unknown flags, EINVAL for bad blocks, ENOMEM without pages;
 * on failure everything preserved or allocated so far is undone.
 */
export function preserveVmalloc(preserver: KhoPreserver, area: VmallocArea): KhoVmalloc {
  const { blocks, order, flags } = area;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) throw new KhoError('EINVAL', `vmalloc flags ${flags} are not a u16`);
  if ((flags & ~KHO_VMALLOC_SUPPORTED_FLAGS) !== 0) throw new KhoError('EOPNOTSUPP', `vmalloc flags 0x${flags.toString(16)} are not supported`);
  if (!Number.isInteger(order) || order < 0 || order > 0xffff) throw new KhoError('EINVAL', `vmalloc order ${order} is not a u16`);
  const pagesPerBlock = 2 ** order;
  const totalPages = blocks.length * pagesPerBlock;
  if (totalPages > 0xffff_ffff) throw new KhoError('EINVAL', `${totalPages} pages do not fit total_pages (u32)`);
  for (const block of blocks) {
    if (!Number.isSafeInteger(block) || block <= 0 || block % PAGE_SIZE !== 0) throw new KhoError('EINVAL', `vmalloc block ${block} is not a page address`);
  }
  const ram = preserver.ram;
  const firstChunkPa = newChunk(preserver, null);
  const descriptor: KhoVmalloc = { firstChunkPa, totalPages, flags, order };
  let chunk = firstChunkPa;
  let index = 0;
  try {
    for (const block of blocks) {
      preserver.preservePages(block, pagesPerBlock);
      ram.writeU64Number(chunk + 8 + index * 8, block);
      if (++index === KHO_VMALLOC_CHUNK_ENTRIES) {
        chunk = newChunk(preserver, chunk);
        index = 0;
      }
    }
  } catch (error) {
    unpreserveVmalloc(preserver, descriptor);
    throw error;
  }
  return descriptor;
}

/** kho_unpreserve_vmalloc: unpreserves every block and chunk page and frees the chunk pages. */
export function unpreserveVmalloc(preserver: KhoPreserver, descriptor: KhoVmalloc): void {
  const ram = preserver.ram;
  const pagesPerBlock = 2 ** descriptor.order;
  let chunk = descriptor.firstChunkPa;
  while (chunk !== 0) {
    checkChunk(preserver.ram.contains(chunk, PAGE_SIZE), chunk);
    preserver.unpreservePages(chunk, 1);
    forEachChunkEntry(ram, chunk, (block) => preserver.unpreservePages(block, pagesPerBlock));
    const next = ram.readU64Number(chunk);
    preserver.allocator.freePages(chunk, 0);
    chunk = next;
  }
}

/**
 * kho_restore_vmalloc in the next kernel: restores every block (restorePages) and every
 * chunk page, frees the chunk pages through the restorer's allocator (if it has one), and
 * returns the area. Throws EOPNOTSUPP for unknown flags, EUCLEAN for a chunk outside RAM or
 * a count that disagrees with total_pages, EINVAL when a block cannot be restored. The
 * chunk list is checked completely before anything is restored.
 */
export function restoreVmalloc(restorer: KhoRestorer, descriptor: KhoVmalloc, freeChunk?: (pa: number) => void): VmallocArea {
  if ((descriptor.flags & ~KHO_VMALLOC_SUPPORTED_FLAGS) !== 0) throw new KhoError('EOPNOTSUPP', `vmalloc flags 0x${descriptor.flags.toString(16)} are not supported`);
  const ram = restorer.ram;
  const pagesPerBlock = 2 ** descriptor.order;
  const blocks: number[] = [];
  const chunks: number[] = [];
  let chunk = descriptor.firstChunkPa;
  while (chunk !== 0) {
    checkChunk(ram.contains(chunk, PAGE_SIZE) && chunk % PAGE_SIZE === 0 && chunks.length < ram.size / PAGE_SIZE, chunk);
    chunks.push(chunk);
    forEachChunkEntry(ram, chunk, (block) => {
      if (blocks.length * pagesPerBlock + pagesPerBlock > descriptor.totalPages) {
        throw new KhoError('EUCLEAN', `vmalloc chunk list names more than total_pages ${descriptor.totalPages}`);
      }
      blocks.push(block);
    });
    chunk = ram.readU64Number(chunk);
  }
  if (blocks.length * pagesPerBlock !== descriptor.totalPages) {
    throw new KhoError('EUCLEAN', `vmalloc chunk list names ${blocks.length * pagesPerBlock} pages, total_pages is ${descriptor.totalPages}`);
  }
  for (const block of blocks) restorer.restorePages(block, pagesPerBlock);
  for (const page of chunks) {
    restorer.restorePages(page, 1);
    freeChunk?.(page);
  }
  return { blocks, order: descriptor.order, flags: descriptor.flags };
}

// A zeroed, preserved chunk page linked after `previous` (new_vmalloc_chunk).
function newChunk(preserver: KhoPreserver, previous: number | null): number {
  const chunk = preserver.allocator.allocatePages(0);
  if (chunk === null) throw new KhoError('ENOMEM', 'no page for a vmalloc chunk');
  try {
    preserver.preservePages(chunk, 1);
  } catch (error) {
    preserver.allocator.freePages(chunk, 0);
    throw error;
  }
  if (previous !== null) preserver.ram.writeU64Number(previous, chunk);
  return chunk;
}

function forEachChunkEntry(ram: KhoPreserver['ram'], chunk: number, visit: (block: number) => void): void {
  for (let index = 0; index < KHO_VMALLOC_CHUNK_ENTRIES; index++) {
    const block = ram.readU64(chunk + 8 + index * 8);
    if (block === 0n) return;
    if (block > BigInt(Number.MAX_SAFE_INTEGER)) throw new KhoError('EUCLEAN', `vmalloc chunk ${hex(chunk)} entry ${index} is beyond 2^53`);
    visit(Number(block));
  }
}

function checkChunk(valid: boolean, chunk: number): void {
  if (!valid) throw new KhoError('EUCLEAN', `vmalloc chunk pointer ${hex(chunk)} is not a RAM page`);
}
