import { describe, it, expect } from 'vitest';
import { DoorbellPage } from '../hal/doorbells.js';
import { SpinPolicy, Waiter, WAKE_MAX_MICROS } from './waiter.js';

/** One wait that spun and saw the ring after `micros` (the policy must have planned a spin). */
function hit(policy: SpinPolicy, micros: number, wokePeer = false): void {
  expect(policy.beginWait(wokePeer)).toBeGreaterThan(0);
  policy.spinSucceeded(micros);
}

/** One wait whose spin (if any) expired, then a park that saw the ring `parkedMicros` later. */
function miss(policy: SpinPolicy, parkedMicros: number, wokePeer = false): number {
  const budget = policy.beginWait(wokePeer);
  if (budget > 0) policy.spinExpired();
  policy.parkedWokenAfter(budget + parkedMicros, parkedMicros);
  return budget;
}

/** One wait as the Endpoint runs it: a planned spin hits after `spinHitMicros`; a park at once is answered after `parkMicros`. */
function wait(policy: SpinPolicy, spinHitMicros: number, parkMicros: number, wokePeer = false): 'spun' | 'parked' {
  if (policy.beginWait(wokePeer) > 0) {
    policy.spinSucceeded(spinHitMicros);
    return 'spun';
  }
  policy.parkedWokenAfter(parkMicros);
  return 'parked';
}

describe('SpinPolicy', () => {
  it('SpinPolicy halves its budget when a spin expires and the ring comes late, down to the minimum', () => {
    const policy = new SpinPolicy({ initialMicros: 40, minMicros: 2, maxMicros: 50 });
    miss(policy, 5000);
    expect(policy.budgetMicros).toBe(20);
    for (let i = 0; i < 10; i++) miss(policy, 5000);
    expect(policy.budgetMicros).toBe(2);
  });

  it('SpinPolicy doubles after an expired spin whose ring came sooner than the maximum budget', () => {
    const policy = new SpinPolicy({ initialMicros: 4, minMicros: 2, maxMicros: 50 });
    miss(policy, 30);
    expect(policy.budgetMicros).toBe(8);
  });

  it('SpinPolicy drops to the minimum after spinning the whole maximum budget in vain, however soon the ring came', () => {
    const policy = new SpinPolicy({ initialMicros: 50, minMicros: 2, maxMicros: 50 });
    miss(policy, 10);
    expect(policy.budgetMicros).toBe(2);
  });

  it('SpinPolicy ignores near misses for a while after a futile spin, unless a spin succeeds', () => {
    const policy = new SpinPolicy({ initialMicros: 50, minMicros: 2, maxMicros: 50 });
    miss(policy, 10);
    const cooling = policy.coolingWaitsLeft.ordinary;
    expect(cooling).toBeGreaterThan(4);
    for (let i = 0; i < 4; i++) miss(policy, 10);
    expect(policy.budgetMicros).toBe(2);
    expect(policy.coolingWaitsLeft).toEqual({ ordinary: cooling - 4, wake: 0 });
    hit(policy, 1);
    expect(policy.coolingWaitsLeft.ordinary).toBe(0);
    miss(policy, 10);
    expect(policy.budgetMicros).toBeGreaterThan(4);
  });

  it('SpinPolicy ignores a park it did not plan', () => {
    const policy = new SpinPolicy({ initialMicros: 10, minMicros: 2, maxMicros: 50 });
    policy.spinExpired();
    policy.parkedWokenAfter(10);
    expect(policy.budgetMicros).toBe(10);
  });

  it('SpinPolicy keeps at least four times the wait that succeeded, within the maximum', () => {
    const policy = new SpinPolicy({ initialMicros: 2, minMicros: 2, maxMicros: 50 });
    hit(policy, 10);
    expect(policy.budgetMicros).toBeGreaterThanOrEqual(40);
    hit(policy, 40);
    expect(policy.budgetMicros).toBe(50);
  });

  it('SpinPolicy keeps the minimum within a maximum set below the default minimum', () => {
    const policy = new SpinPolicy({ maxMicros: 2 });
    miss(policy, 1);
    expect(policy.budgetMicros).toBeLessThanOrEqual(2);
  });

  it('SpinPolicy with maxMicros 0 never spins, not even after waking a parked peer', () => {
    const policy = new SpinPolicy({ maxMicros: 0, minMicros: 0 });
    expect(wait(policy, 3, 3)).toBe('parked');
    miss(policy, 1);
    expect(policy.budgetMicros).toBe(0);
    expect(policy.beginWait(false)).toBe(0);
    expect(policy.beginWait(true)).toBe(0);
  });

  it('SpinPolicy spins long enough to cover a parked peer\'s wake-up, learnt from the answers that followed one', () => {
    const policy = new SpinPolicy();
    for (let i = 0; i < 50; i++) wait(policy, 2, 45);
    expect(policy.budgetMicros).toBeLessThan(40);
    for (let i = 0; i < 50; i++) wait(policy, 70, 120, true);
    const budget = policy.wakeBudgetMicros;
    expect(budget).toBeGreaterThan(70);
    expect(budget).toBeLessThanOrEqual(WAKE_MAX_MICROS);
    // Waits after waking a peer leave the ordinary budget alone.
    expect(policy.budgetMicros).toBeLessThan(40);
  });

  it('SpinPolicy grows the wake-up budget when the answer to a woken peer comes after it', () => {
    const policy = new SpinPolicy();
    const first = policy.beginWait(true);
    policy.spinExpired();
    policy.parkedWokenAfter(first + 20, 20);
    expect(policy.wakeBudgetMicros).toBeGreaterThan(first);
  });

  it('SpinPolicy keeps spinning through a conversation whose peer answers within the budget, where a park costs a slow wake-up', () => {
    // An idle machine whose halted cores take ~40 µs to wake: spins hit after 2 µs, parks would take 45 µs.
    const policy = new SpinPolicy();
    let parks = 0;
    for (let i = 0; i < 2000; i++) if (wait(policy, 2, 45) === 'parked') parks++;
    expect(parks).toBe(0);
    expect(policy.budgetMicros).toBeGreaterThanOrEqual(8);
  });

  it('SpinPolicy keeps a wake-up budget that covers the wake-ups it measured, even after answers that needed none', () => {
    const policy = new SpinPolicy();
    for (let i = 0; i < 20; i++) hit(policy, 45, true);
    expect(policy.wakeBudgetMicros).toBeGreaterThanOrEqual(180);
    // Peers that had only just parked answer at once (no real wake-up): the budget shrinks...
    for (let i = 0; i < 200; i++) hit(policy, 2, true);
    expect(policy.wakeBudgetMicros).toBeLessThan(45);
    // ...and a real 45 µs wake-up brings it back within a few waits (near misses double it).
    let waits = 0;
    for (;;) {
      waits++;
      const budget = policy.beginWait(true);
      if (budget > 45) {
        policy.spinSucceeded(45);
        break;
      }
      policy.spinExpired();
      policy.parkedWokenAfter(45, 45 - budget);
    }
    expect(waits).toBeLessThanOrEqual(4);
    expect(policy.wakeBudgetMicros).toBeGreaterThanOrEqual(180);
  });

  it('SpinPolicy spins little after waking peers that answer only once this thread parks (an oversubscribed machine)', () => {
    // Every wait follows a wake-up; spins never see the ring; a park is answered 10 µs later.
    const policy = new SpinPolicy();
    for (let i = 0; i < 2000; i++) miss(policy, 10, true);
    let spun = 0;
    for (let i = 0; i < 4000; i++) spun += miss(policy, 10, true);
    expect(spun / 4000).toBeLessThan(2 * policy.minMicros);
    // A hit ends it: the next near miss doubles the budget again.
    hit(policy, 4, true);
    const before = policy.wakeBudgetMicros;
    miss(policy, 10, true);
    expect(policy.wakeBudgetMicros).toBe(Math.min(policy.wakeMaxMicros, 2 * before));
  });

  it('SpinPolicy drops the wake-up budget to the minimum where woken peers answer only after milliseconds', () => {
    const policy = new SpinPolicy();
    for (let i = 0; i < 10; i++) miss(policy, 5000, true);
    expect(policy.wakeBudgetMicros).toBe(policy.minMicros);
    // The ordinary budget is left alone.
    expect(policy.budgetMicros).toBe(20);
  });

  it('SpinPolicy spins little where spins never see the ring (the peer has no core), and spins again when they do', () => {
    // Spins never see the ring; a parked thread is answered 8 µs after parking.
    const policy = new SpinPolicy();
    let spun = 0;
    for (let i = 0; i < 2000; i++) spun += miss(policy, 8);
    expect(spun / 2000).toBeLessThan(policy.maxMicros / 3);
    // The longer it lasts, the closer to the minimum: the cooling after a futile spin grows.
    let spunLater = 0;
    for (let i = 0; i < 4000; i++) spunLater += miss(policy, 8);
    expect(spunLater / 4000).toBeLessThan(1.5 * policy.minMicros);
    // The load goes away: spins hit at once; within a few waits the policy spins on every one.
    let parksAtTheEnd = 0;
    for (let i = 0; i < 100; i++) if (wait(policy, 2, 45) === 'parked' && i >= 10) parksAtTheEnd++;
    expect(parksAtTheEnd).toBe(0);
  });
});

describe('Waiter', () => {
  it('Waiter.park returns rung when the doorbell rings', async () => {
    const doorbells = new DoorbellPage();
    const waiter = new Waiter(doorbells, 3);
    const parked = waiter.park(waiter.sequence());
    expect(waiter.parked).toBe(true);
    doorbells.ring(3);
    expect(await parked).toBe('rung');
    expect(waiter.parked).toBe(false);
  });

  it('Waiter.park returns at once if the doorbell rang after `seen` was read', async () => {
    const doorbells = new DoorbellPage();
    const waiter = new Waiter(doorbells, 3);
    const seen = waiter.sequence();
    doorbells.ring(3);
    expect(await waiter.park(seen)).toBe('rung');
  });

  it('Waiter.kick ends a park without a ring, and the armed wait still catches the next ring', async () => {
    const doorbells = new DoorbellPage();
    const waiter = new Waiter(doorbells, 3);
    const first = waiter.park(waiter.sequence());
    waiter.kick();
    expect(await first).toBe('kicked');
    const second = waiter.park(waiter.sequence());
    doorbells.ring(3);
    expect(await second).toBe('rung');
  });

  it('Waiter.spin reports a ring that happened before the deadline', () => {
    const doorbells = new DoorbellPage();
    const waiter = new Waiter(doorbells, 3);
    const seen = waiter.sequence();
    expect(waiter.spin(seen, performance.now())).toBe(false);
    doorbells.ring(3);
    expect(waiter.spin(seen, performance.now() + 1)).toBe(true);
  });
});
