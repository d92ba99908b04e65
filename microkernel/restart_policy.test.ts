import { describe, it, expect } from 'vitest';
import { decideRestart } from './restart_policy.js';

const policy = { policy: 'always' as const, maximumQuickFailures: 4, minimumRunMs: 1000, backoffInitialMs: 100, backoffCapMs: 300 };

describe('decideRestart', () => {
  it('decideRestart restarts the first failure at once', () => {
    expect(decideRestart(policy, 0, 10)).toEqual({ action: 'restart', delayMs: 0, quickFailures: 1 });
  });

  it('decideRestart backs off exponentially up to the cap for quick failures', () => {
    const delays: number[] = [];
    let failures = 0;
    for (let i = 0; i < 4; i++) {
      const decision = decideRestart(policy, failures, 10);
      if (decision.action !== 'restart') throw new Error('expected a restart');
      delays.push(decision.delayMs);
      failures = decision.quickFailures;
    }
    expect(delays).toEqual([0, 100, 200, 300]);
  });

  it('decideRestart gives up after maximumQuickFailures quick failures', () => {
    const decision = decideRestart(policy, 4, 10);
    expect(decision.action).toBe('give-up');
  });

  it('decideRestart forgives failures after a run longer than minimumRunMs', () => {
    expect(decideRestart(policy, 4, 5000)).toEqual({ action: 'restart', delayMs: 0, quickFailures: 1 });
  });

  it('decideRestart never restarts under the "never" policy', () => {
    expect(decideRestart({ ...policy, policy: 'never' }, 0, 10).action).toBe('give-up');
  });
});
