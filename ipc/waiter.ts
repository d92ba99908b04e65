// How an Endpoint waits on its thread's doorbell: spin while a conversation is active, then park.
//
// Waking a thread that blocked costs from ~8 µs (AMD EPYC, Firecracker) to ~40 µs and more
// (a VM whose cpuidle driver is haltpoll with guest halt-polling off: the idle vCPU halts and
// needs an IPI through the hypervisor); a thread spinning on the doorbell word sees a ring
// within a microsecond. So the Endpoint spins only when it expects something (a reply to an
// outstanding call, or the next request right after serving one), for a bounded budget the
// SpinPolicy adapts from what it observes, and otherwise parks: an idle Endpoint never spins,
// and the end of a conversation costs each side at most one expired spin.
//
// A ring tells the ringer whether the peer was parked (hal/doorbells.ts ring() returns it).
// If so, the answer cannot come before that peer's wake-up, and if this thread parked too it
// would pay a second wake-up for the answer — two parked peers would go on paying two per
// round trip. So after waking a parked peer the Endpoint spins with a budget of its own,
// long enough to cover the peer's wake-up as measured on this machine: the peer then finds
// it spinning, answers at once, and the pair is back to spinning.
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
  /** Longest spin after waking a parked peer (default WAKE_MAX_MICROS; 0 when maxMicros is 0). */
  readonly wakeMaxMicros?: number;
}

/** Default longest spin after waking a parked peer: above the slowest wake-up measured (~40–90 µs). */
export const WAKE_MAX_MICROS = 250;
/** First spin after waking a parked peer: covers a ~40 µs wake-up and the answer. */
const WAKE_INITIAL_MICROS = 100;
/** Expired spins after a futile one during which the budget stays at its minimum (the first time)... */
const COOLING_WAITS = 16;
/** ...doubling with each futile spin that follows without a hit in between, up to this. */
const MAX_COOLING_WAITS = 1024;

/**
 * One adaptive spin budget, in µs, within [min, max].
 *
 * A spin that ends in a ring after w µs moves the budget toward 8·w (never below 4·w). A spin
 * that expires is judged by the park that follows:
 *   - rung sooner than the maximum budget: a near miss, the budget doubles;
 *   - rung later: spinning does not pay for this traffic, the budget halves;
 *   - the spin had used the whole maximum budget: futile (typically the peer has no core
 *     while this thread spins, or it answers only much later), the budget drops to the
 *     minimum and near misses are ignored for the next COOLING_WAITS expired spins, twice
 *     as many after each futile spin that follows without a hit, up to MAX_COOLING_WAITS
 *     (a hit ends that at once and resets it). On an oversubscribed machine a park is
 *     answered soon because it gives the peer the core, which looks like a near miss: the
 *     growing cooling is what keeps such traffic from climbing to the maximum again and again.
 * So the budget follows the waits that spinning can catch and never costs more than `max`
 * per wait; under traffic spinning cannot catch it costs about the minimum.
 */
export class SpinBudget {
  readonly minMicros: number;
  readonly maxMicros: number;
  private budget: number;
  private expiredAt = -1;
  private coolingWaits = 0;
  /** How long the next cooling lasts: grows while spins keep being futile, so sustained futility costs ~the minimum. */
  private coolingLength = COOLING_WAITS;

  constructor(initialMicros: number, minMicros: number, maxMicros: number) {
    this.maxMicros = Math.max(0, maxMicros);
    this.minMicros = clamp(minMicros, 0, this.maxMicros);
    this.budget = clamp(initialMicros, this.minMicros, this.maxMicros);
  }

  get micros(): number {
    return this.budget;
  }

  /** Expired spins left in the cooling after a futile spin (0 when not cooling), for diagnostics. */
  get coolingWaitsLeft(): number {
    return this.coolingWaits;
  }

  /** A spin of this budget saw the ring `waitedMicros` after the wait began. */
  hit(waitedMicros: number): void {
    this.expiredAt = -1;
    this.coolingWaits = 0;
    this.coolingLength = COOLING_WAITS;
    const target = Math.max(8 * waitedMicros, this.minMicros);
    this.budget = clamp(this.budget + (target - this.budget) / 4, Math.max(this.minMicros, 4 * waitedMicros), this.maxMicros);
  }

  /** A spin of this budget ran out; the park that follows is judged by answered(). */
  expired(): void {
    this.expiredAt = this.budget;
  }

  /** The park after an expired spin saw the ring `parkedMicros` after parking. No effect after a hit. */
  answered(parkedMicros: number): void {
    if (this.expiredAt < 0) return;
    const futile = this.expiredAt >= this.maxMicros;
    this.expiredAt = -1;
    if (futile) {
      this.budget = this.minMicros;
      this.coolingWaits = this.coolingLength;
      this.coolingLength = Math.min(MAX_COOLING_WAITS, this.coolingLength * 2);
    } else if (this.coolingWaits > 0) {
      this.coolingWaits--;
    } else if (parkedMicros < this.maxMicros) {
      this.budget = Math.min(this.maxMicros, this.budget * 2);
    } else {
      this.budget = Math.max(this.minMicros, this.budget / 2);
    }
  }
}

/**
 * How long one kind of wait (for replies, or for the next request) spins before parking.
 *
 * Each wait is planned by beginWait(wokePeer): `wokePeer` says this thread's last frame woke
 * its parked peer. The two cases have a SpinBudget each:
 *   - the peer was awake (the ordinary budget, 5..50 µs by default): the answer comes as
 *     fast as the peer can work, and the budget follows that;
 *   - the peer had to be woken (the wake-up budget, up to wakeMaxMicros, first 100 µs): the
 *     answer comes after the peer's wake-up, so this budget follows the wake-ups measured
 *     here — a hit after a 45 µs wake-up keeps it at 180 µs or more. Where answers to a woken
 *     peer come later than the whole budget (a server that works for milliseconds), it drops
 *     to the minimum like any futile spin.
 * Waits of one kind never change the other's budget.
 */
export class SpinPolicy {
  private readonly ordinary: SpinBudget;
  private readonly wake: SpinBudget;
  private planned: SpinBudget | undefined;

  constructor(options: SpinPolicyOptions = {}) {
    const maxMicros = Math.max(0, options.maxMicros ?? 50);
    const minMicros = Math.min(Math.max(0, options.minMicros ?? 5), maxMicros);
    this.ordinary = new SpinBudget(options.initialMicros ?? 20, minMicros, maxMicros);
    const wakeMax = maxMicros === 0 ? 0 : Math.max(maxMicros, options.wakeMaxMicros ?? WAKE_MAX_MICROS);
    this.wake = new SpinBudget(WAKE_INITIAL_MICROS, minMicros, wakeMax);
  }

  get minMicros(): number {
    return this.ordinary.minMicros;
  }

  get maxMicros(): number {
    return this.ordinary.maxMicros;
  }

  get wakeMaxMicros(): number {
    return this.wake.maxMicros;
  }

  /** Microseconds a spin lasts when the peer was awake. */
  get budgetMicros(): number {
    return this.ordinary.micros;
  }

  /** Microseconds a spin lasts after waking a parked peer. */
  get wakeBudgetMicros(): number {
    return this.wake.micros;
  }

  /** Expired spins left in each budget's cooling (0 when not cooling), for diagnostics. */
  get coolingWaitsLeft(): { ordinary: number; wake: number } {
    return { ordinary: this.ordinary.coolingWaitsLeft, wake: this.wake.coolingWaitsLeft };
  }

  /** Plans the next wait: microseconds to spin before parking, 0 to park at once. */
  beginWait(wokePeer = false): number {
    const budget = wokePeer ? this.wake : this.ordinary;
    this.planned = budget.micros > 0 ? budget : undefined;
    return this.planned?.micros ?? 0;
  }

  /** The planned spin saw the ring `waitedMicros` after the wait began. */
  spinSucceeded(waitedMicros: number): void {
    this.planned?.hit(waitedMicros);
    this.planned = undefined;
  }

  /** The planned spin ran out of budget; the loop parks next. */
  spinExpired(): void {
    this.planned?.expired();
  }

  /**
   * The park that ended the planned wait saw the ring: `waitedMicros` after the wait began,
   * `parkedMicros` after parking.
   */
  parkedWokenAfter(waitedMicros: number, parkedMicros = waitedMicros): void {
    this.planned?.answered(parkedMicros);
    this.planned = undefined;
  }
}

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
