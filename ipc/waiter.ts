// How an Endpoint waits on its thread's doorbell: spin briefly and adaptively, then park.
//
// Waking a thread that blocked costs about 30 µs each way; a thread spinning on the doorbell
// word sees a ring within a microsecond, but only while it has a core to itself. So the
// Endpoint spins only when it expects something (a reply to an outstanding call, or the next
// request right after serving one), for a budget the SpinPolicy adapts from what it observes,
// and otherwise parks.
//
// Parking follows hal/doorbells.ts's slot layout [sequence, sleeping]: set `sleeping`, check
// the sequence once more, then await an Atomics.waitAsync on the sequence word. Unlike
// DoorbellPage.waitAsync, the Waiter keeps one waitAsync armed across parks and can also be
// woken locally (kick) without the 4 µs cost of a self-notify, e.g. when this thread issues
// a call while the loop is parked. While not parked, `sleeping` is 0, so peers ringing this
// doorbell skip Atomics.notify. The Endpoint must be the only waiter on its slot.

import type { DoorbellPage } from '../hal/doorbells.js';

/** Tuning of one SpinPolicy, in microseconds. */
export interface SpinPolicyOptions {
  readonly initialMicros?: number;
  readonly minMicros?: number;
  readonly maxMicros?: number;
}

/**
 * An adaptive spin budget. A spin that ends in a ring after w µs moves the budget toward
 * 8·w (never below 4·w). A spin that expires is judged by the park that follows:
 *   - rung sooner than the maximum budget: a near miss, the budget doubles (this is how two
 *     parked peers get back to spinning: the waiter must outlast the other's ~30 µs wake-up);
 *   - rung later: spinning does not pay for this traffic, the budget halves;
 *   - the spin had used the whole maximum budget: futile (typically the peer has no core
 *     while this thread spins), the budget drops to the minimum and near misses are ignored
 *     for the next COOLING_WAITS expired spins (a hit ends that at once).
 */
export class SpinPolicy {
  readonly minMicros: number;
  readonly maxMicros: number;
  private budget: number;
  private expiredAt = -1;
  /** Waits left after a futile spin during which near misses do not grow the budget. */
  private coolingWaits = 0;

  constructor(options: SpinPolicyOptions = {}) {
    this.maxMicros = Math.max(0, options.maxMicros ?? 50);
    this.minMicros = Math.min(Math.max(0, options.minMicros ?? 5), this.maxMicros);
    this.budget = clamp(options.initialMicros ?? 20, this.minMicros, this.maxMicros);
  }

  /** Microseconds to spin next time. */
  get budgetMicros(): number {
    return this.budget;
  }

  spinSucceeded(waitedMicros: number): void {
    this.expiredAt = -1;
    this.coolingWaits = 0;
    const target = Math.max(8 * waitedMicros, this.minMicros);
    this.budget = clamp(this.budget + (target - this.budget) / 4, Math.max(this.minMicros, 4 * waitedMicros), this.maxMicros);
  }

  spinExpired(): void {
    this.expiredAt = this.budget;
  }

  /** After a park that followed an expired spin: the doorbell rang `waitedMicros` after parking. */
  parkedWokenAfter(waitedMicros: number): void {
    if (this.expiredAt < 0) return;
    const futile = this.expiredAt >= this.maxMicros;
    this.expiredAt = -1;
    if (futile) {
      this.budget = this.minMicros;
      this.coolingWaits = COOLING_WAITS;
    } else if (this.coolingWaits > 0) {
      this.coolingWaits--;
    } else if (waitedMicros < this.maxMicros) {
      this.budget = Math.min(this.maxMicros, this.budget * 2);
    } else {
      this.budget = Math.max(this.minMicros, this.budget / 2);
    }
  }
}

/** Expired spins after a futile one during which the budget stays at its minimum. */
const COOLING_WAITS = 16;

/** Spin-then-park waiting on one doorbell slot. */
export class Waiter {
  private readonly words: Int32Array;
  private readonly sequenceIndex: number;
  private readonly sleepingIndex: number;
  private armed = false;
  private wake: ((outcome: 'rung' | 'kicked') => void) | undefined;

  constructor(doorbells: DoorbellPage, slot: number) {
    doorbells.sequence(slot); // validates the slot
    this.words = new Int32Array(doorbells.buffer);
    this.sequenceIndex = slot * 2;
    this.sleepingIndex = slot * 2 + 1;
  }

  /** The doorbell's current sequence number. */
  sequence(): number {
    return Atomics.load(this.words, this.sequenceIndex);
  }

  /**
   * Spins until the sequence differs from `seen` or performance.now() passes `deadline`.
   * Returns true if the doorbell rang.
   */
  spin(seen: number, deadline: number): boolean {
    const words = this.words;
    const index = this.sequenceIndex;
    for (;;) {
      for (let i = 0; i < 64; i++) if (Atomics.load(words, index) !== seen) return true;
      if (performance.now() >= deadline) return Atomics.load(words, index) !== seen;
    }
  }

  /**
   * Blocks (asynchronously) until the doorbell rings after `seen`, or kick() is called.
   * Returns 'rung' or 'kicked'. At most one park may be outstanding.
   */
  async park(seen: number): Promise<'rung' | 'kicked'> {
    Atomics.store(this.words, this.sleepingIndex, 1);
    if (Atomics.load(this.words, this.sequenceIndex) !== seen) {
      Atomics.store(this.words, this.sleepingIndex, 0);
      return 'rung';
    }
    if (!this.armed) {
      const result = Atomics.waitAsync(this.words, this.sequenceIndex, seen);
      if (!result.async) {
        Atomics.store(this.words, this.sleepingIndex, 0);
        return 'rung';
      }
      this.armed = true;
      void result.value.then(() => {
        this.armed = false;
        this.wakeWith('rung');
      });
    }
    const outcome = await new Promise<'rung' | 'kicked'>((resolve) => {
      this.wake = resolve;
    });
    Atomics.store(this.words, this.sleepingIndex, 0);
    return outcome === 'kicked' && Atomics.load(this.words, this.sequenceIndex) !== seen ? 'rung' : outcome;
  }

  /** True while a park is outstanding. */
  get parked(): boolean {
    return this.wake !== undefined;
  }

  /** Ends an outstanding park at once (a local reason to look again). No effect otherwise. */
  kick(): void {
    this.wakeWith('kicked');
  }

  /** Ends any park and releases the armed waitAsync (wakes only this slot's waiters). */
  dispose(): void {
    this.kick();
    if (this.armed) Atomics.notify(this.words, this.sequenceIndex);
  }

  private wakeWith(outcome: 'rung' | 'kicked'): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.(outcome);
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
