import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { availableRingBytes, descriptorTableBytes, usedRingBytes } from '../../../hal/virtio/ring.js';
import { SplitQueueDevice } from '../../../hal/virtio/split_queue_device.js';
import { BumpAllocator, createTestBoard } from '../../../hal/virtio/testing.js';
import { VirtioQueueError } from './errors.js';
import { SplitQueueDriver } from './split_queue_driver.js';

/** A driver queue and a device queue over the same RAM, as after virtio setup. */
function pair(options: { size?: number; eventIndex?: boolean } = {}) {
  const { ram } = createTestBoard(256 * 1024);
  const dma = new BumpAllocator(ram);
  const size = options.size ?? 8;
  const eventIndex = options.eventIndex ?? false;
  const addresses = {
    size,
    descriptorTable: dma.allocate(descriptorTableBytes(size), 16),
    availableRing: dma.allocate(availableRingBytes(size), 2),
    usedRing: dma.allocate(usedRingBytes(size), 4),
  };
  const kicks: number[] = [];
  const interrupts = { count: 0 };
  const faults: string[] = [];
  const driver = new SplitQueueDriver<string>({ ...addresses, index: 0, ram, eventIndex, notify: (index) => kicks.push(index) });
  const device = new SplitQueueDevice(0, {
    ...addresses, ram, indirect: false, eventIndex,
    signals: { interrupt: () => { interrupts.count++; }, fault: (message) => { faults.push(message); } },
  });
  return { ram, dma, addresses, driver, device, kicks, interrupts, faults };
}

describe('SplitQueueDriver', () => {
  it('SplitQueueDriver.add publishes a chain the device reads back with the token on return', () => {
    const { ram, dma, driver, device, faults } = pair();
    const request = dma.allocate(4, 4), reply = dma.allocate(8, 8);
    ram.write(request, Uint8Array.of(1, 2, 3, 4));
    const head = driver.add([{ address: request, length: 4, writable: false }, { address: reply, length: 8, writable: true }], 'first');
    expect(head).toBeDefined();
    const chain = device.nextChain()!;
    expect(chain.head).toBe(head);
    expect([...device.read(chain)]).toEqual([1, 2, 3, 4]);
    device.write(chain, Uint8Array.of(7, 7, 7));
    device.pushUsed(chain.head, 3);
    expect(driver.takeUsed()).toEqual([{ head, length: 3, token: 'first' }]);
    expect([...ram.read(reply, 3)]).toEqual([7, 7, 7]);
    expect(driver.freeDescriptors).toBe(8);
    expect(faults).toEqual([]);
  });

  it('SplitQueueDriver.add returns undefined when too few descriptors are free, and works again after takeUsed', () => {
    const { dma, driver, device } = pair({ size: 4 });
    const buffer = dma.allocate(16, 8);
    const part = { address: buffer, length: 16, writable: true };
    expect(driver.add([part, part, part])).toBeDefined();
    expect(driver.add([part, part])).toBeUndefined();
    expect(driver.add([part])).toBeDefined();
    expect(driver.add([part])).toBeUndefined();
    expect(driver.freeDescriptors).toBe(0);
    const chain = device.nextChain()!;
    device.pushUsed(chain.head, 0);
    expect(driver.takeUsed()).toHaveLength(1);
    expect(driver.add([part, part])).toBeDefined();
    expect(driver.outstanding).toBe(2);
  });

  it('SplitQueueDriver.add refuses empty chains, buffers outside RAM and readable after writable', () => {
    const { ram, dma, driver } = pair();
    const buffer = dma.allocate(16, 8);
    expect(() => driver.add([])).toThrow(RangeError);
    expect(() => driver.add([{ address: ram.end - 8, length: 16, writable: true }])).toThrow(/outside RAM/);
    expect(() => driver.add([{ address: buffer, length: 4, writable: true }, { address: buffer, length: 4, writable: false }])).toThrow(/before writable/);
    expect(driver.freeDescriptors).toBe(8);
  });

  it('SplitQueueDriver and SplitQueueDevice keep working as ring indices wrap past 65535', () => {
    const { ram, dma, addresses, driver, device, faults } = pair({ size: 4 });
    const buffers = [dma.allocate(8, 8), dma.allocate(8, 8)];
    let mismatches = 0;
    for (let round = 0; round < 70_000; round++) {
      const token = `r${round}`;
      driver.add([{ address: buffers[0]!, length: 8, writable: false }, { address: buffers[1]!, length: 8, writable: true }], token);
      if (round % 3 === 0) driver.add([{ address: buffers[1]!, length: 8, writable: true }], `${token}b`);
      for (let chain = device.nextChain(); chain !== undefined; chain = device.nextChain()) device.pushUsed(chain.head, chain.writableLength);
      const used = driver.takeUsed();
      if (used[0]?.token !== token || used[0].length !== 8 || used.length !== (round % 3 === 0 ? 2 : 1)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(faults).toEqual([]);
    expect(driver.freeDescriptors).toBe(4);
    const chains = 70_000 + Math.ceil(70_000 / 3);
    expect(ram.readU16(addresses.availableRing + 2)).toBe(chains % 65536);
    expect(ram.readU16(addresses.usedRing + 2)).toBe(chains % 65536);
  });

  it('SplitQueueDriver.kick notifies once per batch without EVENT_IDX', () => {
    const { dma, driver, kicks } = pair();
    const part = { address: dma.allocate(8, 8), length: 8, writable: true };
    driver.kick();
    expect(kicks).toEqual([]);
    driver.add([part]);
    driver.add([part]);
    driver.kick();
    driver.kick();
    expect(kicks).toEqual([0]);
  });

  it('SplitQueueDriver.kick with EVENT_IDX notifies only when the device asked (avail_event)', () => {
    const { dma, driver, device, kicks } = pair({ eventIndex: true });
    const part = { address: dma.allocate(8, 8), length: 8, writable: true };
    driver.add([part]);
    driver.kick(); // avail_event is 0: the device wants to hear about entry 0
    expect(kicks).toHaveLength(1);
    device.nextChain(); // device took entry 0 and now asks for entry 1
    driver.add([part]);
    driver.kick();
    expect(kicks).toHaveLength(2);
    driver.add([part]); // the device has not caught up: avail_event still 1, already passed
    driver.kick();
    expect(kicks).toHaveLength(2);
  });

  it('SplitQueueDriver.takeUsed with EVENT_IDX asks for the next interrupt', () => {
    const { dma, driver, device, interrupts } = pair({ eventIndex: true });
    const part = { address: dma.allocate(8, 8), length: 8, writable: true };
    const complete = () => { const chain = device.nextChain()!; device.pushUsed(chain.head, 0); device.notifyIfNeeded(); };
    driver.add([part]); driver.add([part]); driver.add([part]);
    complete();
    expect(interrupts.count).toBe(1);
    complete(); // driver has not taken entry 0 yet: used_event still 0, no interrupt
    expect(interrupts.count).toBe(1);
    expect(driver.takeUsed()).toHaveLength(2);
    complete();
    expect(interrupts.count).toBe(2);
  });

  it('SplitQueueDriver.takeUsed throws a QUEUE_FAULT naming the check for a used ring the device could not have written', () => {
    const usedRingOf = (driver: SplitQueueDriver<string>) => (driver as unknown as { options: { usedRing: number } }).options.usedRing;
    const fault = (check: string) => expect.objectContaining({ code: 'QUEUE_FAULT', check, message: expect.stringContaining(`queue fault (${check})`) });

    // An index that moved with nothing in flight (RAM zeroed under a queue moves it back by many).
    const jumped = pair();
    jumped.ram.writeU16(usedRingOf(jumped.driver) + 2, 1);
    expect(() => jumped.driver.takeUsed()).toThrow(fault('used-index-jumped'));

    // An entry naming a descriptor that heads no chain in flight.
    const stray = pair();
    const buffer = stray.dma.allocate(16, 8);
    stray.driver.add([{ address: buffer, length: 16, writable: true }], 'a');
    stray.ram.writeU32(usedRingOf(stray.driver) + 4, 5);
    stray.ram.writeU16(usedRingOf(stray.driver) + 2, 1);
    expect(() => stray.driver.takeUsed()).toThrow(fault('descriptor-not-in-flight'));

    // A length past the chain's writable bytes.
    const long = pair();
    const reply = long.dma.allocate(16, 8);
    const head = long.driver.add([{ address: reply, length: 16, writable: true }], 'b')!;
    long.ram.writeU32(usedRingOf(long.driver) + 4, head);
    long.ram.writeU32(usedRingOf(long.driver) + 8, 17);
    long.ram.writeU16(usedRingOf(long.driver) + 2, 1);
    expect(() => long.driver.takeUsed()).toThrow(fault('length-out-of-range'));
    expect(() => long.driver.takeUsed()).toThrow(VirtioQueueError);
  });

  it('SplitQueueDriver.audit finds driver-written parts of the queue overwritten, which no interrupt would ever show', () => {
    const fault = (check: string) => expect.objectContaining({ code: 'QUEUE_FAULT', check, message: expect.stringContaining(`queue fault (${check})`) });
    const posted = () => {
      const queue = pair();
      const buffer = queue.dma.allocate(64, 8);
      for (let i = 0; i < 3; i++) queue.driver.add([{ address: buffer + 16 * i, length: 16, writable: true }], `r${i}`);
      return queue;
    };

    // Intact queues, also after chains were taken and returned, pass.
    const intact = posted();
    intact.driver.audit();
    const chain = intact.device.nextChain()!;
    intact.device.pushUsed(chain.head, 4);
    intact.driver.audit();
    expect(intact.driver.takeUsed()).toHaveLength(1);
    intact.driver.audit();

    // The available index zeroed to what the device last took (here 0): to the device, nothing is posted.
    const zeroedIndex = posted();
    zeroedIndex.ram.writeU16(zeroedIndex.addresses.availableRing + 2, 0);
    expect(zeroedIndex.device.hasAvailable()).toBe(false);
    expect(() => zeroedIndex.driver.audit()).toThrow(fault('available-ring-overwritten'));

    // A ring slot it filled.
    const slot = posted();
    slot.ram.writeU16(slot.addresses.availableRing + 4 + 2, 7);
    expect(() => slot.driver.audit()).toThrow(fault('available-ring-overwritten'));

    // A descriptor of a chain in flight: zeroed, its buffer would be address 0, length 0.
    const descriptor = posted();
    descriptor.ram.fill(descriptor.addresses.descriptorTable, 16 * 8, 0);
    expect(() => descriptor.driver.audit()).toThrow(fault('descriptor-overwritten'));

    // A used index moved past the chains in flight.
    const used = posted();
    used.ram.writeU16(used.addresses.usedRing + 2, 9);
    expect(() => used.driver.audit()).toThrow(fault('used-index-jumped'));

    // A stopped queue is the driver's memory again: nothing to audit.
    zeroedIndex.driver.stop();
    zeroedIndex.driver.audit();
  });

  it('SplitQueueDriver.add throws QUEUE_STOPPED after stop()', () => {
    const { dma, driver } = pair();
    driver.stop();
    expect(() => driver.add([{ address: dma.allocate(8, 8), length: 8, writable: true }])).toThrow(expect.objectContaining({ code: 'QUEUE_STOPPED' }));
  });

  it('SplitQueueDriver never loses or duplicates chains under random add/complete interleavings', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(fc.integer({ min: 1, max: 3 }).map((parts) => ({ add: parts })), fc.constant({ complete: true as const })), { maxLength: 200 }),
      (steps) => {
        const { dma, driver, device, faults } = pair({ size: 8 });
        const buffer = dma.allocate(64, 8);
        const outstanding = new Map<string, number>();
        const held: number[] = [];
        let serial = 0;
        for (const step of steps) {
          if ('add' in step) {
            const token = `t${serial++}`;
            const head = driver.add(Array.from({ length: step.add }, () => ({ address: buffer, length: 8, writable: true })), token);
            if (head !== undefined) outstanding.set(token, step.add);
            for (let chain = device.nextChain(); chain !== undefined; chain = device.nextChain()) held.push(chain.head);
          } else if (held.length > 0) {
            device.pushUsed(held.splice(serial % held.length, 1)[0]!, 0);
            for (const used of driver.takeUsed()) expect(outstanding.delete(used.token!)).toBe(true);
          }
          const inUse = [...outstanding.values()].reduce((sum, parts) => sum + parts, 0);
          expect(driver.freeDescriptors + inUse).toBe(8);
        }
        expect(driver.outstanding).toBe(outstanding.size);
        expect(faults).toEqual([]);
      },
    ), { numRuns: 100 });
  });
});
