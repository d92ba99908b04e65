// The root KHO FDT (KHO-ABI.md §4), kept in one preserved 4 KiB page of guest RAM:
//
//   / { compatible = "kho-v2";
//       preserved-memory-map = <u64 LE: pa of the radix tree root>;
//       <client> { preserved-data = <u64 LE: pa of the client's blob>; }; ... };
//
// As in Linux the page is allocated with kho_alloc_preserve(PAGE_SIZE), so it is itself an
// order-0 key, and the blob is rewritten in place (packed, totalsize = bytes used) on every
// add/remove. The root pa is written once; preserving memory only changes the tree.
// The blob's content matches Linux's; its strings block is laid out as dtc does (libfdt
// shares string suffixes and orders strings differently), which no reader depends on.

import { PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { encodeFdt } from '../../hal/fdt/encode.js';
import { FdtError, findChild, getProperty, node, type Fdt, type FdtNode } from '../../hal/fdt/tree.js';
import { fdtRead, fdtValue } from '../../hal/fdt/values.js';
import { KhoError } from './errors.js';
import type { KhoPreserver } from './preserve.js';

export const KHO_FDT_COMPATIBLE = 'kho-v2';
export const KHO_FDT_MEMORY_MAP_PROP_NAME = 'preserved-memory-map';
export const KHO_FDT_SUB_TREE_PROP_NAME = 'preserved-data';
/** The KHO FDT handed to the next kernel always has this size (linux,kho-fdt = <pa PAGE_SIZE>). */
export const KHO_FDT_SIZE = PAGE_SIZE;

export interface Subtree {
  readonly name: string;
  /** Physical address of the client's blob, or null if its preserved-data is missing or not 8 bytes. */
  readonly pa: number | null;
}

/** The u64 native value of `name` in `target`, or null if absent, not 8 bytes or beyond 2^53. */
export function readNativeU64(target: FdtNode, name: string): number | null {
  const value = getProperty(target, name);
  if (!value || value.length !== 8) return null;
  const number = fdtRead.u64Native(value);
  return number > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(number);
}

/** The children of a KHO root node as subtrees. */
export function listSubtrees(root: FdtNode): Subtree[] {
  return root.children.map((child) => ({ name: child.name, pa: readNativeU64(child, KHO_FDT_SUB_TREE_PROP_NAME) }));
}

/** The outgoing root KHO FDT page. */
export class KhoOutgoingFdt {
  readonly ram: Ram;
  readonly pa: number;

  private constructor(ram: Ram, pa: number) {
    this.ram = ram;
    this.pa = pa;
  }

  /** Allocates and preserves the page (allocPreserve) and writes the empty root (kho_out_fdt_setup). */
  static create(preserver: KhoPreserver): KhoOutgoingFdt {
    const pa = preserver.allocPreserve(KHO_FDT_SIZE);
    const fdt = new KhoOutgoingFdt(preserver.ram, pa);
    fdt.#write({
      root: node('', {
        compatible: fdtValue.string(KHO_FDT_COMPATIBLE),
        [KHO_FDT_MEMORY_MAP_PROP_NAME]: fdtValue.u64Native(preserver.tree.rootPa),
      }),
      reservations: [],
      bootCpuId: 0,
    });
    return fdt;
  }

  /** Reopens the page written by an earlier instance (a restarted KHO server). Throws EUCLEAN if it is not a KHO FDT. */
  static open(ram: Ram, pa: number): KhoOutgoingFdt {
    const fdt = new KhoOutgoingFdt(ram, pa);
    const root = fdt.decode().root;
    const compatible = getProperty(root, 'compatible');
    if (!compatible || !safeStrings(compatible).includes(KHO_FDT_COMPATIBLE)) {
      throw new KhoError('EUCLEAN', `FDT at ${hex(pa)} is not compatible with ${KHO_FDT_COMPATIBLE}`);
    }
    return fdt;
  }

  /** Physical address of the radix tree root recorded in the FDT. */
  get treeRootPa(): number {
    const pa = readNativeU64(this.decode().root, KHO_FDT_MEMORY_MAP_PROP_NAME);
    if (pa === null || pa === 0) throw new KhoError('EUCLEAN', `FDT at ${hex(this.pa)} has no valid ${KHO_FDT_MEMORY_MAP_PROP_NAME}`);
    return pa;
  }

  /**
   * Records client `name` with its blob at `blobPa` (the client preserves the blob itself).
   * EEXIST if a child of that name exists, EINVAL for a name the FDT format refuses, ENOMEM
   * when the page is full (libfdt's -FDT_ERR_NOSPACE, which Linux returns as -ENOMEM).
   */
  addSubtree(name: string, blobPa: number): void {
    if (typeof name !== 'string' || name.length === 0 || name.includes('/')) throw new KhoError('EINVAL', `invalid subtree name ${JSON.stringify(name)}`);
    if (!Number.isSafeInteger(blobPa) || blobPa < 0) throw new KhoError('EINVAL', `invalid blob address ${blobPa}`);
    const fdt = this.decode();
    if (findChild(fdt.root, name)) throw new KhoError('EEXIST', `subtree ${name} already exists`);
    fdt.root.children.push(node(name, { [KHO_FDT_SUB_TREE_PROP_NAME]: fdtValue.u64Native(blobPa) }));
    let blob: Uint8Array;
    try {
      blob = encodeFdt(fdt);
    } catch (error) {
      if (error instanceof FdtError) throw new KhoError('EINVAL', `subtree name ${JSON.stringify(name)}: ${error.message}`);
      throw error;
    }
    if (blob.length > KHO_FDT_SIZE) throw new KhoError('ENOMEM', `KHO FDT would need ${blob.length} bytes, the page holds ${KHO_FDT_SIZE}`);
    this.#writeBlob(blob);
  }

  /** Removes the first child whose preserved-data equals `blobPa`; returns whether one was removed. */
  removeSubtree(blobPa: number): boolean {
    const fdt = this.decode();
    const index = fdt.root.children.findIndex((child) => readNativeU64(child, KHO_FDT_SUB_TREE_PROP_NAME) === blobPa);
    if (index < 0) return false;
    fdt.root.children.splice(index, 1);
    this.#write(fdt);
    return true;
  }

  subtrees(): Subtree[] {
    return listSubtrees(this.decode().root);
  }

  /** A copy of the blob (totalsize bytes), as debugfs kho/out/fdt shows it. */
  bytes(): Uint8Array {
    const totalSize = new DataView(this.ram.buffer, this.ram.offset(this.pa, 8), 8).getUint32(4);
    return this.ram.read(this.pa, Math.min(totalSize, KHO_FDT_SIZE));
  }

  decode(): Fdt {
    try {
      return decodeFdt(this.ram.subarray(this.pa, KHO_FDT_SIZE));
    } catch (error) {
      if (error instanceof FdtError) throw new KhoError('EUCLEAN', `KHO FDT at ${hex(this.pa)} is corrupt: ${error.message}`);
      throw error;
    }
  }

  #write(fdt: Fdt): void {
    this.#writeBlob(encodeFdt(fdt));
  }

  #writeBlob(blob: Uint8Array): void {
    this.ram.write(this.pa, blob);
    this.ram.fill(this.pa + blob.length, KHO_FDT_SIZE - blob.length, 0);
  }
}

/** A compatible-style string list, or [] if the bytes are not one. */
export function safeStrings(value: Uint8Array): string[] {
  try {
    return fdtRead.strings(value);
  } catch {
    return [];
  }
}
