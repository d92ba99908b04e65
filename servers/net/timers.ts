// Time for the stack: what it reads the clock with and how it sets timers, injected so
// unit tests run the protocols on a clock they move by hand (ManualTimers).

export interface Timers {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a function that cancels it. */
  after(ms: number, callback: () => void): () => void;
}

/** The real clock: performance.now() and setTimeout. */
export const realTimers: Timers = {
  now: () => performance.now(),
  after: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

/** A clock that moves only when `advance` is called: timers fire in due order. */
export class ManualTimers implements Timers {
  private time = 0;
  private sequence = 0;
  private pending: { due: number; order: number; callback: () => void }[] = [];

  now(): number {
    return this.time;
  }

  after(ms: number, callback: () => void): () => void {
    const entry = { due: this.time + ms, order: this.sequence++, callback };
    this.pending.push(entry);
    return () => { this.pending = this.pending.filter((each) => each !== entry); };
  }

  /** Moves the clock by `ms`, firing every timer that comes due, earliest first. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      this.pending.sort((a, b) => a.due - b.due || a.order - b.order);
      const next = this.pending[0];
      if (next === undefined || next.due > end) break;
      this.pending.shift();
      this.time = next.due;
      next.callback();
    }
    this.time = end;
  }
}
