import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MalformedMessageError, MessageTooLargeError, InvalidArgumentError } from './errors.js';
import { Ring, RING_HEADER_BYTES } from './ring.js';

function bytes(length: number, seed: number): Uint8Array {
  const frame = new Uint8Array(length);
  for (let i = 0; i < length; i++) frame[i] = (seed * 31 + i * 7) & 0xff;
  return frame;
}

describe('Ring', () => {
  it('Ring.create rejects capacities that are not powers of two in range', () => {
    expect(() => Ring.create(100)).toThrow(InvalidArgumentError);
    expect(() => Ring.create(32)).toThrow(InvalidArgumentError);
    expect(() => new Ring(new SharedArrayBuffer(RING_HEADER_BYTES + 100))).toThrow(InvalidArgumentError);
    expect(Ring.create(64).capacity).toBe(64);
  });

  it('tryRead returns undefined and isEmpty is true on an empty ring', () => {
    const ring = Ring.create(256);
    expect(ring.isEmpty()).toBe(true);
    expect(ring.tryRead()).toBeUndefined();
    expect(ring.tryReadIntoScratch()).toBe(-1);
  });

  it('tryRead returns frames in order, as private non-shared copies', () => {
    const ring = Ring.create(256);
    expect(ring.tryWrite(bytes(10, 1))).toBe(true);
    expect(ring.tryWrite(bytes(0, 2))).toBe(true);
    expect(ring.tryWrite(bytes(17, 3))).toBe(true);
    const first = ring.tryRead()!;
    expect(first).toEqual(bytes(10, 1));
    expect(first.buffer).toBeInstanceOf(ArrayBuffer);
    expect(ring.tryRead()).toEqual(bytes(0, 2));
    expect(ring.tryRead()).toEqual(bytes(17, 3));
    expect(ring.isEmpty()).toBe(true);
  });

  it('tryRead copies are unaffected by later writes into the same ring space', () => {
    const ring = Ring.create(64);
    ring.tryWrite(bytes(40, 1));
    const copy = ring.tryRead()!;
    ring.tryWrite(bytes(40, 9));
    expect(copy).toEqual(bytes(40, 1));
  });

  it('tryWrite wraps frames around the end of the data area intact', () => {
    const ring = Ring.create(64);
    // Each 20-byte frame takes 32 bytes (8 header + 24 padded): positions 0, 32, 64=0, ...
    // A 30-byte frame (40 bytes with header) starting at 48 wraps its payload.
    for (let round = 0; round < 50; round++) {
      const size = round % 2 === 0 ? 20 : 30;
      expect(ring.tryWrite(bytes(size, round))).toBe(true);
      expect(ring.tryRead()).toEqual(bytes(size, round));
    }
    expect(ring.isEmpty()).toBe(true);
  });

  it('tryWrite returns false when full, and takeSpaceRequest tells the consumer once', () => {
    const ring = Ring.create(64);
    expect(ring.tryWrite(bytes(20, 1))).toBe(true);
    expect(ring.tryWrite(bytes(20, 2))).toBe(true);
    expect(ring.tryWrite(bytes(1, 3))).toBe(false);
    expect(ring.usedBytes()).toBe(64);
    expect(ring.tryRead()).toEqual(bytes(20, 1));
    expect(ring.takeSpaceRequest()).toBe(true);
    expect(ring.takeSpaceRequest()).toBe(false);
    expect(ring.tryWrite(bytes(1, 3))).toBe(true);
    expect(ring.tryRead()).toEqual(bytes(20, 2));
    expect(ring.tryRead()).toEqual(bytes(1, 3));
  });

  it('tryWrite accepts a frame of maxFrameBytes only into an empty ring', () => {
    const ring = Ring.create(128);
    const largest = bytes(ring.maxFrameBytes, 5);
    ring.tryWrite(bytes(1, 1));
    expect(ring.tryWrite(largest)).toBe(false);
    ring.tryRead();
    expect(ring.tryWrite(largest)).toBe(true);
    expect(ring.tryRead()).toEqual(largest);
  });

  it('tryWrite throws MessageTooLargeError for a frame that could never fit', () => {
    const ring = Ring.create(128);
    expect(() => ring.tryWrite(new Uint8Array(ring.maxFrameBytes + 1))).toThrow(MessageTooLargeError);
    expect(ring.isEmpty()).toBe(true);
  });

  it('tryWrite copies frames that are views at unaligned offsets', () => {
    const ring = Ring.create(256);
    const backing = bytes(100, 7);
    expect(ring.tryWrite(backing.subarray(3, 50))).toBe(true);
    expect(ring.tryRead()).toEqual(backing.subarray(3, 50));
  });

  it('tryReadIntoScratch leaves the frame in scratch until the next read', () => {
    const ring = Ring.create(4096);
    ring.tryWrite(bytes(3000, 4));
    const length = ring.tryReadIntoScratch();
    expect(length).toBe(3000);
    expect(ring.scratch.subarray(0, length)).toEqual(bytes(3000, 4));
  });

  it('tryRead empties a ring whose producer wrote an impossible length and throws MalformedMessageError', () => {
    const ring = Ring.create(256);
    ring.tryWrite(bytes(10, 1));
    new Uint32Array(ring.buffer, RING_HEADER_BYTES, 1)[0] = 5000; // the peer scribbles on the length
    expect(() => ring.tryRead()).toThrow(MalformedMessageError);
    expect(ring.isEmpty()).toBe(true);
    expect(ring.tryWrite(bytes(10, 2))).toBe(true);
    expect(ring.tryRead()).toEqual(bytes(10, 2));
  });

  it('tryRead refuses a head that claims more than the capacity', () => {
    const ring = Ring.create(256);
    new Uint32Array(ring.buffer, 0, 1)[0] = 4096;
    expect(() => ring.tryRead()).toThrow(MalformedMessageError);
    expect(ring.isEmpty()).toBe(true);
  });

  it('Ring behaves as a FIFO queue for any sequence of writes and reads, small and large frames (property)', () => {
    for (const capacity of [256, 8192]) {
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.integer({ min: 0, max: capacity - 8 }).map((size) => ({ write: size })), fc.constant({ read: true as const })), { maxLength: 200 }),
          (steps) => {
            const ring = Ring.create(capacity);
            const model: Uint8Array[] = [];
            let seed = 0;
            for (const step of steps) {
              if ('write' in step) {
                const frame = bytes(step.write, seed++);
                if (ring.tryWrite(frame)) model.push(frame);
                else expect(ring.usedBytes() + 8 + ((step.write + 7) & ~7)).toBeGreaterThan(capacity);
              } else if (seed % 2 === 0) {
                expect(ring.tryRead()).toEqual(model.shift());
              } else {
                const expected = model.shift();
                const length = ring.tryReadIntoScratch();
                expect(length).toBe(expected ? expected.length : -1);
                if (expected) expect(ring.scratch.subarray(0, length)).toEqual(expected);
              }
            }
            while (model.length > 0) expect(ring.tryRead()).toEqual(model.shift());
            expect(ring.isEmpty()).toBe(true);
          },
        ),
        { numRuns: 60 },
      );
    }
  });

  it('tryWrite copies large frames that are views at unaligned offsets, across the wrap', () => {
    const ring = Ring.create(1024);
    const backing = bytes(2000, 3);
    for (let round = 0; round < 20; round++) {
      const frame = backing.subarray(round + 1, round + 1 + 500 + round * 13);
      expect(ring.tryWrite(frame)).toBe(true);
      expect(ring.tryRead()).toEqual(frame);
    }
  });
});
