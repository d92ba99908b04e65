// When to restart a server that died, after MINIX 3's reincarnation server.
//
// The first failure restarts at once. Failures that follow quickly (the server ran less
// than minimumRunMs) back off exponentially from backoffInitialMs up to backoffCapMs;
// once more than maximumQuickFailures quick failures pile up, the server is marked
// failed and left alone. A run longer than minimumRunMs forgives past failures.

import type { RestartPolicy } from './manifest.js';

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly quickFailures: number }
  | { readonly action: 'give-up'; readonly quickFailures: number; readonly reason: string };

export function decideRestart(policy: RestartPolicy, previousQuickFailures: number, ranForMs: number): RestartDecision {
  if (policy.policy === 'never') return { action: 'give-up', quickFailures: previousQuickFailures, reason: 'restart policy is "never"' };
  const quickFailures = ranForMs >= policy.minimumRunMs ? 1 : previousQuickFailures + 1;
  if (quickFailures > policy.maximumQuickFailures) {
    return { action: 'give-up', quickFailures, reason: `${quickFailures} failures in a row, each within ${policy.minimumRunMs} ms of starting` };
  }
  const delayMs = quickFailures <= 1 ? 0 : Math.min(policy.backoffCapMs, policy.backoffInitialMs * 2 ** (quickFailures - 2));
  return { action: 'restart', delayMs, quickFailures };
}
