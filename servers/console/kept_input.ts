// What each terminal received and has not run yet, kept in a preserved RAM block (KHO
// subtree "console-input", beside the history): typed-ahead lines survive `restart
// console`, a crash of the console and `kexec`, and run in the next generation in order.
// Without a KHO service it lives in the server only.
//
// With the bytes, a terminal keeps its place in its driver's input stream (the chardev
// read's `stream` and `next`, ipc/interfaces/chardev.ts). Bytes and place change in one
// step: every change is written into the spare copy of the slot's state, and one word then
// says which copy is current. So a console that dies at any instruction leaves either the
// state before the change or the state after it, never half of each: the next generation
// reads from the driver exactly what this one had not kept yet.
//
// Block layout (little-endian): a 16-byte header {magic "BTIN", version 2, slots, slot
// capacity}, then `slots` slots. A slot: the terminal's device name (32 bytes, UTF-8,
// zero-padded), the current copy (u32: 0 or 1), two copies of the state {start, length,
// flags, stream, next, running} (u32 each), then the kept bytes as a ring of `capacity`
// bytes: the kept input is `length` bytes from ring position `start` (mod capacity), raw
// input from the start of the first line not yet run to its end; its first `running`
// bytes are the line being run. Flags: bit 0, the last line taken ended with CR, so a LF
// that follows is part of it; bit 1, the line being run ended with CR.

import type { ClientOf } from '../../ipc/define.js';
import type { khoInterface } from '../../ipc/interfaces/kho.js';
import type { Ram } from '../../hal/ram.js';
import type { StartKind } from '../../microkernel/protocol.js';
import { openPreservedBlock } from '../../microkernel/userlib/preserved_block.js';

/** Input one terminal keeps: at most this many bytes ahead of what it ran (a power of two: the ring's size). */
export const KEPT_INPUT_BYTES = 64 * 1024;
const SLOTS = 4;
const MAGIC = 0x4e495442; // "BTIN"
const VERSION = 2;
const HEADER = 16;
const NAME_BYTES = 32;
const CURRENT_AT = NAME_BYTES;
const STATE_AT = NAME_BYTES + 4;
const STATE_BYTES = 24;
const SLOT_HEADER = STATE_AT + 2 * STATE_BYTES;
const AFTER_CARRIAGE_RETURN = 1;
const RUNNING_ENDED_WITH_CARRIAGE_RETURN = 2;
const SLOT_BYTES = SLOT_HEADER + KEPT_INPUT_BYTES;
const BLOCK_BYTES = HEADER + SLOTS * SLOT_BYTES;

/** A place in a driver's input stream: what the next read's `stream` and `from` are. */
export interface StreamPlace {
  readonly stream: number;
  readonly next: number;
}

/** One terminal's kept input: bytes received and not yet taken as a line to run, and where reading goes on. */
export interface KeptInput {
  /** The bytes kept, oldest first (a copy). */
  bytes(): Uint8Array;
  readonly length: number;
  /** How many more bytes fit. */
  room(): number;
  /** Where the next read of the driver starts. */
  readonly place: StreamPlace;
  /** Appends received bytes (at most room()) and moves the place past them, in one step. */
  receive(data: Uint8Array, place: StreamPlace): void;
  /** Moves the place on without bytes (a hangup read, another stream). */
  advance(place: StreamPlace): void;
  /** Drops the first `count` bytes: a line run, or taken to run (`carriageReturn`: it ended with CR). */
  take(count: number, carriageReturn: boolean): void;
  /**
   * The first `count` bytes are the line being run: kept until take() after its answer, so
   * a generation that dies running it leaves its next generation the line (`running`), to
   * say it was not run again.
   */
  begin(count: number, carriageReturn: boolean): void;
  /** Bytes at the front that were the line being run when the last change was made (0: none). */
  readonly running: number;
  /** The line being run ended with CR. */
  readonly runningEndedWithCarriageReturn: boolean;
  /** Keeps only the first `length` bytes (a hung-up session's unfinished line goes) and moves the place past the hangup, in one step. */
  hangUp(length: number, place: StreamPlace): void;
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

/** A slot's state: one of its two copies. */
interface SlotState {
  /** Ring position of the first kept byte (u32, counting on; the ring index is this mod the capacity). */
  readonly start: number;
  readonly length: number;
  readonly flags: number;
  readonly stream: number;
  readonly next: number;
  readonly running: number;
}

const FIELDS = ['start', 'length', 'flags', 'stream', 'next', 'running'] as const;

class RamKeptInput implements KeptInput {
  constructor(private readonly ram: Ram, private readonly slot: number) {
    const state = this.state;
    if (state.length > KEPT_INPUT_BYTES || this.ram.readU32(this.slot + CURRENT_AT) > 1) {
      this.ram.writeU32(this.slot + CURRENT_AT, 0);
      this.commit({ start: 0, length: 0, flags: 0, stream: 0, next: 0, running: 0 });
    }
  }

  private get state(): SlotState {
    const at = this.slot + STATE_AT + (this.ram.readU32(this.slot + CURRENT_AT) & 1) * STATE_BYTES;
    const [start, length, flags, stream, next, running] = FIELDS.map((_, index) => this.ram.readU32(at + 4 * index)) as [number, number, number, number, number, number];
    return { start, length, flags, stream, next, running: Math.min(running, length) };
  }

  /** Writes `state` into the spare copy, then makes it current with one word. */
  private commit(state: SlotState): void {
    const spare = (this.ram.readU32(this.slot + CURRENT_AT) & 1) ^ 1;
    const at = this.slot + STATE_AT + spare * STATE_BYTES;
    FIELDS.forEach((field, index) => this.ram.writeU32(at + 4 * index, state[field] >>> 0));
    this.ram.writeU32(this.slot + CURRENT_AT, spare);
  }

  get length(): number {
    return this.state.length;
  }

  get place(): StreamPlace {
    const { stream, next } = this.state;
    return { stream, next };
  }

  get afterCarriageReturn(): boolean {
    return (this.state.flags & AFTER_CARRIAGE_RETURN) !== 0;
  }

  get running(): number {
    return this.state.running;
  }

  get runningEndedWithCarriageReturn(): boolean {
    return (this.state.flags & RUNNING_ENDED_WITH_CARRIAGE_RETURN) !== 0;
  }

  bytes(): Uint8Array {
    const { start, length } = this.state;
    const bytes = new Uint8Array(length);
    const first = start % KEPT_INPUT_BYTES;
    const head = Math.min(length, KEPT_INPUT_BYTES - first);
    bytes.set(this.ram.read(this.ring + first, head));
    if (head < length) bytes.set(this.ram.read(this.ring, length - head), head);
    return bytes;
  }

  room(): number {
    return KEPT_INPUT_BYTES - this.length;
  }

  receive(data: Uint8Array, place: StreamPlace): void {
    const state = this.state;
    if (data.length > KEPT_INPUT_BYTES - state.length) throw new RangeError(`kept input: ${data.length} bytes do not fit in ${KEPT_INPUT_BYTES - state.length}`);
    // Into ring space past the kept bytes: nothing current changes until the commit.
    const end = (state.start + state.length) % KEPT_INPUT_BYTES;
    const head = Math.min(data.length, KEPT_INPUT_BYTES - end);
    this.ram.write(this.ring + end, data.subarray(0, head));
    if (head < data.length) this.ram.write(this.ring, data.subarray(head));
    this.commit({ ...state, length: state.length + data.length, stream: place.stream, next: place.next });
  }

  advance(place: StreamPlace): void {
    this.commit({ ...this.state, stream: place.stream, next: place.next });
  }

  take(count: number, carriageReturn: boolean): void {
    const state = this.state;
    const taken = Math.min(count, state.length);
    const flags = carriageReturn ? state.flags | AFTER_CARRIAGE_RETURN : state.flags & ~AFTER_CARRIAGE_RETURN;
    this.commit({ ...state, start: (state.start + taken) >>> 0, length: state.length - taken, flags, running: 0 });
  }

  begin(count: number, carriageReturn: boolean): void {
    const state = this.state;
    const flags = carriageReturn ? state.flags | RUNNING_ENDED_WITH_CARRIAGE_RETURN : state.flags & ~RUNNING_ENDED_WITH_CARRIAGE_RETURN;
    this.commit({ ...state, running: Math.min(count, state.length), flags });
  }

  hangUp(length: number, place: StreamPlace): void {
    const state = this.state;
    const kept = Math.max(0, Math.min(length, state.length));
    this.commit({ ...state, length: kept, running: Math.min(state.running, kept), stream: place.stream, next: place.next });
  }

  private get ring(): number {
    return this.slot + SLOT_HEADER;
  }
}

class PrivateKeptInput implements KeptInput {
  private kept = new Uint8Array(0);
  afterCarriageReturn = false;
  running = 0;
  runningEndedWithCarriageReturn = false;
  place: StreamPlace = { stream: 0, next: 0 };

  get length(): number {
    return this.kept.length;
  }

  bytes(): Uint8Array {
    return this.kept.slice();
  }

  room(): number {
    return KEPT_INPUT_BYTES - this.kept.length;
  }

  receive(data: Uint8Array, place: StreamPlace): void {
    const joined = new Uint8Array(this.kept.length + data.length);
    joined.set(this.kept);
    joined.set(data, this.kept.length);
    this.kept = joined;
    this.place = place;
  }

  advance(place: StreamPlace): void {
    this.place = place;
  }

  take(count: number, carriageReturn: boolean): void {
    this.kept = this.kept.slice(count);
    this.afterCarriageReturn = carriageReturn;
    this.running = 0;
  }

  begin(count: number, carriageReturn: boolean): void {
    this.running = Math.min(count, this.kept.length);
    this.runningEndedWithCarriageReturn = carriageReturn;
  }

  hangUp(length: number, place: StreamPlace): void {
    this.kept = this.kept.slice(0, Math.max(0, length));
    this.running = Math.min(this.running, this.kept.length);
    this.place = place;
  }
}
