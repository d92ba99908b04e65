// When to restart a server that died, after MINIX 3's reincarnation server.
//
// A failure is quick when the generation never became ready (it threw in init, crashed
// while starting, or was not ready within its start timeout) or ran less than
// minimumRunMs. The first failure restarts at once; quick failures that follow back off
// exponentially from backoffInitialMs up to backoffCapMs. The maximumQuickFailures-th
// quick failure in a row marks the server failed, and it is left alone (with
// maximumQuickFailures 3: three generations start, the third failure is the last).
// A run of minimumRunMs or longer forgives past failures: its failure counts as the first.

import type { RestartPolicy } from './manifest.js';

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly quickFailures: number }
  | { readonly action: 'give-up'; readonly quickFailures: number; readonly reason: string };

/** How the generation that ended ran: for how long, and whether it ever became ready. */
export interface EndedRun {
  readonly ranForMs: number;
  readonly becameReady: boolean;
}

export function decideRestart(policy: RestartPolicy, previousQuickFailures: number, run: EndedRun): RestartDecision {
  if (policy.policy === 'never') return { action: 'give-up', quickFailures: previousQuickFailures, reason: 'restart policy is "never"' };
  const quick = !run.becameReady || run.ranForMs < policy.minimumRunMs;
  const quickFailures = quick ? previousQuickFailures + 1 : 1;
  if (quick && quickFailures >= policy.maximumQuickFailures) {
    return {
      action: 'give-up',
      quickFailures,
      reason: `${quickFailures} failures in a row, each before it was ready or within ${policy.minimumRunMs} ms of starting (maximumQuickFailures ${policy.maximumQuickFailures})`,
    };
  }
  const delayMs = quickFailures <= 1 ? 0 : Math.min(policy.backoffCapMs, policy.backoffInitialMs * 2 ** (quickFailures - 2));
  return { action: 'restart', delayMs, quickFailures };
}
