// The hart's view of memory: U-mode virtual addresses translated through Sv32 (or bare,
// when satp's MODE is 0: virtual = physical), onto the board's RAM buffer.
//
// In front of the ASID-tagged TranslationCache sit three direct-mapped arrays (read, write,
// fetch) of L1_ENTRIES: tag = virtual page number, base = byte offset of the physical page
// in the RAM buffer. They are what the interpreter and compiled blocks test inline; they
// are emptied when satp changes and on every flush. A page this hart has decoded code from
// never gets a write entry, so every store to it takes the slow path, which invalidates the
// decoded code first (onCodeWrite).
//
// Faults do not throw: a failed access returns -1 (translate) or 0 (load) and sets `cause`
// and `tval`, which the hart turns into a trap. Misaligned loads and stores are emulated
// (byte by byte, both pages translated before anything is written, so a fault leaves memory
// unchanged); misaligned LR/SC/AMOs trap (hart.ts).

import type { Ram } from '../ram.js';
import { TranslationCache } from './translation_cache.js';
import { ACCESS_FAULT, Access, PAGE_FAULT, findLeaf, leafAllows, leafPage, satpAsid, satpRoot, satpTranslates, type AccessKind, type Leaf } from './sv32.js';

export const L1_ENTRIES = 1024;
export const L1_MASK = L1_ENTRIES - 1;
const NO_TAG = -1;

export class HartMemory {
  readonly ram: Ram;
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly readTag = new Int32Array(L1_ENTRIES).fill(NO_TAG);
  readonly readBase = new Int32Array(L1_ENTRIES);
  readonly writeTag = new Int32Array(L1_ENTRIES).fill(NO_TAG);
  readonly writeBase = new Int32Array(L1_ENTRIES);
  readonly fetchTag = new Int32Array(L1_ENTRIES).fill(NO_TAG);
  readonly fetchBase = new Int32Array(L1_ENTRIES);
  readonly translations = new TranslationCache();
  /** 1 for each RAM page this hart holds decoded code from. */
  readonly codePages: Uint8Array;
  /** Called before a store lands in a code page (the page index in RAM). */
  onCodeWrite: (page: number) => void = () => undefined;
  /** The exception code of the last failed access, or -1. */
  cause = -1;
  tval = 0;
  /** sstatus.MXR: loads from execute-only pages succeed. */
  makeExecutableReadable = false;
  private satp = 0;
  private asid = 0;
  private root = 0;
  private translating = false;
  private readonly ramEnd: number;
  private readonly words: Int32Array;

  constructor(ram: Ram) {
    this.ram = ram;
    const buffer = ram.buffer;
    this.u8 = new Uint8Array(buffer);
    this.i8 = new Int8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.i16 = new Int16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.words = this.i32;
    this.codePages = new Uint8Array(ram.size / 4096);
    this.ramEnd = ram.base + ram.size;
  }

  get currentSatp(): number { return this.satp; }

  /** Switches address space (a write of satp). The ASID-tagged cache keeps other spaces' leaves. */
  setSatp(satp: number): void {
    this.satp = satp >>> 0;
    this.translating = satpTranslates(this.satp);
    this.asid = satpAsid(this.satp);
    this.root = satpRoot(this.satp);
    this.emptyFront();
  }

  /** sfence.vma: `va` undefined for every address, `asid` undefined for every address space. */
  fence(va?: number, asid?: number): void {
    this.translations.flush(va === undefined ? undefined : va >>> 0, asid);
    this.emptyFront();
  }

  /** Counts emptyFront() calls: a block chained to another in an older epoch looks its successor up again. */
  epoch = 0;

  emptyFront(): void {
    this.epoch++;
    this.readTag.fill(NO_TAG);
    this.writeTag.fill(NO_TAG);
    this.fetchTag.fill(NO_TAG);
  }

  /** Drops write entries onto RAM page `page`, so stores to it take the slow path. */
  dropWriteEntries(page: number): void {
    const base = page * 4096;
    for (let index = 0; index < L1_ENTRIES; index++) if (this.writeBase[index] === base) this.writeTag[index] = NO_TAG;
  }

  fault(cause: number, va: number): -1 {
    this.cause = cause;
    this.tval = va >>> 0;
    return -1;
  }

  /**
   * The byte offset in RAM of the 4 KiB page holding `va` for an access of `kind`, filling the
   * front arrays; -1 (cause, tval set) if the access faults.
   */
  translate(va: number, kind: AccessKind): number {
    va >>>= 0;
    let page: number;
    if (!this.translating) page = va - (va & 0xfff);
    else {
      const leaf = this.leafFor(va, kind);
      if (typeof leaf === 'number') return this.fault(leaf, va);
      page = leafPage(leaf, va);
    }
    if (page < this.ram.base || page + 4096 > this.ramEnd) return this.fault(ACCESS_FAULT[kind], va);
    const offset = page - this.ram.base;
    const vpn = va >>> 12, index = vpn & L1_MASK;
    if (kind === Access.Load) {
      this.readTag[index] = vpn;
      this.readBase[index] = offset;
    } else if (kind === Access.Fetch) {
      this.fetchTag[index] = vpn;
      this.fetchBase[index] = offset;
    } else {
      if (this.codePages[offset >>> 12]) this.onCodeWrite(offset >>> 12);
      this.writeTag[index] = vpn;
      this.writeBase[index] = offset;
    }
    return offset;
  }

  /** A cached leaf that allows the access, else a fresh walk (a fixed PTE is seen without sfence.vma); or the fault code. */
  private leafFor(va: number, kind: AccessKind): Leaf | number {
    const cached = this.translations.lookup(this.asid, va);
    if (cached && leafAllows(cached.pte, kind, this.makeExecutableReadable)) return cached;
    const found = findLeaf(this.readPhysical, this.root, va, kind);
    if (typeof found === 'number') return found;
    if (!leafAllows(found.pte, kind, this.makeExecutableReadable)) return PAGE_FAULT[kind];
    this.translations.insert(this.asid, va, found);
    if (cached && cached.pte !== found.pte) {
      // The leaf changed (e.g. copy-on-write: read-only page → a writable copy): drop the
      // page's front entries so loads and fetches do not keep using the old page.
      const index = (va >>> 12) & L1_MASK;
      this.readTag[index] = NO_TAG;
      this.writeTag[index] = NO_TAG;
      this.fetchTag[index] = NO_TAG;
      this.epoch++; // and chained blocks look their successors up again
    }
    return found;
  }

  private readonly readPhysical = (address: number): number | undefined =>
    address >= this.ram.base && address + 4 <= this.ramEnd ? this.words[(address - this.ram.base) >>> 2]! : undefined;

  /** Loads `size` (1, 2, 4) bytes at `va`, sign-extended when `signed`; 0 with cause set on a fault. */
  load(va: number, size: number, signed: boolean): number {
    va >>>= 0;
    if ((va & (size - 1)) === 0) {
      const index = (va >>> 12) & L1_MASK;
      const offset = this.readTag[index] === va >>> 12 ? this.readBase[index]! : this.translate(va, Access.Load);
      if (offset < 0) return 0;
      const at = offset + (va & 0xfff);
      if (size === 4) return this.i32[at >> 2]!;
      if (size === 2) return signed ? this.i16[at >> 1]! : this.u16[at >> 1]!;
      return signed ? this.i8[at]! : this.u8[at]!;
    }
    const first = this.translate(va, Access.Load);
    if (first < 0) return 0;
    const lastVa = (va + size - 1) >>> 0;
    const second = (lastVa ^ va) >>> 12 ? this.translate(lastVa, Access.Load) : first;
    if (second < 0) return 0;
    let value = 0;
    for (let byte = size - 1; byte >= 0; byte--) {
      const address = (va + byte) >>> 0;
      value = (value << 8) | this.u8[((address ^ va) >>> 12 ? second : first) + (address & 0xfff)]!;
    }
    if (size === 4) return value | 0;
    return signed ? (value << (32 - size * 8)) >> (32 - size * 8) : value;
  }

  /** Stores the low `size` bytes of `value` at `va`; returns false (cause set) on a fault. */
  store(va: number, size: number, value: number): boolean {
    va >>>= 0;
    if ((va & (size - 1)) === 0) {
      const index = (va >>> 12) & L1_MASK;
      const offset = this.writeTag[index] === va >>> 12 ? this.writeBase[index]! : this.translate(va, Access.Store);
      if (offset < 0) return false;
      const at = offset + (va & 0xfff);
      if (size === 4) this.i32[at >> 2] = value;
      else if (size === 2) this.u16[at >> 1] = value;
      else this.u8[at] = value;
      return true;
    }
    const first = this.translate(va, Access.Store);
    if (first < 0) return false;
    const lastVa = (va + size - 1) >>> 0;
    const second = (lastVa ^ va) >>> 12 ? this.translate(lastVa, Access.Store) : first;
    if (second < 0) return false;
    for (let byte = 0; byte < size; byte++) {
      const address = (va + byte) >>> 0;
      this.u8[((address ^ va) >>> 12 ? second : first) + (address & 0xfff)] = value >>> (byte * 8);
    }
    return true;
  }
}
