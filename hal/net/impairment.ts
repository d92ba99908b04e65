// Loss, reordering and duplication of frames, as netem does, decided by a seeded
// generator so a test's run is the same every time (`--net-loss 5%` ...).
//
// Each frame through `pass` is, in this order: lost with probability `loss`; otherwise
// sent twice with probability `duplicate`; and held back with probability `reorder` so
// the next frame overtakes it (one frame is held at most; it goes after the next frame,
// or after `holdMs` if none comes).

export interface ImpairmentOptions {
  /** Probabilities, 0 to 1. */
  readonly loss?: number;
  readonly reorder?: number;
  readonly duplicate?: number;
  /** Seed of the generator (default 1). */
  readonly seed?: number;
  /** How long a reordered frame waits for one to overtake it (default 20 ms). */
  readonly holdMs?: number;
}

export interface ImpairmentCounts {
  lost: number;
  duplicated: number;
  reordered: number;
}

/** mulberry32: a small, well-mixed 32-bit generator; returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Impairment {
  readonly counts: ImpairmentCounts = { lost: 0, duplicated: 0, reordered: 0 };
  private readonly loss: number;
  private readonly reorder: number;
  private readonly duplicate: number;
  private readonly holdMs: number;
  private readonly random: () => number;
  private held: { frame: Uint8Array; deliver: (frame: Uint8Array) => void; timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(options: ImpairmentOptions = {}) {
    for (const [name, value] of Object.entries({ loss: options.loss, reorder: options.reorder, duplicate: options.duplicate })) {
      if (value !== undefined && !(value >= 0 && value <= 1)) throw new RangeError(`${name} must be a probability from 0 to 1, not ${value}`);
    }
    this.loss = options.loss ?? 0;
    this.reorder = options.reorder ?? 0;
    this.duplicate = options.duplicate ?? 0;
    this.holdMs = options.holdMs ?? 20;
    this.random = seededRandom(options.seed ?? 1);
  }

  /** True when frames pass unchanged (no probability set): callers may skip `pass`. */
  get transparent(): boolean {
    return this.loss === 0 && this.reorder === 0 && this.duplicate === 0;
  }

  /** Decides the fate of `frame` and calls `deliver` for each copy that goes on, now or later. */
  pass(frame: Uint8Array, deliver: (frame: Uint8Array) => void): void {
    if (this.transparent) return deliver(frame);
    if (this.random() < this.loss) {
      this.counts.lost++;
      return;
    }
    const copies = this.random() < this.duplicate ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    if (this.held === undefined && this.random() < this.reorder) {
      this.counts.reordered++;
      const timer = setTimeout(() => this.release(), this.holdMs);
      timer.unref?.();
      this.held = { frame, deliver: (held) => { for (let copy = 0; copy < copies; copy++) deliver(held); }, timer };
      return;
    }
    for (let copy = 0; copy < copies; copy++) deliver(frame);
    this.release();
  }

  /** Lets a held frame go (also at close, so nothing is kept forever). */
  release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    clearTimeout(held.timer);
    held.deliver(held.frame);
  }

  /** Forgets a held frame without delivering it (device reset, close). */
  discard(): void {
    if (this.held) clearTimeout(this.held.timer);
    this.held = undefined;
  }
}
