// Memory-mapped device registers shared between a device model and its driver.
//
// A device's register block is a SharedArrayBuffer: a small trap header followed by the
// registers themselves. Reads are plain loads of what the device model last stored.
// Writes trap to the device model, as an MMIO store traps to an emulator: the driver
// thread publishes (offset, value) and blocks until the model has applied it, so the
// next read sees its effects. Writes to the block's one doorbell register (virtio's
// QueueNotify) are posted instead: they set a bit and return at once, as PCIe posted
// writes do.
//
// Header (Int32 words): [attention, request, done, offset, value, spare, posted bits, spare].

const HEADER_WORDS = 8;
const HEADER_BYTES = HEADER_WORDS * 4;
const ATTENTION = 0, REQUEST = 1, DONE = 2, OFFSET = 3, VALUE = 4, POSTED = 6;

/** Everything needed to map a register block in another thread. */
export interface RegisterBlockDescriptor {
  readonly buffer: SharedArrayBuffer;
  /** Physical address the device tree gives this block. */
  readonly base: number;
  /** Register space in bytes (the device tree `reg` size). */
  readonly size: number;
  /** Offset of the posted doorbell register, or -1 if the block has none. */
  readonly doorbellOffset: number;
  /** What the device model publishes about itself for introspection (virtio: queue_statistics.ts); not a register. */
  readonly statistics?: SharedArrayBuffer;
}

export function createRegisterBlock(base: number, size: number, doorbellOffset = -1): RegisterBlockDescriptor {
  if (size % 4 !== 0) throw new RangeError('register block size must be a multiple of 4');
  return { buffer: new SharedArrayBuffer(HEADER_BYTES + size), base, size, doorbellOffset };
}

export interface RegisterWindowOptions {
  /**
   * Same-thread mode, for unit tests that run a driver and its device model in one thread.
   * Called after each trapped write is published; it must apply the write before returning
   * (for example with RegisterBank.serviceOnce). Without it write32 blocks until the
   * model's own thread applies the write, which would deadlock a single thread.
   */
  readonly serviceInline?: () => void;
}

/** The driver's side: what a mapped register block looks like from a worker. */
export class RegisterWindow {
  readonly descriptor: RegisterBlockDescriptor;
  private readonly header: Int32Array;
  private readonly registers: Uint32Array;
  private readonly registerBytes: Uint8Array;
  private readonly serviceInline: (() => void) | undefined;

  constructor(descriptor: RegisterBlockDescriptor, options: RegisterWindowOptions = {}) {
    this.descriptor = descriptor;
    this.serviceInline = options.serviceInline;
    this.header = new Int32Array(descriptor.buffer, 0, HEADER_WORDS);
    this.registers = new Uint32Array(descriptor.buffer, HEADER_BYTES, descriptor.size / 4);
    this.registerBytes = new Uint8Array(descriptor.buffer, HEADER_BYTES, descriptor.size);
  }

  read32(offset: number): number {
    return Atomics.load(this.registers, this.wordIndex(offset));
  }

  read8(offset: number): number {
    if (offset < 0 || offset >= this.descriptor.size) throw new RangeError(`register offset ${offset} out of range`);
    return Atomics.load(this.registerBytes, offset);
  }

  /**
   * Stores `value` to the register at `offset`. Returns once the device model has applied
   * the write (or immediately for the posted doorbell register).
   */
  write32(offset: number, value: number): void {
    this.wordIndex(offset);
    if (offset === this.descriptor.doorbellOffset) {
      if (value < 0 || value > 31) throw new RangeError(`doorbell value ${value} is not a queue index 0..31`);
      Atomics.or(this.header, POSTED, 1 << value);
      this.poke();
      return;
    }
    // Contract: one thread (the bound driver) writes a block at a time, so no lock.
    {
      Atomics.store(this.header, OFFSET, offset);
      Atomics.store(this.header, VALUE, value | 0);
      const request = Atomics.add(this.header, REQUEST, 1) + 1;
      this.poke();
      if (this.serviceInline !== undefined) {
        this.serviceInline();
        if (Atomics.load(this.header, DONE) !== request) {
          throw new Error(`same-thread register bank did not apply the write at offset ${offset}`);
        }
        return;
      }
      // Wait until the model has applied this request or a later one (another writer — the
      // kernel resetting a dead driver's device — must not leave us waiting forever).
      let done = Atomics.load(this.header, DONE);
      for (let spin = 0; ((done - request) | 0) < 0 && spin < 2000; spin++) done = Atomics.load(this.header, DONE);
      while (((done - request) | 0) < 0) {
        Atomics.wait(this.header, DONE, done, 1000);
        done = Atomics.load(this.header, DONE);
      }
    }
  }

  /**
   * Resolves once the register at `offset` holds `value` (the device model stores it and
   * calls RegisterBank.notify32), without blocking this thread.
   */
  async whenEqual32(offset: number, value: number): Promise<void> {
    const index = this.wordIndex(offset);
    const words = new Int32Array(this.descriptor.buffer, HEADER_BYTES, this.descriptor.size / 4);
    for (;;) {
      const now = Atomics.load(words, index);
      if (now >>> 0 === value >>> 0) return;
      const wait = Atomics.waitAsync(words, index, now);
      if (wait.async) await wait.value;
    }
  }

  private poke(): void {
    Atomics.add(this.header, ATTENTION, 1);
    Atomics.notify(this.header, ATTENTION, 1);
  }

  private wordIndex(offset: number): number {
    if (offset % 4 !== 0 || offset < 0 || offset >= this.descriptor.size) {
      throw new RangeError(`register offset ${offset} is not an aligned offset in a ${this.descriptor.size}-byte block`);
    }
    return offset / 4;
  }
}

export interface RegisterBankHandlers {
  /** A trapped store of `value` (as unsigned 32 bits) at `offset`. Must not throw. */
  write(offset: number, value: number): void;
  /** Posted doorbell writes since the last call, one bit per value written. */
  doorbell?(bits: number): void;
}

/** The device model's side: serves trapped writes from the board thread's event loop. */
export class RegisterBank {
  readonly descriptor: RegisterBlockDescriptor;
  private readonly header: Int32Array;
  private readonly registers: Uint32Array;
  private readonly registerBytes: Uint8Array;
  private running = false;

  constructor(descriptor: RegisterBlockDescriptor) {
    this.descriptor = descriptor;
    this.header = new Int32Array(descriptor.buffer, 0, HEADER_WORDS);
    this.registers = new Uint32Array(descriptor.buffer, HEADER_BYTES, descriptor.size / 4);
    this.registerBytes = new Uint8Array(descriptor.buffer, HEADER_BYTES, descriptor.size);
  }

  set32(offset: number, value: number): void {
    Atomics.store(this.registers, offset / 4, value >>> 0);
  }

  get32(offset: number): number {
    return Atomics.load(this.registers, offset / 4);
  }

  /** Wakes every thread waiting for the register at `offset` to change (RegisterWindow.whenEqual32). */
  notify32(offset: number): void {
    Atomics.notify(new Int32Array(this.descriptor.buffer, HEADER_BYTES, this.descriptor.size / 4), offset / 4);
  }

  set8(offset: number, value: number): void {
    Atomics.store(this.registerBytes, offset, value & 0xff);
  }

  /** Serves writes until stop(). The pending waitAsync does not keep the process alive. */
  start(handlers: RegisterBankHandlers): void {
    if (this.running) return;
    this.running = true;
    void this.loop(handlers);
  }

  stop(): void {
    this.running = false;
    Atomics.add(this.header, ATTENTION, 1);
    Atomics.notify(this.header, ATTENTION);
  }

  /** Applies whatever is waiting now; returns true if anything was. Used by loop and tests. */
  serviceOnce(handlers: RegisterBankHandlers): boolean {
    let worked = false;
    const posted = Atomics.exchange(this.header, POSTED, 0);
    const request = Atomics.load(this.header, REQUEST);
    if (request !== Atomics.load(this.header, DONE)) {
      handlers.write(Atomics.load(this.header, OFFSET), Atomics.load(this.header, VALUE) >>> 0);
      Atomics.store(this.header, DONE, request);
      Atomics.notify(this.header, DONE);
      worked = true;
    }
    if (posted !== 0) {
      handlers.doorbell?.(posted);
      worked = true;
    }
    return worked;
  }

  private async loop(handlers: RegisterBankHandlers): Promise<void> {
    while (this.running) {
      const seen = Atomics.load(this.header, ATTENTION);
      this.serviceOnce(handlers);
      if (!this.running) break;
      const wait = Atomics.waitAsync(this.header, ATTENTION, seen);
      if (wait.async) await wait.value;
    }
  }
}
