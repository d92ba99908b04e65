// The memory server's state region: all of its allocator state in guest RAM, so that a new
// generation reattaches to what the previous one left (the kernel reserves the region at
// boot and passes it to every generation as config `state`; ipc/interfaces/memory_state.ts
// sizes it).
//
// Layout (little-endian, every part 8-byte aligned):
//   header (one page)  u32 words: magic "BMEM", version, status (formatting | ready), RAM base
//                      and size it was formatted for, journal length, table slot in use, the
//                      two slots' byte lengths; then i32 buddy scalars (hot-cache length, free
//                      pages, managed pages), free-list heads, free counts, the hot cache
//   journal            undo entries (journal.ts)
//   owner accounts     u32 pages charged, u32 limits, per owner id
//   per-page records   u32 references, i32 next, i32 previous, u16 owner, u8 state, u8 order
//   tables             two slots of JSON (grants, address spaces, contiguous runs, owner names,
//                      the service's records), written alternately
//
// Consistency: every word of the header scalars, accounts and per-page records is changed
// through the journal. The tables change by writing the whole new table into the slot not in
// use and then switching the slot word (itself journaled), once per operation, just before the
// journal is committed; so rolling the journal back also selects the tables as they were.
// Page-table entries are journaled too (journaledRam). A generation finding status `ready`
// rolls back whatever the journal holds and is exactly where the last finished operation left
// it; status `formatting` means the first generation died while building the state, before it
// served anything, so the next formats again.

import type { Ram } from '../../hal/ram.js';
import {
  MEMORY_STATE_HEADER_BYTES, MEMORY_STATE_JOURNAL_ENTRIES, MEMORY_STATE_MAGIC, MEMORY_STATE_READY, MEMORY_STATE_VERSION, MEMORY_STATE_JOURNAL_ENTRY_BYTES, MEMORY_STATE_OWNERS,
  MEMORY_STATE_TABLE_BYTES, memoryStateBytes, memoryStatePages,
} from '../../ipc/interfaces/memory_state.js';
import { InvalidArgumentError, OutOfMemoryError } from './errors.js';
import { Journal } from './journal.js';

const MAGIC = MEMORY_STATE_MAGIC; // "BMEM"
const VERSION = MEMORY_STATE_VERSION;
const STATUS_FORMATTING = 1;
const STATUS_READY = MEMORY_STATE_READY;
const MAGIC_AT = 0, VERSION_AT = 1, STATUS_AT = 2, RAM_BASE_AT = 3, RAM_SIZE_AT = 4, JOURNAL_LENGTH_AT = 5, SLOT_AT = 6, SLOT_LENGTH_AT = 7;
/** Word offsets of the i32 parts of the header. */
const SCALARS_AT = 16, HEADS_AT = 32, FREE_COUNTS_AT = 48, CACHE_AT = 64;
const SCALAR_WORDS = 3;
export const HOT_CACHE_CAPACITY = 32;
const ORDERS = 11;

/** The buddy allocator's and the owner accounts' arrays, as views of the region (or the heap). */
export interface AllocatorStorage {
  readonly pageCount: number;
  readonly state: Uint8Array;
  readonly order: Uint8Array;
  readonly owner: Uint16Array;
  readonly references: Uint32Array;
  readonly next: Int32Array;
  readonly previous: Int32Array;
  /** Free-list head per order (-1: empty). */
  readonly heads: Int32Array;
  readonly freeCounts: Int32Array;
  readonly cache: Int32Array;
  /** [hot-cache length, free pages, managed pages]. */
  readonly scalars: Int32Array;
  readonly charges: Uint32Array;
  readonly limits: Uint32Array;
  readonly journal: Journal;
}

export const SCALAR_CACHED = 0;
export const SCALAR_FREE_PAGES = 1;
export const SCALAR_MANAGED_PAGES = 2;

/** Arrays in the thread's heap, with a disabled journal: state that does not survive the thread. */
export function heapStorage(pageCount: number): AllocatorStorage {
  return {
    pageCount,
    state: new Uint8Array(pageCount),
    order: new Uint8Array(pageCount),
    owner: new Uint16Array(pageCount),
    references: new Uint32Array(pageCount),
    next: new Int32Array(pageCount),
    previous: new Int32Array(pageCount),
    heads: new Int32Array(ORDERS),
    freeCounts: new Int32Array(ORDERS),
    cache: new Int32Array(HOT_CACHE_CAPACITY),
    scalars: new Int32Array(SCALAR_WORDS),
    charges: new Uint32Array(MEMORY_STATE_OWNERS),
    limits: new Uint32Array(MEMORY_STATE_OWNERS),
    journal: Journal.disabled(),
  };
}

export class StateRegion {
  readonly ram: Ram;
  readonly base: number;
  readonly size: number;
  readonly storage: AllocatorStorage;
  readonly #header: Uint32Array;
  readonly #tables: [Uint8Array, Uint8Array];
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  private constructor(ram: Ram, base: number, size: number) {
    const needed = memoryStateBytes(ram.base, ram.size);
    if (!Number.isSafeInteger(base) || base % 8 !== 0 || !ram.contains(base, needed) || size < needed) {
      throw new InvalidArgumentError(`memory server state region 0x${base.toString(16)}+${size} must be ${needed} bytes inside RAM`, { base, size, needed });
    }
    this.ram = ram;
    this.base = base;
    this.size = size;
    const buffer = ram.buffer;
    let offset = ram.offset(base, needed);
    const take = (bytes: number): number => {
      const at = offset;
      offset += Math.ceil(bytes / 8) * 8;
      return at;
    };
    const pageCount = memoryStatePages(ram.base, ram.size);
    const header = new Uint32Array(buffer, take(MEMORY_STATE_HEADER_BYTES), MEMORY_STATE_HEADER_BYTES / 4);
    const entries = new Int32Array(buffer, take(MEMORY_STATE_JOURNAL_ENTRIES * MEMORY_STATE_JOURNAL_ENTRY_BYTES), MEMORY_STATE_JOURNAL_ENTRIES * 3);
    const headerInts = new Int32Array(header.buffer, header.byteOffset, header.length);
    this.#header = header;
    this.storage = {
      pageCount,
      charges: new Uint32Array(buffer, take(MEMORY_STATE_OWNERS * 4), MEMORY_STATE_OWNERS),
      limits: new Uint32Array(buffer, take(MEMORY_STATE_OWNERS * 4), MEMORY_STATE_OWNERS),
      references: new Uint32Array(buffer, take(pageCount * 4), pageCount),
      next: new Int32Array(buffer, take(pageCount * 4), pageCount),
      previous: new Int32Array(buffer, take(pageCount * 4), pageCount),
      owner: new Uint16Array(buffer, take(pageCount * 2), pageCount),
      state: new Uint8Array(buffer, take(pageCount), pageCount),
      order: new Uint8Array(buffer, take(pageCount), pageCount),
      scalars: headerInts.subarray(SCALARS_AT, SCALARS_AT + SCALAR_WORDS),
      heads: headerInts.subarray(HEADS_AT, HEADS_AT + ORDERS),
      freeCounts: headerInts.subarray(FREE_COUNTS_AT, FREE_COUNTS_AT + ORDERS),
      cache: headerInts.subarray(CACHE_AT, CACHE_AT + HOT_CACHE_CAPACITY),
      journal: Journal.over(buffer, header, JOURNAL_LENGTH_AT, entries),
    };
    this.#tables = [new Uint8Array(buffer, take(MEMORY_STATE_TABLE_BYTES), MEMORY_STATE_TABLE_BYTES), new Uint8Array(buffer, take(MEMORY_STATE_TABLE_BYTES), MEMORY_STATE_TABLE_BYTES)];
  }

  /**
   * Starts a new state in [base, base + size): status `formatting`, everything zero. The
   * caller builds the allocator over storage, writes the tables, then calls markReady().
   */
  static format(ram: Ram, base: number, size: number): StateRegion {
    const region = new StateRegion(ram, base, size);
    const header = region.#header;
    header[STATUS_AT] = 0;
    ram.fill(base, memoryStateBytes(ram.base, ram.size), 0);
    header[VERSION_AT] = VERSION;
    header[RAM_BASE_AT] = ram.base;
    header[RAM_SIZE_AT] = ram.size;
    header[STATUS_AT] = STATUS_FORMATTING;
    header[MAGIC_AT] = MAGIC;
    return region;
  }

  /**
   * The state the previous generation left in [base, base + size), or why there is none to
   * attach to: `formatting` (it died before serving: format again) or a reason (refuse).
   */
  static attach(ram: Ram, base: number, size: number): { region: StateRegion } | { formatting: true } | { reason: string } {
    const region = new StateRegion(ram, base, size);
    const header = region.#header;
    if (header[MAGIC_AT] !== MAGIC) return { reason: `no memory server state at 0x${base.toString(16)} (magic 0x${header[MAGIC_AT]!.toString(16)})` };
    if (header[VERSION_AT] !== VERSION) return { reason: `memory server state version ${header[VERSION_AT]}, this server reads ${VERSION}` };
    if (header[RAM_BASE_AT] !== ram.base || header[RAM_SIZE_AT] !== ram.size) return { reason: 'the memory server state describes other RAM' };
    if (header[STATUS_AT] === STATUS_FORMATTING) return { formatting: true };
    if (header[STATUS_AT] !== STATUS_READY) return { reason: `memory server state has status ${header[STATUS_AT]}` };
    if (header[JOURNAL_LENGTH_AT]! > MEMORY_STATE_JOURNAL_ENTRIES || header[SLOT_AT]! > 1) return { reason: 'the memory server state header is corrupt' };
    return { region };
  }

  /** The state is complete: a new generation may attach to it from now on. */
  markReady(): void {
    this.#header[STATUS_AT] = STATUS_READY;
  }

  /**
   * Writes `tables` into the slot not in use and switches to it (the switch is journaled,
   * so a rollback returns to the previous slot, which this never overwrote). Call at most
   * once between commits. Throws OutOfMemoryError, changing nothing, if they do not fit.
   */
  writeTables(tables: unknown): void {
    const bytes = this.#encoder.encode(JSON.stringify(tables));
    if (bytes.length > MEMORY_STATE_TABLE_BYTES) {
      throw new OutOfMemoryError(`the memory server's tables (grants, address spaces, names) would take ${bytes.length} bytes; the state region holds ${MEMORY_STATE_TABLE_BYTES}`, { bytes: bytes.length });
    }
    const slot = this.#header[SLOT_AT] === 0 ? 1 : 0;
    this.#tables[slot].set(bytes);
    this.#header[SLOT_LENGTH_AT + slot] = bytes.length;
    this.storage.journal.record(this.#header, SLOT_AT);
    this.#header[SLOT_AT] = slot;
  }

  /** The tables of the slot in use (undefined before the first writeTables). */
  readTables(): unknown {
    const slot = this.#header[SLOT_AT]!;
    const length = this.#header[SLOT_LENGTH_AT + slot]!;
    if (length === 0) return undefined;
    if (length > MEMORY_STATE_TABLE_BYTES) throw new Error(`memory server state: table slot ${slot} claims ${length} bytes`);
    return JSON.parse(this.#decoder.decode(this.#tables[slot].slice(0, length))) as unknown;
  }
}
