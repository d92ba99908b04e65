// The memory server's undo journal: every word of state an operation changes is logged
// (where, how wide, the old value) before it is written, so that an operation a crash
// cuts short can be undone by the next generation.
//
// The journal lives in the state region (state_region.ts) with everything else. Its length
// word is the commit point: an entry is filled in before the length counts it, and the
// logged word is written only after that, so at any instant the journal holds the old value
// of every word the unfinished operation has touched. commit() (length 0, one aligned store)
// ends an operation; rollback() writes the old values back, newest first, and is what a new
// generation does with a journal that is not empty. Page-table entries in guest RAM are
// logged the same way (journaledRam).
//
// Without a region (the heap-backed allocator of unit tests and tools) the journal is
// disabled and record() returns at once.

import type { Ram } from '../../hal/ram.js';
import { OutOfMemoryError } from './errors.js';

export type StateArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/** An operation changed more words than the journal holds; it has been rolled back. */
export class JournalFullError extends OutOfMemoryError {
  constructor(capacity: number) {
    super(`the operation changes more than the ${capacity} words the memory server's journal holds; nothing was changed`, { journalEntries: capacity });
  }
}

/** Thrown by record() when a test asked for a crash at this point (crashAfter). */
export class SimulatedCrash extends Error {
  constructor() {
    super('simulated crash');
  }
}

export class Journal {
  readonly enabled: boolean;
  readonly capacity: number;
  /** The journal's length word, alone in a one-element view (the commit point). */
  readonly #length: Uint32Array;
  readonly #entries: Int32Array;
  /** Entries before record() stops: the capacity, or crashAfter when a test set it lower. */
  #limit: number;
  #crashAfter = Infinity;
  readonly #view: DataView | undefined;
  /** False when disabled or suspended: record() returns at once. */
  #active: boolean;

  private constructor(enabled: boolean, length: Uint32Array, lengthIndex: number, entries: Int32Array, view: DataView | undefined) {
    this.enabled = enabled;
    this.#length = new Uint32Array(length.buffer, length.byteOffset + lengthIndex * 4, 1);
    this.#entries = entries;
    this.capacity = entries.length / 3;
    this.#limit = this.capacity;
    this.#view = view;
    this.#active = enabled;
  }

  /**
   * For crash tests: record() throws SimulatedCrash instead of logging entry number
   * `crashAfter` (0-based), leaving the operation cut short exactly there.
   */
  get crashAfter(): number {
    return this.#crashAfter;
  }

  set crashAfter(entries: number) {
    this.#crashAfter = entries;
    this.#limit = Math.min(this.capacity, entries);
  }

  /** Stops logging (while the first generation builds the state, which no one can attach to yet). */
  suspend(): void {
    this.#active = false;
  }

  resume(): void {
    this.#active = this.enabled;
  }

  /** A journal whose length is `length[lengthIndex]` and entries `entries`, all views of `buffer`. */
  static over(buffer: SharedArrayBuffer, length: Uint32Array, lengthIndex: number, entries: Int32Array): Journal {
    return new Journal(true, length, lengthIndex, entries, new DataView(buffer));
  }

  /** A journal that logs nothing (state in the thread's heap: nothing survives a crash anyway). */
  static disabled(): Journal {
    return new Journal(false, new Uint32Array(1), 0, new Int32Array(0), undefined);
  }

  get length(): number {
    return this.#length[0]!;
  }

  /** Logs `array[index]` (a view of the state region's buffer) before the caller changes it. */
  record(array: StateArray, index: number): void {
    if (!this.#active) return;
    this.#append(array.byteOffset + index * array.BYTES_PER_ELEMENT, array.BYTES_PER_ELEMENT, array[index]!);
  }

  // record() for one element type each, `at` being the array's byteOffset (read once by the
  // caller): the allocator's hot paths call these, monomorphic.
  record8(array: Uint8Array, at: number, index: number): void {
    if (this.#active) this.#append(at + index, 1, array[index]!);
  }

  record16(array: Uint16Array, at: number, index: number): void {
    if (this.#active) this.#append(at + index * 2, 2, array[index]!);
  }

  recordU32(array: Uint32Array, at: number, index: number): void {
    if (this.#active) this.#append(at + index * 4, 4, array[index]!);
  }

  recordI32(array: Int32Array, at: number, index: number): void {
    if (this.#active) this.#append(at + index * 4, 4, array[index]!);
  }

  /** Logs the little-endian u32 at `byteOffset` of the buffer before the caller changes it. */
  recordWord(byteOffset: number): void {
    if (!this.#active) return;
    this.#append(byteOffset, 4, this.#view!.getUint32(byteOffset, true));
  }

  /** Ends the operation: what it wrote stays. */
  commit(): void {
    if (this.enabled) this.#length[0] = 0;
  }

  /** Undoes the unfinished operation (newest entry first), then empties the journal. Returns how many words it restored. */
  rollback(): number {
    const count = this.length;
    const view = this.#view;
    if (!view) return 0;
    for (let entry = count - 1; entry >= 0; entry--) {
      const offset = this.#entries[entry * 3]!;
      const width = this.#entries[entry * 3 + 1]!;
      const old = this.#entries[entry * 3 + 2]!;
      if (width === 1) view.setUint8(offset, old & 0xff);
      else if (width === 2) view.setUint16(offset, old & 0xffff, true);
      else view.setUint32(offset, old >>> 0, true);
    }
    this.#length[0] = 0;
    return count;
  }

  #append(offset: number, width: number, old: number): void {
    const count = this.#length[0]!;
    if (count >= this.#limit) throw count >= this.#crashAfter ? new SimulatedCrash() : new JournalFullError(this.capacity);
    const entries = this.#entries;
    entries[count * 3] = offset;
    entries[count * 3 + 1] = width;
    entries[count * 3 + 2] = old;
    this.#length[0] = count + 1;
  }
}

/**
 * `ram` whose writeU32 logs the old word in `journal` first: what the page-table code
 * (sv32.ts, address_space.ts) writes through, so page tables roll back with the allocator.
 */
export function journaledRam(ram: Ram, journal: Journal): Ram {
  if (!journal.enabled) return ram;
  const journaled = Object.create(ram) as Ram;
  journaled.writeU32 = (address: number, value: number): void => {
    journal.recordWord(ram.offset(address, 4) + ram.bytes.byteOffset);
    ram.writeU32(address, value);
  };
  return journaled;
}
