// The board's clock: a monotonic time base shared by every thread.
//
// Like RISC-V's mtime, it counts from board power-on at a fixed frequency (1 MHz here,
// the device tree's timebase-frequency). Threads have different performance.timeOrigin,
// so the board publishes its epoch in wall-clock milliseconds and each thread converts.

export const TIMEBASE_FREQUENCY = 1_000_000;

export class Clock {
  readonly buffer: SharedArrayBuffer;
  private readonly epoch: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(8);
    this.epoch = new Float64Array(this.buffer);
    if (!buffer) this.epoch[0] = performance.timeOrigin + performance.now();
  }

  /** Milliseconds since power-on, fractional. */
  nowMs(): number {
    return performance.timeOrigin + performance.now() - this.epoch[0]!;
  }

  /** Wall-clock milliseconds since the Unix epoch at `sinceBootMs` after power-on (as Date.now() counts). */
  wallClockMs(sinceBootMs: number): number {
    return this.epoch[0]! + sinceBootMs;
  }

  /** mtime: ticks of TIMEBASE_FREQUENCY since power-on. */
  ticks(): number {
    return Math.floor(this.nowMs() * (TIMEBASE_FREQUENCY / 1000));
  }
}
