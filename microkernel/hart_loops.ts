// The kernel's loop per hart: each hart (a HartThread, its own worker thread) takes turns from
// the scheduler; when nothing is runnable the loop awaits Scheduler.whenRunnable() and the
// thread stays parked in Atomics.wait, so an idle system spends no CPU on its harts. The
// loops run on the kernel's thread, between its messages: a slice runs on the hart's thread
// while the kernel serves IPC, and the trap comes back as a resolved promise.

import type { Scheduler, ThreadedHart } from './scheduler.js';

export class HartLoops {
  private readonly scheduler: Scheduler;
  private readonly harts: readonly ThreadedHart[];
  /** Per hart, what it must do before its next turn (code invalidation, fences), in order. */
  private readonly maintenance = new Map<number, Array<(hart: ThreadedHart) => Promise<void>>>();
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly parked = new Set<number>();
  private idleWaiters: Array<() => void> = [];
  private stopWaker: (() => void) | undefined;
  private readonly stopped: Promise<void>;
  /** The first error a hart's loop met (a dead hart thread); that loop has ended. */
  failure: Error | undefined;

  constructor(scheduler: Scheduler, harts: readonly ThreadedHart[]) {
    this.scheduler = scheduler;
    this.harts = harts;
    this.stopped = new Promise((resolve) => { this.stopWaker = resolve; });
  }

  /**
   * Runs `action` on every hart before that hart's next turn: a hart thread serves one request
   * at a time, so a fence or code invalidation waits for its slice. Queue it before admitting
   * the process that needs it and no hart runs that process first.
   */
  beforeNextTurn(action: (hart: ThreadedHart) => Promise<void>): void {
    for (const hart of this.harts) {
      const queue = this.maintenance.get(hart.hartId) ?? [];
      queue.push(action);
      this.maintenance.set(hart.hartId, queue);
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const hart of this.harts) this.loops.push(this.loop(hart));
  }

  /** Whether every hart is parked with nothing to run. */
  get idle(): boolean {
    return this.parked.size === this.harts.length;
  }

  /** Resolves when every hart is parked with nothing to run (at once if so). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends the loops after their current slices (a running slice ends at its timer). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopWaker?.();
    await Promise.all(this.loops);
  }

  private async loop(hart: ThreadedHart): Promise<void> {
    try {
      while (this.running) {
        const queued = this.maintenance.get(hart.hartId);
        while (queued && queued.length > 0) await queued.shift()!(hart);
        if ((await this.scheduler.stepThread(hart)) === 'ran') continue;
        this.parked.add(hart.hartId);
        if (this.idle) for (const resolve of this.idleWaiters.splice(0)) resolve();
        await Promise.race([this.scheduler.whenRunnable(), this.stopped]);
        this.parked.delete(hart.hartId);
      }
    } catch (error) {
      this.failure ??= error as Error;
    }
  }
}
