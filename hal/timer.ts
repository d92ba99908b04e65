// The board's timer: a CLINT (SiFive's core-local interruptor, the layout of QEMU virt's and
// of the ACLINT's MTIMER + MSWI devices), one mtimecmp and one msip per hart.
//
//   0x0000 + 4 × hart   msip      bit 0: software interrupt pending for the hart
//   0x4000 + 8 × hart   mtimecmp  64-bit; the hart's timer interrupt is pending while mtime ≥ mtimecmp
//   0xbff8              mtime     64-bit, read-only here: ticks of TIMEBASE_FREQUENCY since power-on
//
// State lives in a SharedArrayBuffer so that every thread (the kernel, hart threads) shares
// it: per hart [msip, mtimecmp low, mtimecmp high, wake]. mtime is the board Clock's.
// baton's kernel plays S-mode with no SBI below it, so a hart sees the timer as the
// supervisor timer interrupt and msip as the supervisor software interrupt (what an SBI, or
// Sstc's stimecmp, gives an S-mode kernel on real hardware).
//
// A hart with nothing to run parks (park(): Atomics.wait, no CPU) until its timer fires, its
// msip is set or it is woken.

import { Clock, TIMEBASE_FREQUENCY } from './clock.js';

export const CLINT_SIZE = 0x1_0000;
export const MSIP_OFFSET = 0x0000;
export const MTIMECMP_OFFSET = 0x4000;
export const MTIME_OFFSET = 0xbff8;
/** The CLINT has room for 4095 harts; the board's device tree allows 64. */
export const MAXIMUM_HARTS = 64;
const WORDS_PER_HART = 4;
const MSIP = 0, COMPARE_LOW = 1, COMPARE_HIGH = 2, WAKE = 3;
/** sip bits the timer raises: supervisor software (1) and supervisor timer (5). */
export const SOFTWARE_PENDING = 1 << 1;
export const TIMER_PENDING = 1 << 5;

export interface TimerDescriptor {
  readonly buffer: SharedArrayBuffer;
  readonly harts: number;
  readonly clock: SharedArrayBuffer;
}

export class MachineTimer {
  readonly harts: number;
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly clock: Clock;

  constructor(clock: Clock, harts: number, buffer?: SharedArrayBuffer) {
    if (!Number.isInteger(harts) || harts < 1 || harts > MAXIMUM_HARTS) throw new RangeError(`the timer serves 1..${MAXIMUM_HARTS} harts, not ${harts}`);
    this.clock = clock;
    this.harts = harts;
    this.buffer = buffer ?? new SharedArrayBuffer(harts * WORDS_PER_HART * 4);
    this.words = new Int32Array(this.buffer);
    if (!buffer) for (let hart = 0; hart < harts; hart++) this.setCompare(hart, Number.POSITIVE_INFINITY);
  }

  /** The same timer in another thread. */
  static attach(descriptor: TimerDescriptor): MachineTimer {
    return new MachineTimer(new Clock(descriptor.clock), descriptor.harts, descriptor.buffer);
  }

  get descriptor(): TimerDescriptor {
    return { buffer: this.buffer, harts: this.harts, clock: this.clock.buffer };
  }

  mtime(): number {
    return this.clock.ticks();
  }

  /** mtimecmp of `hart` as a number (Infinity: the all-ones reset value, never). */
  compare(hart: number): number {
    const at = this.at(hart);
    const high = Atomics.load(this.words, at + COMPARE_HIGH) >>> 0, low = Atomics.load(this.words, at + COMPARE_LOW) >>> 0;
    return high === 0xffff_ffff && low === 0xffff_ffff ? Number.POSITIVE_INFINITY : high * 2 ** 32 + low;
  }

  /** Sets mtimecmp (ticks; Infinity for never) and wakes the hart so a parked one re-reads its deadline. */
  setCompare(hart: number, ticks: number): void {
    const at = this.at(hart);
    const never = !Number.isFinite(ticks);
    const value = never ? 0 : Math.max(0, Math.floor(ticks));
    Atomics.store(this.words, at + COMPARE_HIGH, never ? -1 : Math.floor(value / 2 ** 32) | 0);
    Atomics.store(this.words, at + COMPARE_LOW, never ? -1 : value % 2 ** 32 | 0);
    this.wake(hart);
  }

  /** Arms `hart`'s timer `microseconds` from now. */
  setAlarm(hart: number, microseconds: number): void {
    this.setCompare(hart, this.mtime() + Math.ceil(microseconds * (TIMEBASE_FREQUENCY / 1_000_000)));
  }

  setSoftware(hart: number, pending: boolean): void {
    Atomics.store(this.words, this.at(hart) + MSIP, pending ? 1 : 0);
    if (pending) this.wake(hart);
  }

  /** The sip bits pending for `hart`. */
  pendingInterrupts(hart: number): number {
    const at = this.at(hart);
    return (Atomics.load(this.words, at + MSIP) & 1 ? SOFTWARE_PENDING : 0) | (this.mtime() >= this.compare(hart) ? TIMER_PENDING : 0);
  }

  /** Wakes `hart` if it is parked (its state may have changed: new work, a new deadline). */
  wake(hart: number): void {
    const at = this.at(hart);
    Atomics.add(this.words, at + WAKE, 1);
    Atomics.notify(this.words, at + WAKE);
  }

  /**
   * Parks the calling thread as WFI would, without using CPU, until an interrupt in `enabled`
   * (sip bits) is pending for `hart` or it is woken; at most `limitMs` (Infinity: no limit).
   * Returns the pending bits (0 if woken or the limit passed). Must not run on the main thread.
   */
  park(hart: number, enabled: number, limitMs = Number.POSITIVE_INFINITY): number {
    const at = this.at(hart) + WAKE;
    const generation = Atomics.load(this.words, at);
    const pending = this.pendingInterrupts(hart) & enabled;
    if (pending) return pending;
    const untilTimer = enabled & TIMER_PENDING ? (this.compare(hart) - this.mtime()) / (TIMEBASE_FREQUENCY / 1000) : Number.POSITIVE_INFINITY;
    const wait = Math.max(0, Math.min(limitMs, untilTimer));
    Atomics.wait(this.words, at, generation, Number.isFinite(wait) ? wait + 0.05 : undefined);
    return this.pendingInterrupts(hart) & enabled;
  }

  /** A 32-bit register read at `offset` in the CLINT's block (the register model). */
  read32(offset: number): number {
    if (offset >= MTIME_OFFSET && offset < MTIME_OFFSET + 8) return this.half(this.mtime(), offset - MTIME_OFFSET);
    if (offset >= MTIMECMP_OFFSET && offset < MTIMECMP_OFFSET + 8 * this.harts) {
      const hart = (offset - MTIMECMP_OFFSET) >> 3;
      return Atomics.load(this.words, this.at(hart) + ((offset & 4) ? COMPARE_HIGH : COMPARE_LOW)) >>> 0;
    }
    if (offset >= MSIP_OFFSET && offset < MSIP_OFFSET + 4 * this.harts) return Atomics.load(this.words, this.at(offset >> 2) + MSIP) & 1;
    return 0;
  }

  /** A 32-bit register write (mtime is read-only; reserved offsets ignore writes, as the CLINT's do). */
  write32(offset: number, value: number): void {
    if (offset >= MTIMECMP_OFFSET && offset < MTIMECMP_OFFSET + 8 * this.harts) {
      const hart = (offset - MTIMECMP_OFFSET) >> 3;
      Atomics.store(this.words, this.at(hart) + ((offset & 4) ? COMPARE_HIGH : COMPARE_LOW), value | 0);
      this.wake(hart);
    } else if (offset >= MSIP_OFFSET && offset < MSIP_OFFSET + 4 * this.harts) this.setSoftware(offset >> 2, (value & 1) !== 0);
  }

  private half(value: number, byte: number): number {
    return byte === 0 ? value % 2 ** 32 : Math.floor(value / 2 ** 32);
  }

  private at(hart: number): number {
    if (!Number.isInteger(hart) || hart < 0 || hart >= this.harts) throw new RangeError(`no hart ${hart} on a timer of ${this.harts}`);
    return hart * WORDS_PER_HART;
  }
}
