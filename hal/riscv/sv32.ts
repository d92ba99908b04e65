// Sv32 translation as the hart's page walker does it, from the raw PTE bits in RAM (the
// privileged spec, "Sv32: Page-Based 32-bit Virtual-Memory Systems" and "Virtual Address
// Translation Process"). The memory server writes tables in this format; the facts are
// repeated here because hal knows nothing above it.
//
//   satp:  MODE (bit 31: 1 = Sv32) | ASID (bits 30:22) | PPN of the root table (21:0)
//   PTE:   PPN[1] (31:20) | PPN[0] (19:10) | RSW (9:8) | D A G U X W R V (7:0)
//
// The hart implements Svade: it never writes PTEs. An access through a leaf with A = 0, or
// a store through one with D = 0, is a page fault, and the kernel (the memory server) sets
// the bit and resumes. Only U-mode accesses are walked: a leaf needs U = 1.

export const PTE_V = 1, PTE_R = 2, PTE_W = 4, PTE_X = 8, PTE_U = 16, PTE_G = 32, PTE_A = 64, PTE_D = 128;
export const SATP_MODE_SV32 = 0x8000_0000;
export const ASID_BITS = 9;
export const PAGE_BYTES = 4096;
export const MEGAPAGE_BYTES = 4 << 20;

export const Access = { Fetch: 0, Load: 1, Store: 2 } as const;
export type AccessKind = (typeof Access)[keyof typeof Access];

/** The page-fault and access-fault exception codes for each access kind. */
export const PAGE_FAULT = [12, 13, 15] as const;
export const ACCESS_FAULT = [1, 5, 7] as const;

export function satpAsid(satp: number): number { return (satp >>> 22) & ((1 << ASID_BITS) - 1); }
export function satpRoot(satp: number): number { return (satp & 0x3f_ffff) * PAGE_BYTES; }
export function satpTranslates(satp: number): boolean { return (satp & SATP_MODE_SV32) !== 0; }
export function makeSatp(rootAddress: number, asid: number): number {
  return (SATP_MODE_SV32 | (asid << 22) | Math.floor(rootAddress / PAGE_BYTES)) >>> 0;
}

/** A leaf the walk found: the PTE and its level (1: a 4 MiB megapage, 0: a 4 KiB page). */
export interface Leaf {
  readonly pte: number;
  readonly level: 0 | 1;
}

/** Reads the 32-bit word at physical address `address`, or undefined if no RAM is there. */
export type PhysicalReader = (address: number) => number | undefined;

/**
 * Steps 1 to 4 of the walk: the leaf mapping `va` under the root at `root`, or the exception
 * code an access of `kind` takes (page fault; access fault when a table lies outside RAM).
 * Permissions are not checked here (checkLeaf does).
 */
export function findLeaf(read: PhysicalReader, root: number, va: number, kind: AccessKind): Leaf | number {
  let table = root;
  for (let level = 1; level >= 0; level--) {
    const index = level === 1 ? va >>> 22 : (va >>> 12) & 0x3ff;
    const pte = read(table + index * 4);
    if (pte === undefined) return ACCESS_FAULT[kind];
    if (!(pte & PTE_V) || (!(pte & PTE_R) && pte & PTE_W)) return PAGE_FAULT[kind];
    if (pte & (PTE_R | PTE_X)) {
      if (level === 1 && ((pte >>> 10) & 0x3ff) !== 0) return PAGE_FAULT[kind]; // misaligned megapage
      return { pte: pte >>> 0, level: level as 0 | 1 };
    }
    table = (pte >>> 10) * PAGE_BYTES;
  }
  return PAGE_FAULT[kind]; // a pointer PTE at level 0
}

/** Steps 5 to 7 for a U-mode access: true if the leaf allows it (U, R/W/X, MXR, A, and D for stores). */
export function leafAllows(pte: number, kind: AccessKind, makeExecutableReadable: boolean): boolean {
  if (!(pte & PTE_U) || !(pte & PTE_A)) return false;
  if (kind === Access.Fetch) return (pte & PTE_X) !== 0;
  if (kind === Access.Load) return (pte & PTE_R) !== 0 || (makeExecutableReadable && (pte & PTE_X) !== 0);
  return (pte & PTE_W) !== 0 && (pte & PTE_D) !== 0;
}

/** The physical address of the 4 KiB page holding `va` through `leaf`. */
export function leafPage(leaf: Leaf, va: number): number {
  return leaf.level === 1
    ? (leaf.pte >>> 20) * MEGAPAGE_BYTES + (va & (MEGAPAGE_BYTES - PAGE_BYTES))
    : (leaf.pte >>> 10) * PAGE_BYTES;
}
