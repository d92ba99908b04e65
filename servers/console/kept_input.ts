// What each terminal received and has not run yet, kept in a preserved RAM block (KHO
// subtree "console-input", beside the history): typed-ahead lines survive `restart
// console`, a crash of the console and `kexec`, and run in the next generation in order.
// Without a KHO service it lives in the server only.
//
// Block layout (little-endian): a 16-byte header {magic "BTIN", version 1, slots, slot
// capacity}, then `slots` slots of SLOT_HEADER + capacity bytes. A slot: the terminal's
// device name (32 bytes, UTF-8, zero-padded), the kept length (u32), flags (u32: bit 0 the
// last line taken ended with CR, so a LF that follows is part of it), then the kept bytes:
// raw input from the start of the first line not yet taken.

import type { ClientOf } from '../../ipc/define.js';
import type { khoInterface } from '../../ipc/interfaces/kho.js';
import type { Ram } from '../../hal/ram.js';
import type { StartKind } from '../../microkernel/protocol.js';
import { openPreservedBlock } from '../../microkernel/userlib/preserved_block.js';

/** Input one terminal keeps: at most this many bytes ahead of what it ran. */
export const KEPT_INPUT_BYTES = 64 * 1024;
const SLOTS = 4;
const MAGIC = 0x4e495442; // "BTIN"
const VERSION = 1;
const HEADER = 16;
const NAME_BYTES = 32;
const SLOT_HEADER = NAME_BYTES + 8;
const LENGTH_AT = NAME_BYTES, FLAGS_AT = NAME_BYTES + 4;
const AFTER_CARRIAGE_RETURN = 1;
const SLOT_BYTES = SLOT_HEADER + KEPT_INPUT_BYTES;
const BLOCK_BYTES = HEADER + SLOTS * SLOT_BYTES;

/** One terminal's kept input: bytes received and not yet taken as a line to run. */
export interface KeptInput {
  /** The bytes kept, oldest first (a copy). */
  bytes(): Uint8Array;
  readonly length: number;
  /** How many more bytes fit. */
  room(): number;
  /** Appends received bytes (at most room()). */
  append(data: Uint8Array): void;
  /** Drops the first `count` bytes: a line taken to run (`carriageReturn`: it ended with CR). */
  take(count: number, carriageReturn: boolean): void;
  /** Keeps only the first `length` bytes (a hung-up session's unfinished line goes). */
  truncate(length: number): void;
  /** The last line taken ended with CR (a LF at the front belongs to it). */
  readonly afterCarriageReturn: boolean;
}

export interface KeptInputs {
  for(device: string): KeptInput;
  readonly kept: 'preserved' | 'private';
}

export async function openKeptInputs(kho: ClientOf<typeof khoInterface>, ram: Ram, start: StartKind): Promise<KeptInputs> {
  try {
    const block = await openPreservedBlock(kho, 'console-input', BLOCK_BYTES, start);
    if (block.found === 'new' || !valid(ram, block.pa)) format(ram, block.pa);
    return { for: (device) => new RamKeptInput(ram, slotFor(ram, block.pa, device)), kept: 'preserved' };
  } catch {
    const inputs = new Map<string, KeptInput>();
    return {
      for: (device) => inputs.get(device) ?? inputs.set(device, new PrivateKeptInput()).get(device)!,
      kept: 'private',
    };
  }
}

function valid(ram: Ram, pa: number): boolean {
  return ram.contains(pa, BLOCK_BYTES) && ram.readU32(pa) === MAGIC && ram.readU32(pa + 4) === VERSION
    && ram.readU32(pa + 8) === SLOTS && ram.readU32(pa + 12) === KEPT_INPUT_BYTES;
}

function format(ram: Ram, pa: number): void {
  ram.fill(pa, BLOCK_BYTES, 0);
  ram.writeU32(pa, MAGIC);
  ram.writeU32(pa + 4, VERSION);
  ram.writeU32(pa + 8, SLOTS);
  ram.writeU32(pa + 12, KEPT_INPUT_BYTES);
}

/** The slot named `device`, or a free one named for it; a full block reuses the last slot. */
function slotFor(ram: Ram, pa: number, device: string): number {
  const name = new TextEncoder().encode(device).subarray(0, NAME_BYTES);
  const padded = new Uint8Array(NAME_BYTES);
  padded.set(name);
  let free: number | undefined;
  for (let index = 0; index < SLOTS; index++) {
    const slot = pa + HEADER + index * SLOT_BYTES;
    const stored = ram.read(slot, NAME_BYTES);
    if (stored.every((byte, at) => byte === padded[at])) return slot;
    if (free === undefined && stored.every((byte) => byte === 0)) free = slot;
  }
  const slot = free ?? pa + HEADER + (SLOTS - 1) * SLOT_BYTES;
  ram.fill(slot, SLOT_HEADER, 0);
  ram.write(slot, padded);
  return slot;
}

class RamKeptInput implements KeptInput {
  constructor(private readonly ram: Ram, private readonly slot: number) {
    if (this.length > KEPT_INPUT_BYTES) this.ram.writeU32(this.slot + LENGTH_AT, 0);
  }

  get length(): number {
    return this.ram.readU32(this.slot + LENGTH_AT);
  }

  private get flags(): number {
    return this.ram.readU32(this.slot + FLAGS_AT);
  }

  private setFlag(flag: number, on: boolean): void {
    this.ram.writeU32(this.slot + FLAGS_AT, on ? this.flags | flag : this.flags & ~flag);
  }

  bytes(): Uint8Array {
    return this.ram.read(this.slot + SLOT_HEADER, this.length);
  }

  room(): number {
    return KEPT_INPUT_BYTES - this.length;
  }

  append(data: Uint8Array): void {
    if (data.length > this.room()) throw new RangeError(`kept input: ${data.length} bytes do not fit in ${this.room()}`);
    this.ram.write(this.slot + SLOT_HEADER + this.length, data);
    this.ram.writeU32(this.slot + LENGTH_AT, this.length + data.length);
  }

  take(count: number, carriageReturn: boolean): void {
    const rest = this.bytes().subarray(Math.min(count, this.length));
    this.ram.write(this.slot + SLOT_HEADER, rest);
    this.ram.writeU32(this.slot + LENGTH_AT, rest.length);
    this.setFlag(AFTER_CARRIAGE_RETURN, carriageReturn);
  }

  truncate(length: number): void {
    if (length < this.length) this.ram.writeU32(this.slot + LENGTH_AT, Math.max(0, length));
  }

  get afterCarriageReturn(): boolean {
    return (this.flags & AFTER_CARRIAGE_RETURN) !== 0;
  }
}

class PrivateKeptInput implements KeptInput {
  private kept = new Uint8Array(0);
  afterCarriageReturn = false;

  get length(): number {
    return this.kept.length;
  }

  bytes(): Uint8Array {
    return this.kept.slice();
  }

  room(): number {
    return KEPT_INPUT_BYTES - this.kept.length;
  }

  append(data: Uint8Array): void {
    const joined = new Uint8Array(this.kept.length + data.length);
    joined.set(this.kept);
    joined.set(data, this.kept.length);
    this.kept = joined;
  }

  take(count: number, carriageReturn: boolean): void {
    this.kept = this.kept.slice(count);
    this.afterCarriageReturn = carriageReturn;
  }

  truncate(length: number): void {
    this.kept = this.kept.slice(0, Math.max(0, length));
  }
}
