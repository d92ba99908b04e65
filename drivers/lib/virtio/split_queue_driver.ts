// The driver's side of a split virtqueue (virtio 1.2 §2.7.13) in guest RAM.
//
// add() turns a list of buffers (readable ones first, then writable ones) into a
// descriptor chain from the free descriptors and publishes its head in the available
// ring; kick() notifies the device if it asked for it (used.flags, or avail_event with
// VIRTIO_F_EVENT_IDX); takeUsed() collects the chains the device returned and frees
// their descriptors. The available idx is stored with Atomics after the descriptors and
// ring slot are written, so the device, in another thread, sees them complete.
//
// Example:
//   const head = queue.add([{ address: request, length: 16, writable: false },
//                           { address: reply, length: 512, writable: true }], 'read-42');
//   queue.kick();
//   ...interrupt...
//   for (const { token, length } of queue.takeUsed()) finish(token, length);

import type { Ram } from '../../../hal/ram.js';
import {
  AVAILABLE_HEADER, DESCRIPTOR, DescriptorFlag, USED_ELEMENT, USED_HEADER, USED_NO_NOTIFY,
  type SplitQueueAddresses, availableEventAddress, availableSlotAddress, loadRingIndex, needEvent,
  storeRingIndex, usedEventAddress, usedSlotAddress,
} from '../../../hal/virtio/ring.js';
import { queueFault, VirtioQueueError } from './errors.js';

/** One buffer of a request, as the driver sees it. */
export interface DriverBuffer {
  /** Physical address in guest RAM. */
  readonly address: number;
  readonly length: number;
  /** True if the device writes into it; writable buffers come after all readable ones. */
  readonly writable: boolean;
}

/** A chain the device returned. */
export interface UsedBuffer<Token> {
  readonly head: number;
  /** Bytes the device wrote into the chain's writable buffers. */
  readonly length: number;
  /** What was passed to add() with this chain. */
  readonly token: Token | undefined;
}

export interface SplitQueueDriverOptions extends SplitQueueAddresses {
  readonly index: number;
  readonly ram: Ram;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIndex: boolean;
  /** Writes the queue index to QueueNotify. */
  readonly notify: (index: number) => void;
}

export class SplitQueueDriver<Token = unknown> {
  readonly index: number;
  readonly size: number;
  private readonly options: SplitQueueDriverOptions;
  private readonly free: number[] = [];
  private readonly chains: (number[] | undefined)[];
  private readonly tokens: (Token | undefined)[];
  /** Bytes the device may write into each chain in flight (its writable buffers), by head. */
  private readonly writable: number[];
  /** What add() wrote into each descriptor (address, length, flags, next), for audit(). */
  private readonly written: Array<readonly [number, number, number, number] | undefined>;
  /** What add() wrote into each available ring slot, for audit(); undefined until written. */
  private readonly availableSlots: (number | undefined)[];
  private nextAvailable = 0;
  private lastKicked = 0;
  private nextUsed = 0;
  private chainsInFlight = 0;
  private stopped = false;

  /** Takes over a zeroed queue area the device was told about. */
  constructor(options: SplitQueueDriverOptions) {
    this.options = options;
    this.index = options.index;
    this.size = options.size;
    for (let descriptor = options.size - 1; descriptor >= 0; descriptor--) this.free.push(descriptor);
    this.chains = new Array<number[] | undefined>(options.size);
    this.tokens = new Array<Token | undefined>(options.size);
    this.writable = new Array<number>(options.size).fill(0);
    this.written = new Array<readonly [number, number, number, number] | undefined>(options.size);
    this.availableSlots = new Array<number | undefined>(options.size);
  }

  /** Descriptors not in any chain. */
  get freeDescriptors(): number {
    return this.free.length;
  }

  /** Chains added and not yet taken back with takeUsed(). */
  get outstanding(): number {
    return this.chainsInFlight;
  }

  /**
   * Publishes `buffers` as one chain; returns its head, or undefined if too few
   * descriptors are free (take used buffers and retry). Throws RangeError for an empty
   * list, a buffer outside RAM or a readable buffer after a writable one, and
   * VirtioQueueError QUEUE_STOPPED after a reset. The device sees it after kick().
   */
  add(buffers: readonly DriverBuffer[], token?: Token): number | undefined {
    if (this.stopped) throw new VirtioQueueError('QUEUE_STOPPED', `queue ${this.index} was reset`);
    if (buffers.length === 0) throw new RangeError('a chain needs at least one buffer');
    const { ram } = this.options;
    let seenWritable = false;
    for (const buffer of buffers) {
      if (!Number.isInteger(buffer.length) || buffer.length < 0 || buffer.length > 0xffff_ffff) {
        throw new RangeError(`buffer length ${buffer.length} is not a u32`);
      }
      if (!Number.isSafeInteger(buffer.address) || !ram.contains(buffer.address, buffer.length)) {
        throw new RangeError(`buffer 0x${buffer.address.toString(16)}+${buffer.length} is outside RAM`);
      }
      if (buffer.writable) seenWritable = true;
      else if (seenWritable) throw new RangeError('readable buffers must come before writable ones');
    }
    if (buffers.length > this.free.length) return undefined;
    const descriptors = buffers.map(() => this.free.pop()!);
    buffers.forEach((buffer, position) => {
      const at = this.options.descriptorTable + DESCRIPTOR.size * descriptors[position]!;
      const last = position === buffers.length - 1;
      const flags = (buffer.writable ? DescriptorFlag.WRITE : 0) | (last ? 0 : DescriptorFlag.NEXT);
      const next = last ? 0 : descriptors[position + 1]!;
      DESCRIPTOR.write(ram, at, 'address', buffer.address);
      DESCRIPTOR.write(ram, at, 'length', buffer.length);
      DESCRIPTOR.write(ram, at, 'flags', flags);
      DESCRIPTOR.write(ram, at, 'next', next);
      this.written[descriptors[position]!] = [buffer.address, buffer.length, flags, next];
    });
    const head = descriptors[0]!;
    this.chains[head] = descriptors;
    this.tokens[head] = token;
    this.writable[head] = buffers.reduce((sum, buffer) => sum + (buffer.writable ? buffer.length : 0), 0);
    this.chainsInFlight++;
    ram.writeU16(availableSlotAddress(this.options, this.nextAvailable), head);
    this.availableSlots[this.nextAvailable % this.size] = head;
    this.nextAvailable = (this.nextAvailable + 1) & 0xffff;
    storeRingIndex(ram, this.options.availableRing + AVAILABLE_HEADER.offsetOf('index'), this.nextAvailable);
    return head;
  }

  /** Notifies the device of chains added since the last kick, unless it asked not to be. */
  kick(): void {
    if (this.stopped) return;
    const old = this.lastKicked;
    const current = this.nextAvailable;
    if (old === current) return;
    this.lastKicked = current;
    const { ram } = this.options;
    const wanted = this.options.eventIndex
      ? needEvent(loadRingIndex(ram, availableEventAddress(this.options)), current, old)
      : (USED_HEADER.read(ram, this.options.usedRing, 'flags') & USED_NO_NOTIFY) === 0;
    if (wanted) this.options.notify(this.index);
  }

  /** True if the device has returned chains that takeUsed() would collect. */
  hasUsed(): boolean {
    return !this.stopped && loadRingIndex(this.options.ram, this.usedIndexAddress()) !== this.nextUsed;
  }

  /**
   * Collects every chain the device returned, oldest first, and frees its descriptors.
   * With EVENT_IDX also asks for an interrupt at the next one. Throws VirtioQueueError
   * QUEUE_FAULT (queueFault) when the used ring is not what the device could have written:
   * its index moved past more entries than chains are in flight, an entry names a
   * descriptor that is not a chain in flight, or its length exceeds the chain's writable
   * bytes. The queue is not touched past the first bad entry.
   */
  takeUsed(): UsedBuffer<Token>[] {
    const taken: UsedBuffer<Token>[] = [];
    if (this.stopped) return taken;
    const { ram } = this.options;
    for (;;) {
      const published = loadRingIndex(ram, this.usedIndexAddress());
      const returned = (published - this.nextUsed) & 0xffff;
      if (returned > this.chainsInFlight) {
        throw queueFault('used-index-jumped', `queue ${this.index}: the used index went from ${this.nextUsed} to ${published}, ${returned} entries, with ${this.chainsInFlight} chains in flight`);
      }
      while (this.nextUsed !== published) {
        const slot = usedSlotAddress(this.options, this.nextUsed);
        const head = USED_ELEMENT.read(ram, slot, 'id');
        const length = USED_ELEMENT.read(ram, slot, 'length');
        const chain = head < this.size ? this.chains[head] : undefined;
        if (chain === undefined) {
          throw queueFault('descriptor-not-in-flight', `queue ${this.index}: device returned descriptor ${head}, which is not in flight`);
        }
        if (length > this.writable[head]!) {
          throw queueFault('length-out-of-range', `queue ${this.index}: device says it wrote ${length} bytes into descriptor ${head}, whose writable buffers hold ${this.writable[head]}`);
        }
        this.nextUsed = (this.nextUsed + 1) & 0xffff;
        this.chains[head] = undefined;
        this.chainsInFlight--;
        for (let position = chain.length - 1; position >= 0; position--) {
          this.written[chain[position]!] = undefined;
          this.free.push(chain[position]!);
        }
        const token = this.tokens[head];
        this.tokens[head] = undefined;
        taken.push({ head, length, token });
      }
      if (!this.options.eventIndex) return taken;
      // Ask for an interrupt at the next entry, then look again: one may have raced past.
      storeRingIndex(ram, usedEventAddress(this.options), this.nextUsed);
      if (loadRingIndex(ram, this.usedIndexAddress()) === this.nextUsed) return taken;
    }
  }

  /**
   * Checks that the parts of the queue only this driver writes are still as it left them:
   * the available index, every available ring slot it filled, and every descriptor of a
   * chain in flight; and that the used index is not past more entries than chains are in
   * flight. Throws VirtioQueueError QUEUE_FAULT (queueFault) naming the first check that
   * fails. A queue overwritten this way may never raise an interrupt again (an available
   * index zeroed to what the device last took looks like "nothing posted"), so drivers
   * run this from time to time rather than only when the device answers.
   */
  audit(): void {
    if (this.stopped) return;
    const { ram } = this.options;
    const available = loadRingIndex(ram, this.options.availableRing + AVAILABLE_HEADER.offsetOf('index'));
    if (available !== this.nextAvailable) {
      throw queueFault('available-ring-overwritten', `queue ${this.index}: the available index reads ${available}, but this driver last published ${this.nextAvailable}`);
    }
    for (let slot = 0; slot < this.size; slot++) {
      const head = this.availableSlots[slot];
      if (head === undefined) continue;
      const found = ram.readU16(availableSlotAddress(this.options, slot));
      if (found !== head) {
        throw queueFault('available-ring-overwritten', `queue ${this.index}: available ring slot ${slot} reads descriptor ${found}, but this driver wrote ${head}`);
      }
    }
    for (let descriptor = 0; descriptor < this.size; descriptor++) {
      const expected = this.written[descriptor];
      if (expected === undefined) continue;
      const at = this.options.descriptorTable + DESCRIPTOR.size * descriptor;
      const found = [DESCRIPTOR.read(ram, at, 'address'), DESCRIPTOR.read(ram, at, 'length'), DESCRIPTOR.read(ram, at, 'flags'), DESCRIPTOR.read(ram, at, 'next')];
      if (found.some((value, field) => value !== expected[field])) {
        throw queueFault('descriptor-overwritten', `queue ${this.index}: descriptor ${descriptor} of a chain in flight reads [${found.join(', ')}] (address, length, flags, next), but this driver wrote [${expected.join(', ')}]`);
      }
    }
    const published = loadRingIndex(ram, this.usedIndexAddress());
    const returned = (published - this.nextUsed) & 0xffff;
    if (returned > this.chainsInFlight) {
      throw queueFault('used-index-jumped', `queue ${this.index}: the used index went from ${this.nextUsed} to ${published}, ${returned} entries, with ${this.chainsInFlight} chains in flight`);
    }
  }

  /** The device was reset: the queue may not be used again. */
  stop(): void {
    this.stopped = true;
  }

  private usedIndexAddress(): number {
    return this.options.usedRing + USED_HEADER.offsetOf('index');
  }
}
