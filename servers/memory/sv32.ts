// RISC-V Sv32 page tables in guest RAM (RISC-V privileged spec, "Sv32: Page-Based 32-bit
// Virtual-Memory Systems").
//
// A table is one 4 KiB page of 1024 little-endian 32-bit PTEs. Two levels: the root (level 1)
// is indexed by VPN[1] = va[31:22], a level-0 table by VPN[0] = va[21:12]; the page offset is
// va[11:0]. A PTE is
//
//   31        20 19        10 9   8 7 6 5 4 3 2 1 0
//   |  PPN[1]   |   PPN[0]   | RSW |D|A|G|U|X|W|R|V|
//
// and the physical address is PPN × 4096: 34 bits. V=0 is invalid; R=W=X=0 points to the next
// table; anything with R or X is a leaf; W without R is reserved (fault). A leaf in the root maps
// a 4 MiB megapage, which must be 4 MiB aligned (PPN[0] = 0) or the access faults.
//
// Accessed/dirty: we implement the Svade behaviour. An access through a leaf with A=0, or a
// store through a leaf with D=0, raises a page fault and software (the pager) sets the bits; the
// hardware never writes them. map() and protect() therefore set A, and D on writable pages, so
// ordinary mappings never take such faults.
//
// RSW (bits 9:8) are for supervisor software; baton's pager uses them (see address_space.ts).
// Translation faults are returned as PageFault values with the exception code the spec gives
// (instruction 12, load 13, store/AMO 15; access faults 1, 5, 7 when a table lies outside RAM).

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { PageFault, type Access, type FaultReason } from '../../ipc/interfaces/memory_errors.js';
import { InvalidArgumentError, MappingError, MemoryError } from './errors.js';

export const PTE_VALID = 1 << 0;
export const PTE_READ = 1 << 1;
export const PTE_WRITE = 1 << 2;
export const PTE_EXECUTE = 1 << 3;
export const PTE_USER = 1 << 4;
export const PTE_GLOBAL = 1 << 5;
export const PTE_ACCESSED = 1 << 6;
export const PTE_DIRTY = 1 << 7;
/** The two RSW bits, free for supervisor software. */
export const PTE_SOFTWARE_0 = 1 << 8;
export const PTE_SOFTWARE_1 = 1 << 9;
/** The bits a caller chooses for a leaf: R W X U G. */
export const PERMISSION_BITS = PTE_READ | PTE_WRITE | PTE_EXECUTE | PTE_USER | PTE_GLOBAL;
const LOW_BITS = 0x3ff;

export const PTE_SIZE = 4;
export const ENTRIES_PER_TABLE = 1024;
export const MEGAPAGE_SIZE = 4 << 20;
/** Sv32 physical addresses are 34 bits. */
export const PHYSICAL_ADDRESS_LIMIT = 2 ** 34;

/** Exception codes of the scause register for translation failures. */
export const ExceptionCause = {
  InstructionAccessFault: 1,
  LoadAccessFault: 5,
  StoreAccessFault: 7,
  InstructionPageFault: 12,
  LoadPageFault: 13,
  StorePageFault: 15,
} as const;

export type { Access, FaultReason } from '../../ipc/interfaces/memory_errors.js';
export type PrivilegeMode = 'user' | 'supervisor';

/** sstatus bits that change permission checks. */
export interface TranslateOptions {
  /** SUM: supervisor may read and write (not execute) user pages. */
  readonly supervisorUserMemory?: boolean;
  /** MXR: loads from execute-only pages succeed. */
  readonly makeExecutableReadable?: boolean;
}

const NO_OPTIONS: TranslateOptions = {};


// PageFault and PageFaultError are the memory interface's (ipc/interfaces/memory_errors.ts), so clients re-create them.
export { PageFault, PageFaultError } from '../../ipc/interfaces/memory_errors.js';

/** Where page-table pages come from (the buddy allocator, charged to the space's owner). */
export interface TablePages {
  /** A zeroed page for a table. */
  allocateTable(): PhysAddr;
  freeTable(address: PhysAddr): void;
}

export interface WalkStep {
  readonly level: number;
  /** Physical address of the PTE read at this level. */
  readonly address: number;
  readonly pte: number;
}

export interface Walk {
  /** PTEs read, root first. */
  readonly steps: readonly WalkStep[];
  /** The leaf PTE's step if the walk reached one. */
  readonly leaf: WalkStep | undefined;
}

export function virtualPageNumber1(va: number): number {
  return va >>> 22;
}

export function virtualPageNumber0(va: number): number {
  return (va >>> 12) & LOW_BITS;
}

/** A PTE pointing at `address` (page aligned, below 2^34) with the low bits `flags`. */
export function encodePte(address: number, flags: number): number {
  return (address / PAGE_SIZE) * 1024 + (flags & LOW_BITS);
}

/** The physical address a PTE's PPN names. */
export function pteAddress(pte: number): number {
  return (pte >>> 10) * PAGE_SIZE;
}

export function isLeaf(pte: number): boolean {
  return (pte & (PTE_READ | PTE_EXECUTE)) !== 0;
}

/**
 * Checks a valid leaf PTE at `level` for an access, steps 5 to 7 of the spec's algorithm.
 * Returns undefined if it is allowed, else the reason.
 */
export function checkLeaf(pte: number, level: number, access: Access, mode: PrivilegeMode, options: TranslateOptions = NO_OPTIONS): FaultReason | undefined {
  if (access === 'execute') {
    if (!(pte & PTE_EXECUTE)) return 'permission';
  } else if (access === 'read') {
    if (!(pte & PTE_READ) && !(options.makeExecutableReadable && pte & PTE_EXECUTE)) return 'permission';
  } else if (!(pte & PTE_WRITE)) return 'permission';
  if (mode === 'user') {
    if (!(pte & PTE_USER)) return 'supervisor-page-from-user';
  } else if (pte & PTE_USER && (access === 'execute' || !options.supervisorUserMemory)) return 'user-page-from-supervisor';
  if (level === 1 && (pte >>> 10) & LOW_BITS) return 'misaligned-megapage';
  if (!(pte & PTE_ACCESSED)) return 'not-accessed';
  if (access === 'write' && !(pte & PTE_DIRTY)) return 'not-dirty';
  return undefined;
}

/** Physical address of `va` through a leaf PTE at `level`. */
export function leafPhysical(pte: number, level: number, va: number): number {
  return level === 1 ? (pte >>> 20) * MEGAPAGE_SIZE + (va & (MEGAPAGE_SIZE - 1)) : (pte >>> 10) * PAGE_SIZE + (va & (PAGE_SIZE - 1));
}

export function faultCause(access: Access, kind: 'page' | 'access' = 'page'): number {
  if (kind === 'access') return access === 'execute' ? ExceptionCause.InstructionAccessFault : access === 'read' ? ExceptionCause.LoadAccessFault : ExceptionCause.StoreAccessFault;
  return access === 'execute' ? ExceptionCause.InstructionPageFault : access === 'read' ? ExceptionCause.LoadPageFault : ExceptionCause.StorePageFault;
}

/**
 * Translates `va` as the hardware would (spec section "Virtual Address Translation Process"):
 * returns the physical address, or a PageFault. Never writes the tables.
 */
export function translate(ram: Ram, root: number, va: number, access: Access, mode: PrivilegeMode, options: TranslateOptions = NO_OPTIONS): number | PageFault {
  const leaf = findLeaf(ram, root, va, access);
  if (typeof leaf !== 'number') return leaf;
  const level = leaf % 2;
  const pte = (leaf - level) / 2;
  const reason = checkLeaf(pte, level, access, mode, options);
  return reason ? new PageFault(faultCause(access), va, access, reason, level) : leafPhysical(pte, level, va);
}

/**
 * The page walk alone (steps 1 to 4): the leaf PTE for `va` packed as `pte * 2 + level`, or the
 * PageFault an `access` would take before permissions are checked. This is what a TLB is filled from.
 */
export function findLeaf(ram: Ram, root: number, va: number, access: Access): number | PageFault {
  checkVirtual(va);
  let table = root;
  for (let level = 1; level >= 0; level--) {
    const entry = table + (level === 1 ? va >>> 22 : (va >>> 12) & LOW_BITS) * PTE_SIZE;
    if (!ram.contains(entry, PTE_SIZE)) return new PageFault(faultCause(access, 'access'), va, access, 'table-outside-ram', level);
    const pte = ram.view.getUint32(entry - ram.base, true);
    if (!(pte & PTE_VALID)) return new PageFault(faultCause(access), va, access, 'invalid', level);
    if (!(pte & PTE_READ) && pte & PTE_WRITE) return new PageFault(faultCause(access), va, access, 'reserved-encoding', level);
    if (pte & (PTE_READ | PTE_EXECUTE)) return pte * 2 + level;
    table = (pte >>> 10) * PAGE_SIZE;
  }
  return new PageFault(faultCause(access), va, access, 'pointer-at-level-0', 0);
}

/** The PTEs a translation of `va` reads, root first, without permission checks. */
export function walk(ram: Ram, root: number, va: number): Walk {
  checkVirtual(va);
  const steps: WalkStep[] = [];
  let table = root;
  for (let level = 1; level >= 0; level--) {
    const address = table + (level === 1 ? virtualPageNumber1(va) : virtualPageNumber0(va)) * PTE_SIZE;
    if (!ram.contains(address, PTE_SIZE)) break;
    const pte = ram.readU32(address);
    const step = { level, address, pte };
    steps.push(step);
    if (!(pte & PTE_VALID) || (!(pte & PTE_READ) && pte & PTE_WRITE)) break;
    if (isLeaf(pte)) return { steps, leaf: step };
    table = pteAddress(pte);
  }
  return { steps, leaf: undefined };
}

/**
 * Maps `va` to `pa` with `permissions` (R W X U G bits, plus RSW bits `software`), as a 4 KiB
 * page or, with `megapage`, a 4 MiB megapage. Sets V and A, and D when writable. Allocates a
 * level-0 table if needed (before writing anything, so a failed allocation changes nothing).
 * Throws MAPPING_EXISTS if anything is already mapped there, INVALID_ARGUMENT for bad input.
 */
export function map(ram: Ram, tables: TablePages, root: number, va: number, pa: number, permissions: number, options: { megapage?: boolean; software?: number } = {}): void {
  checkVirtual(va);
  checkPermissions(permissions);
  const size = options.megapage ? MEGAPAGE_SIZE : PAGE_SIZE;
  if (va % size !== 0 || pa % size !== 0 || !(pa >= 0 && pa + size <= PHYSICAL_ADDRESS_LIMIT) || !Number.isSafeInteger(pa)) {
    throw new InvalidArgumentError(`cannot map ${hex(va)} -> ${hex(pa)}: both must be ${options.megapage ? '4 MiB' : '4 KiB'} aligned and pa below 2^34`, { va, pa });
  }
  const software = (options.software ?? 0) & (PTE_SOFTWARE_0 | PTE_SOFTWARE_1);
  installLeaf(ram, tables, root, va, encodePte(pa, permissions | software | PTE_VALID | PTE_ACCESSED | (permissions & PTE_WRITE ? PTE_DIRTY : 0)), options.megapage ? 1 : 0);
}

/**
 * Writes the leaf PTE `leaf` for `va` at `level` (1: megapage), allocating a level-0 table if
 * needed. The caller has checked alignment and the PTE. Throws MAPPING_EXISTS, changing nothing.
 */
export function installLeaf(ram: Ram, tables: TablePages, root: number, va: number, leaf: number, level: number): void {
  const rootEntry = root + virtualPageNumber1(va) * PTE_SIZE;
  const rootPte = ram.readU32(rootEntry);
  if (level === 1) {
    if (rootPte & PTE_VALID) throw new MappingError('MAPPING_EXISTS', `${hex(va)}: the 4 MiB range already has a ${isLeaf(rootPte) ? 'megapage' : 'page table'}`, { va });
    ram.writeU32(rootEntry, leaf);
    return;
  }
  let table: number;
  if (rootPte & PTE_VALID) {
    if (isLeaf(rootPte) || rootPte & PTE_WRITE) throw new MappingError('MAPPING_EXISTS', `${hex(va)} lies in a megapage`, { va });
    table = pteAddress(rootPte);
    const entry = table + virtualPageNumber0(va) * PTE_SIZE;
    if (ram.readU32(entry) & PTE_VALID) throw new MappingError('MAPPING_EXISTS', `${hex(va)} is already mapped`, { va });
    ram.writeU32(entry, leaf);
    return;
  }
  table = tables.allocateTable();
  ram.writeU32(table + virtualPageNumber0(va) * PTE_SIZE, leaf);
  ram.writeU32(rootEntry, encodePte(table, PTE_VALID));
}

/** Clears the leaf mapping `va` (a page or a whole megapage); returns the old leaf. Throws NOT_MAPPED. */
export function unmap(ram: Ram, root: number, va: number): WalkStep {
  const leaf = requireLeaf(ram, root, va);
  ram.writeU32(leaf.address, 0);
  return leaf;
}

/**
 * Replaces the R W X U G bits of the leaf mapping `va`, keeping PPN, RSW and A, setting D when
 * it becomes writable. Returns the old leaf. Throws NOT_MAPPED.
 */
export function protect(ram: Ram, root: number, va: number, permissions: number): WalkStep {
  checkPermissions(permissions);
  const leaf = requireLeaf(ram, root, va);
  const kept = leaf.pte & ~(PERMISSION_BITS | PTE_DIRTY);
  const dirty = permissions & PTE_WRITE ? PTE_DIRTY : leaf.pte & PTE_DIRTY;
  ram.writeU32(leaf.address, (kept | permissions | dirty) >>> 0);
  return leaf;
}

/** Rewrites the leaf PTE mapping `va` as `update(old)` returns it; returns the old leaf. Throws NOT_MAPPED. */
export function updateLeaf(ram: Ram, root: number, va: number, update: (pte: number) => number): WalkStep {
  const leaf = requireLeaf(ram, root, va);
  ram.writeU32(leaf.address, update(leaf.pte) >>> 0);
  return leaf;
}

/** Calls `visit` for every valid leaf under `root`, in address order. */
export function forEachLeaf(ram: Ram, root: number, visit: (va: number, leaf: WalkStep) => void): void {
  for (let index1 = 0; index1 < ENTRIES_PER_TABLE; index1++) {
    const address1 = root + index1 * PTE_SIZE;
    const pte1 = ram.readU32(address1);
    if (!(pte1 & PTE_VALID)) continue;
    const base = index1 * MEGAPAGE_SIZE;
    if (isLeaf(pte1)) {
      visit(base, { level: 1, address: address1, pte: pte1 });
      continue;
    }
    const table = pteAddress(pte1);
    for (let index0 = 0; index0 < ENTRIES_PER_TABLE; index0++) {
      const address0 = table + index0 * PTE_SIZE;
      const pte0 = ram.readU32(address0);
      if (pte0 & PTE_VALID && isLeaf(pte0)) visit(base + index0 * PAGE_SIZE, { level: 0, address: address0, pte: pte0 });
    }
  }
}

/** Frees every level-0 table under `root`, then `root` itself. Leaves are not touched. */
export function freeTables(ram: Ram, tables: TablePages, root: number): void {
  for (let index1 = 0; index1 < ENTRIES_PER_TABLE; index1++) {
    const pte1 = ram.readU32(root + index1 * PTE_SIZE);
    if (pte1 & PTE_VALID && !isLeaf(pte1)) tables.freeTable(pteAddress(pte1) as PhysAddr);
  }
  tables.freeTable(root as PhysAddr);
}

/** Builds R W X U G bits from a string such as "rw", "rx", "r-xu" (u: user, g: global). */
export function permissions(spec: string): number {
  let bits = 0;
  for (const letter of spec) {
    if (letter === 'r') bits |= PTE_READ;
    else if (letter === 'w') bits |= PTE_WRITE;
    else if (letter === 'x') bits |= PTE_EXECUTE;
    else if (letter === 'u') bits |= PTE_USER;
    else if (letter === 'g') bits |= PTE_GLOBAL;
    else if (letter !== '-') throw new InvalidArgumentError(`unknown permission letter '${letter}' in "${spec}"`, { spec });
  }
  return bits;
}

function requireLeaf(ram: Ram, root: number, va: number): WalkStep {
  const { leaf } = walk(ram, root, va);
  if (!leaf) throw new MappingError('NOT_MAPPED', `${hex(va)} is not mapped`, { va });
  return leaf;
}

function checkVirtual(va: number): void {
  if (!(va >= 0 && va <= 0xffff_ffff && Math.floor(va) === va)) throw new InvalidArgumentError(`not a 32-bit virtual address: ${va}`, { va: Number(va) });
}

function checkPermissions(bits: number): void {
  if ((bits & ~PERMISSION_BITS) !== 0 || !(bits & (PTE_READ | PTE_EXECUTE)) || (bits & PTE_WRITE && !(bits & PTE_READ))) {
    throw new InvalidArgumentError(`permissions ${bits.toString(2)} are not a valid leaf: need R or X, W needs R, only R W X U G`, { permissions: bits });
  }
}
