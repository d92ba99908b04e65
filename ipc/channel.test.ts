import { describe, it, expect } from 'vitest';
import { DoorbellPage } from '../hal/doorbells.js';
import { channelStatus, closeChannel, createChannel, DEFAULT_RING_CAPACITY } from './channel.js';
import { InvalidArgumentError } from './errors.js';
import { Ring } from './ring.js';

const options = { id: 4, interfaceName: 'test.echo', clientSlot: 1, serverSlot: 2, serverGeneration: 1 };

describe('channel', () => {
  it('createChannel makes two 64 KiB rings and an open state at the server generation', () => {
    const channel = createChannel(options);
    expect(new Ring(channel.requests).capacity).toBe(DEFAULT_RING_CAPACITY);
    expect(new Ring(channel.replies).capacity).toBe(DEFAULT_RING_CAPACITY);
    expect(channelStatus(channel)).toEqual({ open: true, generation: 1 });
  });

  it('createChannel descriptors survive structured clone and still share memory', () => {
    const channel = createChannel({ ...options, capacityBytes: 256 });
    const copy = structuredClone(channel);
    new Ring(copy.requests).tryWrite(new Uint8Array([1, 2, 3]));
    expect(new Ring(channel.requests).tryRead()).toEqual(new Uint8Array([1, 2, 3]));
    expect(copy.interfaceName).toBe('test.echo');
  });

  it('createChannel rejects bad slots, ids, names and capacities', () => {
    expect(() => createChannel({ ...options, clientSlot: 0 })).toThrow(InvalidArgumentError);
    expect(() => createChannel({ ...options, id: -1 })).toThrow(InvalidArgumentError);
    expect(() => createChannel({ ...options, interfaceName: '' })).toThrow(InvalidArgumentError);
    expect(() => createChannel({ ...options, capacityBytes: 1000 })).toThrow(InvalidArgumentError);
  });

  it('closeChannel records reason and new generation and rings both doorbells', () => {
    const doorbells = new DoorbellPage();
    const channel = createChannel(options);
    const before = [doorbells.sequence(1), doorbells.sequence(2)];
    closeChannel(channel, 'peer-restarted', 2, doorbells);
    expect(channelStatus(channel)).toEqual({ open: false, reason: 'peer-restarted', generation: 2 });
    expect(doorbells.sequence(1)).not.toBe(before[0]);
    expect(doorbells.sequence(2)).not.toBe(before[1]);
  });

  it('closeChannel keeps the first reason when called twice', () => {
    const doorbells = new DoorbellPage();
    const channel = createChannel(options);
    closeChannel(channel, 'revoked', 1, doorbells);
    closeChannel(channel, 'peer-stopped', 5, doorbells);
    expect(channelStatus(channel)).toEqual({ open: false, reason: 'revoked', generation: 1 });
  });
});
