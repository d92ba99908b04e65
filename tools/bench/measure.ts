// Measuring for `npm run bench`: repeated samples, reported as medians with a range.
//
// Benchmarks never assert times. Each figure is a median over samples taken in this run,
// and where a baseline was measured in the same run, the ratio to it.

export interface Figure {
  /** Stable dotted name, e.g. "ipc.call.64B". */
  readonly name: string;
  /** Unit of median/min/max, e.g. "ops/s", "us", "MiB/s", "ms". */
  readonly unit: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Name of the figure this one is compared with, if any. */
  readonly baseline?: string;
  /** median / baseline median (for times: how many times slower; for rates: fraction of). */
  readonly ratio?: number;
}

export interface Samples {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Samples {
  if (values.length === 0) throw new RangeError('no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Runs `body` (which performs `operations` operations) `samples` times; returns operations per second. */
export function rate(body: () => void, operations: number, samples = 9): Samples {
  body(); // warm-up
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    body();
    values.push(operations / ((performance.now() - start) / 1000));
  }
  return summarize(values);
}

/** As rate, for asynchronous bodies. */
export async function rateAsync(body: () => Promise<void>, operations: number, samples = 9): Promise<Samples> {
  await body();
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await body();
    values.push(operations / ((performance.now() - start) / 1000));
  }
  return summarize(values);
}

/** Times one asynchronous action `samples` times; returns milliseconds per action. */
export async function durationAsync(action: () => Promise<void>, samples = 9): Promise<Samples> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await action();
    values.push(performance.now() - start);
  }
  return summarize(values);
}

export function figure(name: string, unit: string, samples: Samples, baseline?: { name: string; samples: Samples }): Figure {
  if (!baseline) return { name, unit, ...samples };
  return { name, unit, ...samples, baseline: baseline.name, ratio: samples.median / baseline.samples.median };
}

/** A group of figures measured together, registered in tools/bench/main.ts. */
export interface Benchmark {
  readonly name: string;
  run(): Promise<Figure[]>;
}
