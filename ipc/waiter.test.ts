import { describe, it, expect } from 'vitest';
import { DoorbellPage } from '../hal/doorbells.js';
import { SpinPolicy, Waiter } from './waiter.js';

describe('SpinPolicy', () => {
  it('SpinPolicy halves its budget when a spin expires and the ring comes late, down to the minimum', () => {
    const policy = new SpinPolicy({ initialMicros: 40, minMicros: 2, maxMicros: 50 });
    policy.spinExpired();
    policy.parkedWokenAfter(5000);
    expect(policy.budgetMicros).toBe(20);
    for (let i = 0; i < 10; i++) {
      policy.spinExpired();
      policy.parkedWokenAfter(5000);
    }
    expect(policy.budgetMicros).toBe(2);
  });

  it('SpinPolicy doubles after an expired spin whose ring came sooner than the maximum budget', () => {
    const policy = new SpinPolicy({ initialMicros: 4, minMicros: 2, maxMicros: 50 });
    policy.spinExpired();
    policy.parkedWokenAfter(30);
    expect(policy.budgetMicros).toBe(8);
  });

  it('SpinPolicy drops to the minimum after spinning the whole maximum budget in vain, however soon the ring came', () => {
    const policy = new SpinPolicy({ initialMicros: 50, minMicros: 2, maxMicros: 50 });
    policy.spinExpired();
    policy.parkedWokenAfter(10);
    expect(policy.budgetMicros).toBe(2);
  });

  it('SpinPolicy ignores near misses for a while after a futile spin, unless a spin succeeds', () => {
    const policy = new SpinPolicy({ initialMicros: 50, minMicros: 2, maxMicros: 50 });
    policy.spinExpired();
    policy.parkedWokenAfter(10);
    for (let i = 0; i < 5; i++) {
      policy.spinExpired();
      policy.parkedWokenAfter(10);
    }
    expect(policy.budgetMicros).toBe(2);
    policy.spinSucceeded(1);
    policy.spinExpired();
    policy.parkedWokenAfter(10);
    expect(policy.budgetMicros).toBeGreaterThan(4);
  });

  it('SpinPolicy ignores a park that did not follow an expired spin', () => {
    const policy = new SpinPolicy({ initialMicros: 10, minMicros: 2, maxMicros: 50 });
    policy.parkedWokenAfter(10);
    expect(policy.budgetMicros).toBe(10);
  });

  it('SpinPolicy keeps at least four times the wait that succeeded, within the maximum', () => {
    const policy = new SpinPolicy({ initialMicros: 2, minMicros: 2, maxMicros: 50 });
    policy.spinSucceeded(10);
    expect(policy.budgetMicros).toBeGreaterThanOrEqual(40);
    policy.spinSucceeded(40);
    expect(policy.budgetMicros).toBe(50);
  });

  it('SpinPolicy keeps the minimum within a maximum set below the default minimum', () => {
    const policy = new SpinPolicy({ maxMicros: 2 });
    policy.spinExpired();
    policy.parkedWokenAfter(1);
    expect(policy.budgetMicros).toBeLessThanOrEqual(2);
  });

  it('SpinPolicy with maxMicros 0 never spins', () => {
    const policy = new SpinPolicy({ maxMicros: 0, minMicros: 0 });
    policy.spinSucceeded(3);
    policy.spinExpired();
    policy.parkedWokenAfter(1);
    expect(policy.budgetMicros).toBe(0);
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
