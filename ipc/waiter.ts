// How an Endpoint waits on its thread's doorbell: spin briefly and adaptively, then park.
//
// Waking a thread that blocked costs from ~8 µs (AMD EPYC, Firecracker) to ~40 µs (Intel Xeon
// with the haltpoll cpuidle driver and no guest halt-polling: the idle vCPU halts and needs
// an IPI through the hypervisor); a thread spinning on the doorbell word sees a ring within
// a microsecond, but only while it has a core to itself. So the Endpoint spins only when it
// expects something (a reply to an outstanding call, or the next request right after serving
// one), for a budget the SpinPolicy adapts from what it observes, and otherwise parks.
//
// A ring tells the ringer whether the peer was parked (hal/doorbells.ts ring() returns it).
// If so, the answer cannot come before that peer's wake-up, and if this thread parked too it
// would pay a second wake-up for the answer — two parked peers would go on paying two per
// round trip. So after waking a parked peer the Endpoint spins for the wake-up budget
// instead, long enough to cover the peer's wake-up as measured on this machine: the peer
// then finds it spinning, answers at once, and the pair is back to spinning.
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
/** First guess of how long a parked peer takes to wake up and answer. */
const WAKE_INITIAL_MICROS = 50;
/** Expired spins after a futile one during which the budget stays at its minimum. */
const COOLING_WAITS = 16;
/** Spinning is chosen only while its waits are this much shorter than parking's (it costs CPU). */
const SPIN_ADVANTAGE = 0.8;
/** Waits between two tries of the choice not taken: from FIRST_EXPLORE, doubling up to LAST_EXPLORE. */
const FIRST_EXPLORE = 8;
const LAST_EXPLORE = 256;

/**
 * Whether to spin at all, learnt from how long waits took each way (µs from the start of the
 * wait to the ring seen; a park includes this thread's own wake-up). The choice not taken is
 * tried again after 8, 16 … 256 waits, so a change of machine load is noticed within a few
 * hundred waits while a choice that keeps winning costs almost nothing to re-check.
 */
class SpinOrPark {
  private spinMicros = Number.NaN;
  private parkMicros = Number.NaN;
  private current: 'spin' | 'park' = 'spin';
  private exploreEvery = FIRST_EXPLORE;
  private untilExplore = FIRST_EXPLORE;

  next(): 'spin' | 'park' {
    if (--this.untilExplore > 0) return this.current;
    this.untilExplore = this.exploreEvery;
    this.exploreEvery = Math.min(LAST_EXPLORE, this.exploreEvery * 2);
    return this.current === 'spin' ? 'park' : 'spin';
  }

  record(arm: 'spin' | 'park', waitedMicros: number): void {
    if (arm === 'spin') this.spinMicros = average(this.spinMicros, waitedMicros);
    else this.parkMicros = average(this.parkMicros, waitedMicros);
    if (Number.isNaN(this.spinMicros) || Number.isNaN(this.parkMicros)) return;
    const better = this.spinMicros < this.parkMicros * SPIN_ADVANTAGE ? 'spin' : 'park';
    if (better === this.current) return;
    this.current = better;
    this.exploreEvery = FIRST_EXPLORE;
    this.untilExplore = FIRST_EXPLORE;
  }
}

/** The wait a SpinPolicy planned and has not yet been told the end of. */
interface PlannedWait {
  readonly wokePeer: boolean;
  readonly arm: 'spin' | 'park';
}

/**
 * How long one kind of wait (for replies, or for the next request) spins before parking.
 *
 * Each wait is planned by beginWait(wokePeer): `wokePeer` says this thread's last frame woke
 * its parked peer. For each of the two cases a SpinOrPark learns whether spinning pays at all
 * on this machine now (on an idle machine whose halted cores take ~40 µs to wake it does; on
 * an oversubscribed one the spinner takes the core its peer needs, and a blocked thread is
 * woken in a few µs, so it does not). When spinning, the budget is:
 *
 * Ordinary budget (the peer was awake): a spin that ends in a ring after w µs moves the
 * budget toward 8·w (never below 4·w). A spin that expires is judged by the park that follows:
 *   - rung sooner than the maximum budget: a near miss, the budget doubles;
 *   - rung later: spinning does not pay for this traffic, the budget halves;
 *   - the spin had used the whole maximum budget: futile (typically the peer has no core
 *     while this thread spins), the budget drops to the minimum and near misses are ignored
 *     for the next COOLING_WAITS expired spins (a hit ends that at once).
 *
 * Wake-up budget (the peer had to be woken): twice the running estimate of how long such an
 * answer takes (its hits, averaged), at least the ordinary budget, at most wakeMaxMicros; an
 * expired one grows the estimate by half. Waits after waking a peer never change the
 * ordinary budget.
 */
export class SpinPolicy {
  readonly minMicros: number;
  readonly maxMicros: number;
  readonly wakeMaxMicros: number;
  private budget: number;
  private expiredAt = -1;
  /** Waits left after a futile spin during which near misses do not grow the budget. */
  private coolingWaits = 0;
  private wakeEstimate = WAKE_INITIAL_MICROS;
  private readonly afterAwakePeer = new SpinOrPark();
  private readonly afterWokenPeer = new SpinOrPark();
  private planned: PlannedWait | undefined;

  constructor(options: SpinPolicyOptions = {}) {
    this.maxMicros = Math.max(0, options.maxMicros ?? 50);
    this.minMicros = Math.min(Math.max(0, options.minMicros ?? 5), this.maxMicros);
    this.budget = clamp(options.initialMicros ?? 20, this.minMicros, this.maxMicros);
    this.wakeMaxMicros = this.maxMicros === 0 ? 0 : Math.max(this.maxMicros, options.wakeMaxMicros ?? WAKE_MAX_MICROS);
  }

  /** Microseconds a spin lasts when the peer was awake. */
  get budgetMicros(): number {
    return this.budget;
  }

  /** Microseconds a spin lasts after waking a parked peer. */
  get wakeBudgetMicros(): number {
    return clamp(2 * this.wakeEstimate, this.budget, this.wakeMaxMicros);
  }

  /** Plans the next wait: microseconds to spin before parking, 0 to park at once. */
  beginWait(wokePeer = false): number {
    const spinMicros = wokePeer ? this.wakeBudgetMicros : this.budget;
    const arm = spinMicros > 0 ? (wokePeer ? this.afterWokenPeer : this.afterAwakePeer).next() : 'park';
    this.planned = { wokePeer, arm };
    return arm === 'spin' ? spinMicros : 0;
  }

  /** The planned spin saw the ring `waitedMicros` after the wait began. */
  spinSucceeded(waitedMicros: number): void {
    const planned = this.take();
    if (!planned) return;
    this.choice(planned).record('spin', waitedMicros);
    if (planned.wokePeer) {
      this.wakeEstimate = clamp(this.wakeEstimate + (waitedMicros - this.wakeEstimate) / 4, this.minMicros, this.wakeMaxMicros / 2);
      return;
    }
    this.expiredAt = -1;
    this.coolingWaits = 0;
    const target = Math.max(8 * waitedMicros, this.minMicros);
    this.budget = clamp(this.budget + (target - this.budget) / 4, Math.max(this.minMicros, 4 * waitedMicros), this.maxMicros);
  }

  /** The planned spin ran out of budget; the loop parks next. */
  spinExpired(): void {
    const planned = this.planned;
    if (!planned || planned.arm !== 'spin') return;
    if (planned.wokePeer) this.wakeEstimate = Math.min(this.wakeMaxMicros / 2, this.wakeEstimate * 1.5);
    else this.expiredAt = this.budget;
  }

  /**
   * The park that ended the planned wait saw the ring: `waitedMicros` after the wait began,
   * `parkedMicros` after parking.
   */
  parkedWokenAfter(waitedMicros: number, parkedMicros = waitedMicros): void {
    const planned = this.take();
    if (!planned) return;
    this.choice(planned).record(planned.arm, waitedMicros);
    if (this.expiredAt < 0) return;
    const futile = this.expiredAt >= this.maxMicros;
    this.expiredAt = -1;
    if (futile) {
      this.budget = this.minMicros;
      this.coolingWaits = COOLING_WAITS;
    } else if (this.coolingWaits > 0) {
      this.coolingWaits--;
    } else if (parkedMicros < this.maxMicros) {
      this.budget = Math.min(this.maxMicros, this.budget * 2);
    } else {
      this.budget = Math.max(this.minMicros, this.budget / 2);
    }
  }

  private take(): PlannedWait | undefined {
    const planned = this.planned;
    this.planned = undefined;
    return planned;
  }

  private choice(planned: PlannedWait): SpinOrPark {
    return planned.wokePeer ? this.afterWokenPeer : this.afterAwakePeer;
  }
}

function average(mean: number, sample: number): number {
  return Number.isNaN(mean) ? sample : mean + (sample - mean) / 8;
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
