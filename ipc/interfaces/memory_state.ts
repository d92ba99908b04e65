// The memory server's state region: how much RAM the kernel reserves for it at boot.
//
// The memory server keeps all of its allocator state (the buddy's per-page records and free
// lists, the per-owner accounts, an undo journal, and the tables of grants, address spaces,
// contiguous runs and owner names) in one region of guest RAM that the kernel reserves at
// boot and hands to every generation (config `state`), so a restarted memory server
// reattaches instead of starting empty. The kernel needs only the size; the layout is the
// server's (servers/memory/state_region.ts), built from the same numbers below.

const PAGE_SIZE = 4096;
/** Pages per maximum-order buddy block: the per-page records cover RAM from a 4 MiB-aligned page. */
const SPAN_ALIGNMENT_PAGES = 1024;

/** The header's first words (u32, little-endian): magic "BMEM", version, status; the kernel watches them while the server runs. */
export const MEMORY_STATE_MAGIC = 0x4d454d42;
export const MEMORY_STATE_VERSION = 1;
/** Status: the state is complete and in use (a new generation may attach). */
export const MEMORY_STATE_READY = 2;

/** The region's first page: magic, version, status, the journal's length, the buddy's scalars. */
export const MEMORY_STATE_HEADER_BYTES = PAGE_SIZE;
/** Undo journal entries (12 bytes each): the most words one operation may change. */
export const MEMORY_STATE_JOURNAL_ENTRIES = 65536;
export const MEMORY_STATE_JOURNAL_ENTRY_BYTES = 12;
/** Owner ids 0..0xffff: a page count and a limit each. */
export const MEMORY_STATE_OWNERS = 0x10000;
/** Each of the two table slots (JSON: grants, address spaces, runs, owner names). */
export const MEMORY_STATE_TABLE_BYTES = 256 * 1024;
/** Bytes of per-page records: references, next and previous (4 each), owner (2), state and order (1 each). */
export const MEMORY_STATE_BYTES_PER_PAGE = 16;

/** Pages the buddy's per-page records cover for RAM at [base, base + size): from the 4 MiB-aligned page at or below base. */
export function memoryStatePages(ramBase: number, ramSize: number): number {
  const firstPage = Math.floor(ramBase / PAGE_SIZE);
  const spanFirstPage = firstPage - (firstPage % SPAN_ALIGNMENT_PAGES);
  return Math.ceil((ramBase + ramSize) / PAGE_SIZE) - spanFirstPage;
}

/** Size of the state region (whole pages) for RAM at [base, base + size): 2.75 MiB for 256 MiB, 9.75 MiB for 2 GiB. */
export function memoryStateBytes(ramBase: number, ramSize: number): number {
  const pages = roundUp8(memoryStatePages(ramBase, ramSize));
  const bytes = MEMORY_STATE_HEADER_BYTES
    + MEMORY_STATE_JOURNAL_ENTRIES * MEMORY_STATE_JOURNAL_ENTRY_BYTES
    + MEMORY_STATE_OWNERS * 8
    + pages * MEMORY_STATE_BYTES_PER_PAGE
    + 2 * MEMORY_STATE_TABLE_BYTES;
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

function roundUp8(value: number): number {
  return Math.ceil(value / 8) * 8;
}
