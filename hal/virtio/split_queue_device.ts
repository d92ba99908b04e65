// The device's side of a split virtqueue (virtio 1.2 §2.7) in guest RAM.
//
// The device takes descriptor chains the driver made available, reads and writes the
// buffers they name, and returns them through the used ring. Everything in the queue is
// written by the driver and is distrusted: every descriptor is bounds-checked against
// the table and RAM, chains are capped at the table size (loop detection), readable
// descriptors must precede writable ones, INDIRECT is honoured only when negotiated and
// never nested. A malformed queue reports a fault (the transport then sets
// DEVICE_NEEDS_RESET) and stops; nothing is thrown into the board.
//
// After stop() (device reset, DEVICE_NEEDS_RESET) the queue touches guest memory no
// more: nextChain() returns undefined and pushUsed()/write() do nothing, so requests
// that complete late cannot scribble over memory the driver has reused.

import type { Ram } from '../ram.js';
import {
  AVAILABLE_HEADER, AVAILABLE_NO_INTERRUPT, DESCRIPTOR, DescriptorFlag, USED_ELEMENT, USED_HEADER,
  type SplitQueueAddresses, availableEventAddress, availableSlotAddress, loadRingIndex, needEvent,
  storeRingIndex, usedEventAddress, usedSlotAddress,
} from './ring.js';

/** One guest buffer: `length` bytes at physical `address`. */
export interface BufferSegment {
  readonly address: number;
  readonly length: number;
}

/** A request taken from the available ring. */
export interface DescriptorChain {
  /** The head descriptor index: pass it back to pushUsed(). */
  readonly head: number;
  /** Device-readable buffers, in chain order. */
  readonly readable: readonly BufferSegment[];
  /** Device-writable buffers, in chain order (all after the readable ones). */
  readonly writable: readonly BufferSegment[];
  readonly readableLength: number;
  readonly writableLength: number;
}

/** How a queue reaches its transport. */
export interface SplitQueueSignals {
  /** Raise the used-buffer interrupt. */
  interrupt(): void;
  /** The driver broke the queue; the transport sets DEVICE_NEEDS_RESET. */
  fault(message: string): void;
}

export interface SplitQueueDeviceOptions extends SplitQueueAddresses {
  readonly ram: Ram;
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  readonly indirect: boolean;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIndex: boolean;
  readonly signals: SplitQueueSignals;
}

class MalformedQueueError extends Error {}

const MAXIMUM_CHAIN_BYTES = 0xffff_ffff;

export class SplitQueueDevice {
  readonly index: number;
  /** Entries in the queue; 0 for a queue the driver did not set up. */
  readonly size: number;
  private readonly options: SplitQueueDeviceOptions | undefined;
  private running: boolean;
  /** Next available-ring index to take. */
  private nextAvailable = 0;
  /** Next used-ring index to fill (mirrors used.idx). */
  private nextUsed = 0;
  /** used.idx when the driver was last interrupted. */
  private lastSignalled = 0;
  private readonly heldHeads = new Set<number>();

  /** Queue `index` over the areas in `options`; without options, a queue the driver did not set up. */
  constructor(index: number, options?: SplitQueueDeviceOptions) {
    this.index = index;
    this.options = options;
    this.size = options?.size ?? 0;
    this.running = options !== undefined;
  }

  /** True while the queue is set up and neither reset nor broken. */
  get enabled(): boolean {
    return this.running;
  }

  /** Chains taken by nextChain() and not yet returned with pushUsed(). */
  get inFlight(): number {
    return this.heldHeads.size;
  }

  /** Stops the queue for good (reset, DEVICE_NEEDS_RESET, queue disabled). */
  stop(): void {
    this.running = false;
  }

  /** True if the driver has made a chain available that nextChain() would return. */
  hasAvailable(): boolean {
    const options = this.options;
    if (!this.running || options === undefined) return false;
    try {
      return loadRingIndex(options.ram, options.availableRing + AVAILABLE_HEADER.offsetOf('index')) !== this.nextAvailable;
    } catch (error) {
      return this.malformed(error);
    }
  }

  /** Takes the next available chain, or returns undefined if there is none (or the queue broke). */
  nextChain(): DescriptorChain | undefined {
    const options = this.options;
    if (!this.running || options === undefined) return undefined;
    try {
      const { ram } = options;
      const availableIndexAddress = options.availableRing + AVAILABLE_HEADER.offsetOf('index');
      let published = loadRingIndex(ram, availableIndexAddress);
      if (published === this.nextAvailable && options.eventIndex) {
        // Ask to be notified for the next one, then look again in case it raced past us.
        storeRingIndex(ram, availableEventAddress(options), this.nextAvailable);
        published = loadRingIndex(ram, availableIndexAddress);
      }
      const pending = (published - this.nextAvailable) & 0xffff;
      if (pending === 0) return undefined;
      if (pending > this.size) {
        throw new MalformedQueueError(`available idx ${published} is ${pending} entries ahead of ${this.nextAvailable}, more than the queue size ${this.size}`);
      }
      const head = ram.readU16(availableSlotAddress(options, this.nextAvailable));
      this.nextAvailable = (this.nextAvailable + 1) & 0xffff;
      if (options.eventIndex) storeRingIndex(ram, availableEventAddress(options), this.nextAvailable);
      if (this.heldHeads.has(head)) throw new MalformedQueueError(`descriptor ${head} made available again while the device still holds it`);
      const chain = this.walk(head);
      this.heldHeads.add(head);
      return chain;
    } catch (error) {
      this.malformed(error);
      return undefined;
    }
  }

  /**
   * Returns chain `head` to the driver, saying `writtenBytes` bytes were written into its
   * writable buffers. Does not interrupt: call notifyIfNeeded() after a batch.
   * Throws RangeError if `head` is not held (a device-model bug, not a driver's).
   */
  pushUsed(head: number, writtenBytes: number): void {
    if (!this.heldHeads.delete(head)) throw new RangeError(`queue ${this.index}: descriptor ${head} is not held by the device`);
    const options = this.options;
    if (!this.running || options === undefined) return;
    try {
      const slot = usedSlotAddress(options, this.nextUsed);
      USED_ELEMENT.write(options.ram, slot, 'id', head);
      USED_ELEMENT.write(options.ram, slot, 'length', writtenBytes);
      this.nextUsed = (this.nextUsed + 1) & 0xffff;
      storeRingIndex(options.ram, options.usedRing + USED_HEADER.offsetOf('index'), this.nextUsed);
    } catch (error) {
      this.malformed(error);
    }
  }

  /** Raises the used-buffer interrupt if chains were returned since the last one and the driver wants it. */
  notifyIfNeeded(): void {
    const options = this.options;
    if (!this.running || options === undefined || this.nextUsed === this.lastSignalled) return;
    try {
      const wanted = options.eventIndex
        ? needEvent(loadRingIndex(options.ram, usedEventAddress(options)), this.nextUsed, this.lastSignalled)
        : (AVAILABLE_HEADER.read(options.ram, options.availableRing, 'flags') & AVAILABLE_NO_INTERRUPT) === 0;
      this.lastSignalled = this.nextUsed;
      if (wanted) options.signals.interrupt();
    } catch (error) {
      this.malformed(error);
    }
  }

  /** A copy of the chain's readable bytes, `length` bytes from `offset` (default: all). */
  read(chain: DescriptorChain, offset = 0, length = chain.readableLength - offset): Uint8Array {
    const result = new Uint8Array(Math.max(0, Math.min(length, chain.readableLength - offset)));
    const ram = this.options?.ram;
    if (ram === undefined) return result;
    let skip = offset;
    let filled = 0;
    for (const segment of chain.readable) {
      if (filled === result.length) break;
      if (skip >= segment.length) { skip -= segment.length; continue; }
      const take = Math.min(segment.length - skip, result.length - filled);
      result.set(ram.subarray(segment.address + skip, take), filled);
      filled += take;
      skip = 0;
    }
    return result;
  }

  /**
   * Scatters `data` into the chain's writable buffers starting `offset` bytes in; returns
   * how many bytes fitted. Writes nothing once the queue is stopped.
   */
  write(chain: DescriptorChain, data: Uint8Array, offset = 0): number {
    const ram = this.options?.ram;
    if (!this.running || ram === undefined) return 0;
    let skip = offset;
    let written = 0;
    for (const segment of chain.writable) {
      if (written === data.length) break;
      if (skip >= segment.length) { skip -= segment.length; continue; }
      const take = Math.min(segment.length - skip, data.length - written);
      ram.write(segment.address + skip, data.subarray(written, written + take));
      written += take;
      skip = 0;
    }
    return written;
  }

  private walk(head: number): DescriptorChain {
    const options = this.options!;
    const { ram } = options;
    const readable: BufferSegment[] = [];
    const writable: BufferSegment[] = [];
    let readableLength = 0;
    let writableLength = 0;
    let table = options.descriptorTable;
    let tableSize = this.size;
    let index = head;
    let visited = 0;
    let indirect = false;
    for (;;) {
      if (index >= tableSize) throw new MalformedQueueError(`descriptor index ${index} is outside a ${indirect ? 'indirect ' : ''}table of ${tableSize}`);
      if (++visited > tableSize) throw new MalformedQueueError(`descriptor chain from ${head} is longer than its table (a loop)`);
      const at = table + DESCRIPTOR.size * index;
      const address = DESCRIPTOR.read(ram, at, 'address');
      const length = DESCRIPTOR.read(ram, at, 'length');
      const flags = DESCRIPTOR.read(ram, at, 'flags');
      if ((flags & DescriptorFlag.INDIRECT) !== 0) {
        if (!options.indirect) throw new MalformedQueueError(`descriptor ${index} is INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`);
        if (indirect) throw new MalformedQueueError('an indirect table contains an INDIRECT descriptor');
        if ((flags & DescriptorFlag.NEXT) !== 0) throw new MalformedQueueError(`descriptor ${index} sets both INDIRECT and NEXT`);
        if (length === 0 || length % DESCRIPTOR.size !== 0) throw new MalformedQueueError(`indirect table length ${length} is not a positive multiple of 16`);
        if (!ram.contains(address, length)) throw new MalformedQueueError(`indirect table at 0x${address.toString(16)}+${length} is outside RAM`);
        table = address;
        tableSize = length / DESCRIPTOR.size;
        index = 0;
        visited = 0;
        indirect = true;
        continue;
      }
      if (!ram.contains(address, length)) throw new MalformedQueueError(`descriptor ${index} buffer 0x${address.toString(16)}+${length} is outside RAM`);
      if ((flags & DescriptorFlag.WRITE) !== 0) {
        writable.push({ address, length });
        writableLength += length;
      } else {
        if (writable.length > 0) throw new MalformedQueueError(`descriptor ${index} is readable but follows a writable one`);
        readable.push({ address, length });
        readableLength += length;
      }
      if (readableLength + writableLength > MAXIMUM_CHAIN_BYTES) throw new MalformedQueueError(`descriptor chain from ${head} exceeds 4 GiB`);
      if ((flags & DescriptorFlag.NEXT) === 0) break;
      index = DESCRIPTOR.read(ram, at, 'next');
    }
    return { head, readable, writable, readableLength, writableLength };
  }

  /** Turns a bad queue (malformed chain, ring outside RAM) into a fault; rethrows anything else. */
  private malformed(error: unknown): false {
    if (!(error instanceof MalformedQueueError) && !(error instanceof RangeError)) throw error;
    this.running = false;
    this.options?.signals.fault(`queue ${this.index}: ${error.message}`);
    return false;
  }
}
