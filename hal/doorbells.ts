// The doorbell page: one shared word pair per thread, the single thing a thread blocks on.
//
// Every reason to wake a thread (an IPC message in any of its rings, an interrupt routed
// to it, a control request) rings that thread's doorbell. The sleeper spins briefly on
// the counter, then blocks (Atomics.wait or waitAsync); a ringer only pays for
// Atomics.notify when the sleeper has announced it is about to block.
//
// Slot layout (two Int32 words): [sequence, sleeping]. Slot 0 is never handed out, so
// 0 can mean "no doorbell".

export const DOORBELL_SLOTS = 1024;
const WORDS_PER_SLOT = 2;

export interface DoorbellWaitOptions {
  /** Iterations of Atomics.load before blocking. 0 blocks at once. */
  readonly spins?: number;
  /** Milliseconds to block at most; Infinity for no limit. */
  readonly timeoutMs?: number;
}

/** How long to spin by default: a few microseconds on this class of machine. */
export const DEFAULT_SPINS = 2000;

export class DoorbellPage {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(DOORBELL_SLOTS * WORDS_PER_SLOT * 4)) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
  }

  get slots(): number {
    return this.words.length / WORDS_PER_SLOT;
  }

  /** Current sequence number of `slot`; compare with a later value to see if it rang. */
  sequence(slot: number): number {
    return Atomics.load(this.words, this.index(slot));
  }

  /**
   * Wakes the thread owning `slot` (or makes its next wait return at once). Returns true if
   * that thread had announced it was blocking, so it was notified and pays a wake-up.
   */
  ring(slot: number): boolean {
    const index = this.index(slot);
    Atomics.add(this.words, index, 1);
    if (Atomics.load(this.words, index + 1) === 0) return false;
    Atomics.notify(this.words, index);
    return true;
  }

  /** Spins then blocks until `slot`'s sequence differs from `seen`. Returns the new sequence. */
  waitSync(slot: number, seen: number, options: DoorbellWaitOptions = {}): number {
    const index = this.index(slot);
    const spun = this.spin(index, seen, options.spins ?? DEFAULT_SPINS);
    if (spun !== seen) return spun;
    Atomics.store(this.words, index + 1, 1);
    Atomics.wait(this.words, index, seen, options.timeoutMs ?? Infinity);
    Atomics.store(this.words, index + 1, 0);
    return Atomics.load(this.words, index);
  }

  /** As waitSync, but blocks with Atomics.waitAsync so the event loop keeps running. */
  async waitAsync(slot: number, seen: number, options: DoorbellWaitOptions = {}): Promise<number> {
    const index = this.index(slot);
    const spun = this.spin(index, seen, options.spins ?? DEFAULT_SPINS);
    if (spun !== seen) return spun;
    Atomics.store(this.words, index + 1, 1);
    const result = Atomics.waitAsync(this.words, index, seen, options.timeoutMs ?? Infinity);
    if (result.async) await result.value;
    Atomics.store(this.words, index + 1, 0);
    return Atomics.load(this.words, index);
  }

  private spin(index: number, seen: number, spins: number): number {
    let current = Atomics.load(this.words, index);
    for (let i = 0; i < spins && current === seen; i++) current = Atomics.load(this.words, index);
    return current;
  }

  private index(slot: number): number {
    if (!Number.isInteger(slot) || slot <= 0 || slot >= this.slots) throw new RangeError(`no doorbell slot ${slot}`);
    return slot * WORDS_PER_SLOT;
  }
}
