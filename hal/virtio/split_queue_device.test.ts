import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ram } from '../ram.js';
import {
  AVAILABLE_NO_INTERRUPT, DESCRIPTOR, DescriptorFlag, type SplitQueueAddresses, availableRingBytes, descriptorTableBytes,
  usedEventAddress, usedRingBytes,
} from './ring.js';
import { SplitQueueDevice } from './split_queue_device.js';
import { BumpAllocator, createTestBoard } from './testing.js';

interface Harness {
  ram: Ram;
  dma: BumpAllocator;
  queue: SplitQueueDevice;
  addresses: SplitQueueAddresses;
  faults: string[];
  interrupts: { count: number };
  /** Writes descriptor `index` of the direct table (or of `table`). */
  descriptor(index: number, address: number, length: number, flags: number, next?: number, table?: number): void;
  /** Publishes `head` in the next available slot. */
  publish(head: number): void;
}

function harness(options: { size?: number; indirect?: boolean; eventIndex?: boolean } = {}): Harness {
  const { ram } = createTestBoard(64 * 1024);
  const dma = new BumpAllocator(ram);
  const size = options.size ?? 8;
  const addresses = {
    size,
    descriptorTable: dma.allocate(descriptorTableBytes(size), 16),
    availableRing: dma.allocate(availableRingBytes(size), 2),
    usedRing: dma.allocate(usedRingBytes(size), 4),
  };
  const faults: string[] = [];
  const interrupts = { count: 0 };
  const queue = new SplitQueueDevice(0, {
    ...addresses, ram, indirect: options.indirect ?? false, eventIndex: options.eventIndex ?? false,
    signals: { interrupt: () => { interrupts.count++; }, fault: (message) => { faults.push(message); } },
  });
  let published = 0;
  return {
    ram, dma, queue, addresses, faults, interrupts,
    descriptor(index, address, length, flags, next = 0, table = addresses.descriptorTable) {
      const at = table + 16 * index;
      DESCRIPTOR.write(ram, at, 'address', address);
      DESCRIPTOR.write(ram, at, 'length', length);
      DESCRIPTOR.write(ram, at, 'flags', flags);
      DESCRIPTOR.write(ram, at, 'next', next);
    },
    publish(head) {
      ram.writeU16(addresses.availableRing + 4 + 2 * (published % size), head);
      published = (published + 1) & 0xffff;
      ram.writeU16(addresses.availableRing + 2, published);
    },
  };
}

describe('SplitQueueDevice', () => {
  it('SplitQueueDevice.nextChain returns readable then writable segments of a chain', () => {
    const h = harness();
    const a = h.dma.allocate(16, 8), b = h.dma.allocate(100, 8), c = h.dma.allocate(1, 1);
    h.descriptor(3, a, 16, DescriptorFlag.NEXT, 5);
    h.descriptor(5, b, 100, DescriptorFlag.NEXT | DescriptorFlag.WRITE, 1);
    h.descriptor(1, c, 1, DescriptorFlag.WRITE);
    h.publish(3);
    expect(h.queue.nextChain()).toEqual({
      head: 3,
      readable: [{ address: a, length: 16 }],
      writable: [{ address: b, length: 100 }, { address: c, length: 1 }],
      readableLength: 16,
      writableLength: 101,
    });
    expect(h.queue.nextChain()).toBeUndefined();
  });

  it('SplitQueueDevice.read and write gather and scatter across segments at an offset', () => {
    const h = harness();
    const a = h.dma.allocate(3, 1), b = h.dma.allocate(5, 1), w1 = h.dma.allocate(2, 1), w2 = h.dma.allocate(4, 1);
    h.ram.write(a, Uint8Array.of(1, 2, 3));
    h.ram.write(b, Uint8Array.of(4, 5, 6, 7, 8));
    h.descriptor(0, a, 3, DescriptorFlag.NEXT, 1);
    h.descriptor(1, b, 5, DescriptorFlag.NEXT, 2);
    h.descriptor(2, w1, 2, DescriptorFlag.NEXT | DescriptorFlag.WRITE, 3);
    h.descriptor(3, w2, 4, DescriptorFlag.WRITE);
    h.publish(0);
    const chain = h.queue.nextChain()!;
    expect([...h.queue.read(chain)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...h.queue.read(chain, 2, 3)]).toEqual([3, 4, 5]);
    expect(h.queue.write(chain, Uint8Array.of(9, 9, 9, 9, 9, 9, 9), 1)).toBe(5);
    expect([...h.ram.read(w1, 2), ...h.ram.read(w2, 4)]).toEqual([0, 9, 9, 9, 9, 9]);
  });

  it('SplitQueueDevice.pushUsed fills the used ring and notifyIfNeeded interrupts once per batch', () => {
    const h = harness();
    const buffer = h.dma.allocate(8, 8);
    h.descriptor(0, buffer, 8, DescriptorFlag.WRITE);
    h.descriptor(1, buffer, 8, DescriptorFlag.WRITE);
    h.publish(0);
    h.publish(1);
    const first = h.queue.nextChain()!, second = h.queue.nextChain()!;
    h.queue.pushUsed(second.head, 8);
    h.queue.pushUsed(first.head, 4);
    h.queue.notifyIfNeeded();
    h.queue.notifyIfNeeded();
    expect(h.interrupts.count).toBe(1);
    expect(h.ram.readU16(h.addresses.usedRing + 2)).toBe(2);
    expect([h.ram.readU32(h.addresses.usedRing + 4), h.ram.readU32(h.addresses.usedRing + 8)]).toEqual([1, 8]);
    expect([h.ram.readU32(h.addresses.usedRing + 12), h.ram.readU32(h.addresses.usedRing + 16)]).toEqual([0, 4]);
    expect(() => h.queue.pushUsed(first.head, 0)).toThrow(RangeError);
  });

  it('SplitQueueDevice.notifyIfNeeded honours VIRTQ_AVAIL_F_NO_INTERRUPT', () => {
    const h = harness();
    h.ram.writeU16(h.addresses.availableRing, AVAILABLE_NO_INTERRUPT);
    h.descriptor(0, h.dma.allocate(8, 8), 8, DescriptorFlag.WRITE);
    h.publish(0);
    h.queue.pushUsed(h.queue.nextChain()!.head, 0);
    h.queue.notifyIfNeeded();
    expect(h.interrupts.count).toBe(0);
  });

  it('SplitQueueDevice.notifyIfNeeded with EVENT_IDX interrupts only when used idx passes used_event', () => {
    const h = harness({ eventIndex: true });
    const buffer = h.dma.allocate(8, 8);
    for (let index = 0; index < 4; index++) h.descriptor(index, buffer, 8, DescriptorFlag.WRITE);
    h.ram.writeU16(usedEventAddress(h.addresses), 2); // interrupt me when entry 2 is used
    for (let index = 0; index < 4; index++) h.publish(index);
    const counts: number[] = [];
    for (let index = 0; index < 4; index++) {
      h.queue.pushUsed(h.queue.nextChain()!.head, 0);
      h.queue.notifyIfNeeded();
      counts.push(h.interrupts.count);
    }
    expect(counts).toEqual([0, 0, 1, 1]);
  });

  it('SplitQueueDevice.nextChain follows an INDIRECT table when negotiated', () => {
    const h = harness({ indirect: true });
    const table = h.dma.allocate(48, 16);
    const a = h.dma.allocate(4, 4), b = h.dma.allocate(4, 4), c = h.dma.allocate(4, 4);
    h.descriptor(0, a, 4, DescriptorFlag.NEXT, 2, table);
    h.descriptor(2, b, 4, DescriptorFlag.NEXT | DescriptorFlag.WRITE, 1, table);
    h.descriptor(1, c, 4, DescriptorFlag.WRITE, 0, table);
    h.descriptor(6, table, 48, DescriptorFlag.INDIRECT);
    h.publish(6);
    expect(h.queue.nextChain()).toMatchObject({ head: 6, readableLength: 4, writableLength: 8, writable: [{ address: b }, { address: c }] });
    expect(h.faults).toEqual([]);
  });

  const malformed: [string, (h: Harness) => void, RegExp][] = [
    ['a loop', (h) => {
      const buffer = h.dma.allocate(4, 4);
      h.descriptor(0, buffer, 4, DescriptorFlag.NEXT, 1);
      h.descriptor(1, buffer, 4, DescriptorFlag.NEXT, 0);
      h.publish(0);
    }, /loop/],
    ['a self loop', (h) => { h.descriptor(2, h.dma.allocate(4, 4), 4, DescriptorFlag.NEXT, 2); h.publish(2); }, /loop/],
    ['a next index past the table', (h) => { h.descriptor(0, h.dma.allocate(4, 4), 4, DescriptorFlag.NEXT, 8); h.publish(0); }, /outside a table of 8/],
    ['a head past the table', (h) => { h.publish(9); }, /outside a table of 8/],
    ['a buffer past the end of RAM', (h) => { h.descriptor(0, h.ram.end - 2, 4, 0); h.publish(0); }, /outside RAM/],
    ['a buffer below RAM', (h) => { h.descriptor(0, 0x1000, 4, 0); h.publish(0); }, /outside RAM/],
    ['an address beyond 2^53', (h) => {
      h.descriptor(0, 0, 4, 0);
      h.ram.writeU64(h.addresses.descriptorTable, 0xffff_ffff_ffff_f000n);
      h.publish(0);
    }, /2\^53/],
    ['a readable descriptor after a writable one', (h) => {
      const buffer = h.dma.allocate(4, 4);
      h.descriptor(0, buffer, 4, DescriptorFlag.WRITE | DescriptorFlag.NEXT, 1);
      h.descriptor(1, buffer, 4, 0);
      h.publish(0);
    }, /follows a writable/],
    ['INDIRECT without the feature', (h) => { h.descriptor(0, h.dma.allocate(16, 16), 16, DescriptorFlag.INDIRECT); h.publish(0); }, /not negotiated/],
    ['an available idx more than the queue size ahead', (h) => { h.ram.writeU16(h.addresses.availableRing + 2, 9); }, /more than the queue size/],
  ];
  for (const [what, build, message] of malformed) {
    it(`SplitQueueDevice.nextChain reports ${what} as a fault and stops`, () => {
      const h = harness();
      build(h);
      expect(h.queue.nextChain()).toBeUndefined();
      expect(h.faults).toHaveLength(1);
      expect(h.faults[0]).toMatch(message);
      expect(h.queue.enabled).toBe(false);
      expect(h.queue.nextChain()).toBeUndefined();
    });
  }

  const malformedIndirect: [string, (h: Harness) => void, RegExp][] = [
    ['a nested INDIRECT', (h) => {
      const table = h.dma.allocate(16, 16);
      h.descriptor(0, table, 16, DescriptorFlag.INDIRECT, 0, table);
      h.descriptor(0, table, 16, DescriptorFlag.INDIRECT);
      h.publish(0);
    }, /contains an INDIRECT/],
    ['INDIRECT with NEXT', (h) => { h.descriptor(0, h.dma.allocate(16, 16), 16, DescriptorFlag.INDIRECT | DescriptorFlag.NEXT, 1); h.publish(0); }, /both INDIRECT and NEXT/],
    ['an indirect table length not a multiple of 16', (h) => { h.descriptor(0, h.dma.allocate(24, 16), 24, DescriptorFlag.INDIRECT); h.publish(0); }, /multiple of 16/],
    ['an indirect table outside RAM', (h) => { h.descriptor(0, h.ram.end - 16, 32, DescriptorFlag.INDIRECT); h.publish(0); }, /outside RAM/],
    ['a loop inside an indirect table', (h) => {
      const table = h.dma.allocate(32, 16), buffer = h.dma.allocate(4, 4);
      h.descriptor(0, buffer, 4, DescriptorFlag.NEXT, 1, table);
      h.descriptor(1, buffer, 4, DescriptorFlag.NEXT, 0, table);
      h.descriptor(0, table, 32, DescriptorFlag.INDIRECT);
      h.publish(0);
    }, /loop/],
  ];
  for (const [what, build, message] of malformedIndirect) {
    it(`SplitQueueDevice.nextChain reports ${what} as a fault`, () => {
      const h = harness({ indirect: true });
      build(h);
      expect(h.queue.nextChain()).toBeUndefined();
      expect(h.faults[0]).toMatch(message);
    });
  }

  it('SplitQueueDevice.nextChain reports a head made available again while the device holds it', () => {
    const h = harness();
    h.descriptor(0, h.dma.allocate(4, 4), 4, 0);
    h.publish(0);
    h.publish(0);
    expect(h.queue.nextChain()?.head).toBe(0);
    expect(h.queue.nextChain()).toBeUndefined();
    expect(h.faults[0]).toMatch(/still holds it/);
  });

  it('SplitQueueDevice after stop() neither takes chains nor writes guest memory', () => {
    const h = harness();
    const buffer = h.dma.allocate(4, 4);
    h.descriptor(0, buffer, 4, DescriptorFlag.WRITE);
    h.publish(0);
    const chain = h.queue.nextChain()!;
    h.queue.stop();
    expect(h.queue.write(chain, Uint8Array.of(1, 2, 3, 4))).toBe(0);
    h.queue.pushUsed(chain.head, 4);
    expect(h.ram.readU16(h.addresses.usedRing + 2)).toBe(0);
    expect([...h.ram.read(buffer, 4)]).toEqual([0, 0, 0, 0]);
  });

  it('SplitQueueDevice.nextChain never throws on arbitrary ring and descriptor contents', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: descriptorTableBytes(8), maxLength: descriptorTableBytes(8) }),
      fc.uint8Array({ minLength: availableRingBytes(8), maxLength: availableRingBytes(8) }),
      fc.boolean(),
      (table, available, indirect) => {
        const h = harness({ indirect });
        // Keep addresses plausible half the time so chains get walked, not just rejected.
        h.ram.write(h.addresses.descriptorTable, table);
        h.ram.write(h.addresses.availableRing, available);
        for (let index = 0; index < 8; index++) {
          if (table[index * 16]! % 2 !== 0) continue;
          h.ram.writeU64Number(h.addresses.descriptorTable + 16 * index, h.ram.base + table[index * 16 + 1]! * 64);
          h.ram.writeU32(h.addresses.descriptorTable + 16 * index + 8, table[index * 16 + 2]!);
        }
        let taken = 0;
        for (let chain = h.queue.nextChain(); chain !== undefined && taken < 16; chain = h.queue.nextChain()) {
          taken++;
          for (const segment of [...chain.readable, ...chain.writable]) expect(h.ram.contains(segment.address, segment.length)).toBe(true);
        }
        expect(h.faults.length <= 1).toBe(true);
      },
    ), { numRuns: 300 });
  });
});
