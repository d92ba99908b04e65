// A ring of JSON records kept in guest RAM (as Linux's pstore/ramoops keeps its console
// buffer), so it survives its server's restarts and, preserved through KHO, a kexec. The
// log server keeps its log in one; the console keeps its command history in another.
//
// Layout (little-endian): a 32-byte header {magic "BLOG", version 1, capacity, head,
// tail, count, dropped, reserved} then `capacity` bytes of records. A record is a u32
// length and that many bytes of JSON; a u32 0xffffffff marks the wrap to offset 0.
// head = oldest record, tail = where the next one goes; head === tail with count 0 is empty.

import type { Ram } from '../../hal/ram.js';

const MAGIC = 0x474f4c42; // "BLOG"
const VERSION = 1;
const HEADER = 32;
const WRAP = 0xffff_ffff;
const MAGIC_AT = 0, VERSION_AT = 4, CAPACITY_AT = 8, HEAD_AT = 12, TAIL_AT = 16, COUNT_AT = 20, DROPPED_AT = 24;

export class RamRing<T = unknown> {
  readonly ram: Ram;
  readonly address: number;
  readonly capacity: number;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  private constructor(ram: Ram, address: number, capacity: number) {
    this.ram = ram;
    this.address = address;
    this.capacity = capacity;
  }

  /** Formats an empty ring over [address, address+size). */
  static format<T>(ram: Ram, address: number, size: number): RamRing<T> {
    const capacity = size - HEADER;
    ram.fill(address, HEADER, 0);
    ram.writeU32(address + MAGIC_AT, MAGIC);
    ram.writeU32(address + VERSION_AT, VERSION);
    ram.writeU32(address + CAPACITY_AT, capacity);
    return new RamRing<T>(ram, address, capacity);
  }

  /** Reattaches to the ring at `address`; returns undefined if there is none or it is inconsistent. */
  static attach<T>(ram: Ram, address: number): RamRing<T> | undefined {
    if (!ram.contains(address, HEADER) || ram.readU32(address + MAGIC_AT) !== MAGIC || ram.readU32(address + VERSION_AT) !== VERSION) return undefined;
    const capacity = ram.readU32(address + CAPACITY_AT);
    if (!ram.contains(address, HEADER + capacity)) return undefined;
    const ring = new RamRing<T>(ram, address, capacity);
    if (ring.head >= capacity || ring.tail >= capacity) return undefined;
    return ring;
  }

  /**
   * Called when append() or last() finds the header no longer this ring's (another thread
   * wrote over it): the ring has been formatted again, empty; `what` says what was found.
   */
  onOverwritten: ((what: string) => void) | undefined;

  /** Checks the header before each use; one that is not this ring's any more is formatted again (what it held is lost). */
  private repair(): void {
    const magic = this.ram.readU32(this.address + MAGIC_AT);
    const version = this.ram.readU32(this.address + VERSION_AT);
    const capacity = this.ram.readU32(this.address + CAPACITY_AT);
    if (magic === MAGIC && version === VERSION && capacity === this.capacity && this.head < capacity && this.tail < capacity) return;
    RamRing.format(this.ram, this.address, HEADER + this.capacity);
    this.onOverwritten?.(`the ring at 0x${this.address.toString(16)} was overwritten (magic 0x${magic.toString(16).padStart(8, '0')}, capacity ${capacity}): formatted again, empty`);
  }

  get size(): number {
    return this.ram.readU32(this.address + COUNT_AT);
  }

  get dropped(): number {
    return this.ram.readU32(this.address + DROPPED_AT);
  }

  append(record: T): void {
    this.repair();
    const bytes = this.encoder.encode(JSON.stringify(record));
    const needed = 4 + bytes.length;
    if (needed + 4 > this.capacity) return;
    let tail = this.tail;
    if (tail + needed + 4 > this.capacity) {
      // Not enough room before the end: make room for the wrap marker, then wrap.
      this.evictUntilFree(tail, this.capacity - tail);
      this.writeU32(tail, WRAP);
      tail = 0;
    }
    this.evictUntilFree(tail, needed + 4);
    this.writeU32(tail, bytes.length);
    this.ram.write(this.data(tail + 4), bytes);
    this.setTail(tail + needed);
    this.ram.writeU32(this.address + COUNT_AT, this.size + 1);
  }

  /** The last `count` records (all when undefined), oldest first; unreadable entries are skipped. */
  last(count?: number): T[] {
    this.repair();
    const records: T[] = [];
    let at = this.head;
    for (let index = 0; index < this.size; index++) {
      let length = this.readU32(at);
      if (length === WRAP) {
        at = 0;
        length = this.readU32(0);
      }
      if (length > this.capacity - at - 4) break;
      try {
        records.push(JSON.parse(this.decoder.decode(this.ram.read(this.data(at + 4), length))) as T);
      } catch {
        // A torn record (crash mid-write) is skipped, not fatal.
      }
      at += 4 + length;
    }
    return count === undefined ? records : records.slice(Math.max(0, records.length - count));
  }

  /** Drops oldest records until [from, from+bytes) holds none (never the one being written). */
  private evictUntilFree(from: number, bytes: number): void {
    while (this.size > 0) {
      const head = this.head;
      const overlaps = head >= from && head < from + bytes;
      if (!overlaps && !(head === from)) return;
      let length = this.readU32(head);
      let next: number;
      if (length === WRAP) {
        length = this.readU32(0);
        next = 4 + length;
      } else next = head + 4 + length;
      this.setHead(next >= this.capacity ? 0 : next);
      this.ram.writeU32(this.address + COUNT_AT, this.size - 1);
      this.ram.writeU32(this.address + DROPPED_AT, this.dropped + 1);
      if (this.size === 0) {
        this.setHead(from);
        this.setTail(from);
      }
    }
  }

  private get head(): number {
    return this.ram.readU32(this.address + HEAD_AT);
  }

  private get tail(): number {
    return this.ram.readU32(this.address + TAIL_AT);
  }

  private setHead(value: number): void {
    this.ram.writeU32(this.address + HEAD_AT, value);
  }

  private setTail(value: number): void {
    this.ram.writeU32(this.address + TAIL_AT, value);
  }

  private data(offset: number): number {
    return this.address + HEADER + offset;
  }

  private readU32(offset: number): number {
    return this.ram.readU32(this.data(offset));
  }

  private writeU32(offset: number, value: number): void {
    this.ram.writeU32(this.data(offset), value);
  }
}
