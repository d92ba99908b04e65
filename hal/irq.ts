// The interrupt controller, after RISC-V's PLIC: sources raise, a target enables and
// claims, and completes when it has serviced the device.
//
// State lives in a SharedArrayBuffer so device models (board thread) and drivers
// (worker threads) share it. Each source is routed to one target, named by its
// doorbell slot; raising an enabled source rings that doorbell.
//
// Per-source words: [pending, enabled, target doorbell slot, in service, raised count].

import type { DoorbellPage } from './doorbells.js';

export const INTERRUPT_SOURCES = 64;
const WORDS_PER_SOURCE = 5;
const PENDING = 0, ENABLED = 1, TARGET = 2, IN_SERVICE = 3, RAISED = 4;

export class InterruptController {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly doorbells: DoorbellPage;

  constructor(doorbells: DoorbellPage, buffer = new SharedArrayBuffer(INTERRUPT_SOURCES * WORDS_PER_SOURCE * 4)) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.doorbells = doorbells;
  }

  /** Device side: assert interrupt `source`. Wakes its target if enabled. */
  raise(source: number): void {
    const at = this.at(source);
    Atomics.add(this.words, at + RAISED, 1);
    Atomics.store(this.words, at + PENDING, 1);
    this.deliver(source);
  }

  /** Routes `source` to the thread owning doorbell `slot` and unmasks it. */
  enable(source: number, slot: number): void {
    const at = this.at(source);
    Atomics.store(this.words, at + TARGET, slot);
    Atomics.store(this.words, at + ENABLED, 1);
    this.deliver(source);
  }

  /** Masks `source` and forgets its target (driver stopped or restarted). */
  disable(source: number): void {
    const at = this.at(source);
    Atomics.store(this.words, at + ENABLED, 0);
    Atomics.store(this.words, at + TARGET, 0);
    Atomics.store(this.words, at + IN_SERVICE, 0);
  }

  /**
   * Target side: takes one pending, enabled interrupt routed to `slot` and marks it in
   * service. Returns the source number, or 0 when none is pending (source 0 is never used).
   */
  claim(slot: number): number {
    for (let source = 1; source < INTERRUPT_SOURCES; source++) {
      const at = source * WORDS_PER_SOURCE;
      if (Atomics.load(this.words, at + TARGET) !== slot || Atomics.load(this.words, at + ENABLED) === 0) continue;
      if (Atomics.load(this.words, at + IN_SERVICE) !== 0) continue;
      if (Atomics.compareExchange(this.words, at + PENDING, 1, 0) === 1) {
        Atomics.store(this.words, at + IN_SERVICE, 1);
        return source;
      }
    }
    return 0;
  }

  /** Target side: the interrupt is serviced; a source raised meanwhile is delivered again. */
  complete(source: number): void {
    Atomics.store(this.words, this.at(source) + IN_SERVICE, 0);
    this.deliver(source);
  }

  /** How many times `source` was raised since the board started. */
  raisedCount(source: number): number {
    return Atomics.load(this.words, this.at(source) + RAISED);
  }

  isPending(source: number): boolean {
    return Atomics.load(this.words, this.at(source) + PENDING) !== 0;
  }

  private deliver(source: number): void {
    const at = this.at(source);
    if (Atomics.load(this.words, at + PENDING) === 0 || Atomics.load(this.words, at + ENABLED) === 0) return;
    const slot = Atomics.load(this.words, at + TARGET);
    if (slot > 0) this.doorbells.ring(slot);
  }

  private at(source: number): number {
    if (!Number.isInteger(source) || source <= 0 || source >= INTERRUPT_SOURCES) {
      throw new RangeError(`no interrupt source ${source}`);
    }
    return source * WORDS_PER_SOURCE;
  }
}
