import { describe, it, expect } from 'vitest';
import { decideRestart } from './restart_policy.js';

const policy = { policy: 'always' as const, maximumQuickFailures: 4, minimumRunMs: 1000, backoffInitialMs: 100, backoffCapMs: 300 };
const quick = { ranForMs: 10, becameReady: true };

describe('decideRestart', () => {
  it('decideRestart restarts the first failure at once', () => {
    expect(decideRestart(policy, 0, quick)).toEqual({ action: 'restart', delayMs: 0, quickFailures: 1 });
  });

  it('decideRestart backs off exponentially up to the cap for quick failures', () => {
    const delays: number[] = [];
    let failures = 0;
    for (let i = 0; i < 3; i++) {
      const decision = decideRestart({ ...policy, maximumQuickFailures: 10 }, failures, quick);
      if (decision.action !== 'restart') throw new Error('expected a restart');
      delays.push(decision.delayMs);
      failures = decision.quickFailures;
    }
    expect(delays).toEqual([0, 100, 200]);
    expect(decideRestart({ ...policy, maximumQuickFailures: 10 }, 5, quick)).toMatchObject({ action: 'restart', delayMs: 300 });
  });

  it('decideRestart gives up at the maximumQuickFailures-th quick failure in a row, and says so', () => {
    const decisions = [0, 1, 2, 3].map((previous) => decideRestart(policy, previous, quick));
    expect(decisions.map((decision) => decision.action)).toEqual(['restart', 'restart', 'restart', 'give-up']);
    expect(decisions[3]).toMatchObject({ quickFailures: 4, reason: expect.stringMatching(/^4 failures in a row, .*\(maximumQuickFailures 4\)$/) });
  });

  it('decideRestart counts a generation that never became ready as quick, however long it took', () => {
    expect(decideRestart(policy, 3, { ranForMs: 60_000, becameReady: false }).action).toBe('give-up');
    expect(decideRestart(policy, 1, { ranForMs: 60_000, becameReady: false })).toEqual({ action: 'restart', delayMs: 100, quickFailures: 2 });
  });

  it('decideRestart forgives failures after a run longer than minimumRunMs', () => {
    expect(decideRestart(policy, 3, { ranForMs: 5000, becameReady: true })).toEqual({ action: 'restart', delayMs: 0, quickFailures: 1 });
  });

  it('decideRestart never restarts under the "never" policy', () => {
    expect(decideRestart({ ...policy, policy: 'never' }, 0, quick).action).toBe('give-up');
  });
});
