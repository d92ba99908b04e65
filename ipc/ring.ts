// A single-producer / single-consumer ring of byte frames in a SharedArrayBuffer.
//
//   byte 0    head          (Uint32, written by the producer only: bytes ever written)
//   byte 4    frames        (Uint32, written by the producer only: frames ever written; for statistics)
//   byte 64   tail          (Uint32, written by the consumer only: bytes ever consumed)
//   byte 128  space wanted  (Uint32, set by a producer that found the ring full)
//   byte 192  data[capacity]  (capacity is a power of two)
//
// Each frame is an 8-byte record header (length, reserved; native-endian Uint32) followed by the
// payload, padded to a multiple of 8, so records start 8-aligned and the header never straddles
// the end of the data area; a payload may wrap. Alignment matters for speed: copies between a
// SharedArrayBuffer and ordinary memory run element by element in V8, so they are done with
// Float64Array views (8 bytes per element, about 6x faster than bytes; same-type TypedArray
// copies preserve bit patterns exactly) plus a byte loop for the last 0..7 bytes.
// head and tail run freely modulo 2^32 (capacity divides 2^32, so `position & mask` is the
// offset). The producer publishes a frame by storing head after copying it in; the consumer
// releases it by storing tail after copying it out (Atomics stores order the plain copies).
//
// Full ring: tryWrite sets "space wanted" and then re-checks, the consumer stores tail and
// then takes the flag (takeSpaceRequest); with sequentially consistent atomics one of the two
// always sees the other, so a producer that gives up is always told when space appears.
//
// The buffer is shared with a peer that may be buggy or hostile: tryRead checks every length
// against the ring before copying, and a corrupt ring is emptied and reported, never trusted.

import { MalformedMessageError, MessageTooLargeError, InvalidArgumentError } from './errors.js';

const HEAD_WORD = 0;
const FRAMES_WORD = 1;
const TAIL_WORD = 16;
const SPACE_WANTED_WORD = 32;
/** Bytes of header before the data area (three words, each on its own 64-byte line). */
export const RING_HEADER_BYTES = 192;
const RECORD_HEADER_BYTES = 8;
/** Frames up to this size are copied byte-wise (one call, no extra views); larger ones by 8-byte words. */
const SMALL_FRAME_BYTES = 256;
const NO_WORDS = new Float64Array(0);
/** Smallest and largest data capacity a ring may have. */
export const RING_MIN_CAPACITY = 64;
export const RING_MAX_CAPACITY = 1 << 30;

/** Frames ever written to the ring in `buffer` (modulo 2^32): for statistics, readable from any thread. */
export function framesWritten(buffer: SharedArrayBuffer): number {
  return Atomics.load(new Uint32Array(buffer, 0, 2), FRAMES_WORD);
}

/**
 * One direction of a channel: frames written by one thread, read by one other thread.
 *
 * @example
 * const ring = Ring.create(4096);           // in the kernel; ring.buffer goes to both threads
 * new Ring(buffer).tryWrite(bytes);          // producer
 * const frame = new Ring(buffer).tryRead();  // consumer: a private copy, or undefined
 */
export class Ring {
  /** The shared buffer (header + data); hand this to the other thread. */
  readonly buffer: SharedArrayBuffer;
  /** Bytes of data area. */
  readonly capacity: number;
  /** Largest frame tryWrite accepts (it fits only when the ring is empty). */
  readonly maxFrameBytes: number;
  private readonly header: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly words: Float64Array;
  private readonly lengths: Uint32Array;
  private readonly mask: number;
  private staging = new Float64Array(0);
  private scratchWords = new Float64Array(0);
  private scratchBytes = new Uint8Array(0);

  /** Allocates a ring with `capacityBytes` of data area (a power of two, 64 B .. 1 GiB). */
  static create(capacityBytes: number): Ring {
    checkCapacity(capacityBytes);
    return new Ring(new SharedArrayBuffer(RING_HEADER_BYTES + capacityBytes));
  }

  /** Wraps an existing ring buffer (made by Ring.create, possibly in another thread). */
  constructor(buffer: SharedArrayBuffer) {
    if (!(buffer instanceof SharedArrayBuffer)) throw new InvalidArgumentError('a Ring needs a SharedArrayBuffer');
    const capacity = buffer.byteLength - RING_HEADER_BYTES;
    checkCapacity(capacity);
    this.buffer = buffer;
    this.capacity = capacity;
    this.maxFrameBytes = capacity - RECORD_HEADER_BYTES;
    this.mask = capacity - 1;
    this.header = new Uint32Array(buffer, 0, RING_HEADER_BYTES / 4);
    this.bytes = new Uint8Array(buffer, RING_HEADER_BYTES, capacity);
    this.words = new Float64Array(buffer, RING_HEADER_BYTES, capacity / 8);
    this.lengths = new Uint32Array(buffer, RING_HEADER_BYTES, capacity / 4);
  }

  /**
   * Appends one frame. Returns false when the ring has no room now (the frame is not
   * written; the consumer will be asked to signal space). Throws MessageTooLargeError for
   * a frame longer than maxFrameBytes, which could never fit. Producer thread only.
   */
  tryWrite(frame: Uint8Array): boolean {
    const length = frame.length;
    if (length > this.maxFrameBytes) {
      throw new MessageTooLargeError(`frame of ${length} bytes exceeds the ring's ${this.maxFrameBytes}`, { bytes: length, maxBytes: this.maxFrameBytes });
    }
    const needed = RECORD_HEADER_BYTES + ((length + 7) & ~7);
    const head = Atomics.load(this.header, HEAD_WORD);
    if (this.capacity - ((head - Atomics.load(this.header, TAIL_WORD)) >>> 0) < needed) {
      Atomics.store(this.header, SPACE_WANTED_WORD, 1);
      if (this.capacity - ((head - Atomics.load(this.header, TAIL_WORD)) >>> 0) < needed) return false;
    }
    const offset = head & this.mask;
    this.lengths[offset >> 2] = length;
    this.lengths[(offset >> 2) + 1] = 0;
    const start = (offset + RECORD_HEADER_BYTES) & this.mask;
    const firstPart = Math.min(length, this.capacity - start);
    if (length <= SMALL_FRAME_BYTES) {
      if (firstPart === length) {
        this.bytes.set(frame, start);
      } else {
        this.bytes.set(frame.subarray(0, firstPart), start);
        this.bytes.set(frame.subarray(firstPart), 0);
      }
    } else {
      const source = this.aligned(frame);
      this.copyIn(source, 0, start, firstPart);
      if (firstPart < length) this.copyIn(source, firstPart, 0, length - firstPart);
    }
    // The frame count is a plain store: the head's Atomics.store below publishes it with the
    // frame, so a write costs one atomic store, not two (readers use framesWritten's Atomics.load).
    this.header[FRAMES_WORD] = (this.header[FRAMES_WORD]! + 1) >>> 0;
    Atomics.store(this.header, HEAD_WORD, (head + needed) >>> 0);
    return true;
  }

  /**
   * Removes and returns the oldest frame as a private (non-shared) copy, or undefined when
   * the ring is empty. If the producer left the ring inconsistent, the ring is emptied and
   * MalformedMessageError is thrown. Consumer thread only.
   */
  tryRead(): Uint8Array | undefined {
    const tail = Atomics.load(this.header, TAIL_WORD);
    const length = this.frameLength(tail);
    if (length < 0) return undefined;
    if (length <= SMALL_FRAME_BYTES) {
      const frame = new Uint8Array(length);
      this.copyFrameOut(tail, length, frame, NO_WORDS);
      return frame;
    }
    const words = new Float64Array((length + 7) >> 3);
    const frame = new Uint8Array(words.buffer, 0, length);
    this.copyFrameOut(tail, length, frame, words);
    return frame;
  }

  /**
   * As tryRead, but copies the frame into a buffer this Ring object reuses and returns its
   * length (-1 when empty). The bytes are `scratch.subarray(0, length)` and stay valid only
   * until the next read. Saves an allocation per frame for consumers that decode at once.
   */
  tryReadIntoScratch(): number {
    const tail = Atomics.load(this.header, TAIL_WORD);
    const length = this.frameLength(tail);
    if (length < 0) return length;
    if (this.scratchBytes.length < length) {
      this.scratchWords = new Float64Array(Math.max(64, 2 ** Math.ceil(Math.log2((length + 7) >> 3))));
      this.scratchBytes = new Uint8Array(this.scratchWords.buffer);
    }
    this.copyFrameOut(tail, length, this.scratchBytes, this.scratchWords);
    return length;
  }

  /** The buffer tryReadIntoScratch fills (replaced when a larger frame arrives). */
  get scratch(): Uint8Array {
    return this.scratchBytes;
  }

  /** True when no frame is waiting. Either side may ask. */
  isEmpty(): boolean {
    return Atomics.load(this.header, HEAD_WORD) === Atomics.load(this.header, TAIL_WORD);
  }

  /** Bytes currently occupied (frames with their record headers and padding). */
  usedBytes(): number {
    return (Atomics.load(this.header, HEAD_WORD) - Atomics.load(this.header, TAIL_WORD)) >>> 0;
  }

  /**
   * Consumer side, after reading: true (once) if the producer found the ring full since the
   * last call, so the consumer should wake it.
   */
  takeSpaceRequest(): boolean {
    if (Atomics.load(this.header, SPACE_WANTED_WORD) === 0) return false;
    return Atomics.exchange(this.header, SPACE_WANTED_WORD, 0) !== 0;
  }

  /** Length of the frame at `tail`, -1 if the ring is empty; empties a corrupt ring and throws. */
  private frameLength(tail: number): number {
    const head = Atomics.load(this.header, HEAD_WORD);
    if (head === tail) return -1;
    const used = (head - tail) >>> 0;
    const offset = tail & this.mask;
    const length = (offset & 7) === 0 ? this.lengths[offset >> 2]! : Number.MAX_SAFE_INTEGER;
    if (used > this.capacity || (used & 7) !== 0 || length > this.maxFrameBytes || RECORD_HEADER_BYTES + ((length + 7) & ~7) > used) {
      Atomics.store(this.header, TAIL_WORD, head);
      throw new MalformedMessageError(`ring corrupted by its producer (head ${head}, tail ${tail}, frame length ${length}); discarded`);
    }
    return length;
  }

  /**
   * Copies the frame at `tail` (of `length`, already checked) to `bytes` and releases it.
   * `words` views the same memory as `bytes` (used for frames above SMALL_FRAME_BYTES).
   */
  private copyFrameOut(tail: number, length: number, bytes: Uint8Array, words: Float64Array): void {
    const start = ((tail & this.mask) + RECORD_HEADER_BYTES) & this.mask;
    const firstPart = Math.min(length, this.capacity - start);
    if (length <= SMALL_FRAME_BYTES) {
      bytes.set(this.bytes.subarray(start, start + firstPart), 0);
      if (firstPart < length) bytes.set(this.bytes.subarray(0, length - firstPart), firstPart);
    } else {
      this.copyOut(start, words, 0, firstPart);
      if (firstPart < length) this.copyOut(0, words, firstPart, length - firstPart);
    }
    Atomics.store(this.header, TAIL_WORD, (tail + RECORD_HEADER_BYTES + ((length + 7) & ~7)) >>> 0);
  }

  /** `frame` as whole 8-byte words at an 8-aligned offset (staged through a copy if not aligned). */
  private aligned(frame: Uint8Array): Float64Array {
    const words = (frame.length + 7) >> 3;
    if ((frame.byteOffset & 7) === 0 && frame.byteOffset + words * 8 <= frame.buffer.byteLength) {
      return new Float64Array(frame.buffer, frame.byteOffset, words);
    }
    if (this.staging.length < words) this.staging = new Float64Array(Math.max(64, 2 ** Math.ceil(Math.log2(words))));
    new Uint8Array(this.staging.buffer, 0, frame.length).set(frame);
    return this.staging;
  }

  /** Copies `length` bytes from `source` (8-aligned `from`) to data offset `to` (8-aligned). */
  private copyIn(source: Float64Array, from: number, to: number, length: number): void {
    const whole = length >> 3;
    this.words.set(source.subarray(from >> 3, (from >> 3) + whole), to >> 3);
    const rest = length & 7;
    if (rest > 0) {
      const bytes = new Uint8Array(source.buffer, source.byteOffset + from + whole * 8, rest);
      for (let i = 0; i < rest; i++) this.bytes[to + whole * 8 + i] = bytes[i]!;
    }
  }

  /** Copies `length` bytes from data offset `from` (8-aligned) to `destination` at `to` (8-aligned). */
  private copyOut(from: number, destination: Float64Array, to: number, length: number): void {
    const whole = length >> 3;
    destination.set(this.words.subarray(from >> 3, (from >> 3) + whole), to >> 3);
    const rest = length & 7;
    if (rest > 0) {
      const bytes = new Uint8Array(destination.buffer, destination.byteOffset + to + whole * 8, rest);
      for (let i = 0; i < rest; i++) bytes[i] = this.bytes[from + whole * 8 + i]!;
    }
  }
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < RING_MIN_CAPACITY || capacity > RING_MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new InvalidArgumentError(`ring capacity must be a power of two from ${RING_MIN_CAPACITY} to ${RING_MAX_CAPACITY} bytes, got ${capacity}`);
  }
}
