// Split virtqueue layout (virtio 1.2 §2.7), shared by device and driver.
//
// A queue of `size` entries (a power of two, at most 32768) is three areas in guest RAM:
//
//   descriptor table  align 16, 16 × size   { addr u64, len u32, flags u16, next u16 }
//   available ring    align 2,  6 + 2×size  { flags u16, idx u16, ring[size] u16, used_event u16 }
//   used ring         align 4,  6 + 8×size  { flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16 }
//
// Both idx fields run freely over 0..65535; ring slot = idx mod size. The trailing
// used_event / avail_event fields exist only with VIRTIO_F_EVENT_IDX (the sizes above
// include them). idx and event fields cross threads: they are accessed with Atomics so
// that descriptor and ring writes made before an idx store are visible after its load.

import { Layout, u16, u32, u64 } from './layout.js';
import type { Ram } from '../ram.js';

export const MAXIMUM_QUEUE_SIZE = 32768;

export const DESCRIPTOR = new Layout(16, { address: u64(0), length: u32(8), flags: u16(12), next: u16(14) });
export const AVAILABLE_HEADER = new Layout(4, { flags: u16(0), index: u16(2) });
export const USED_HEADER = new Layout(4, { flags: u16(0), index: u16(2) });
export const USED_ELEMENT = new Layout(8, { id: u32(0), length: u32(4) });

/** Descriptor flags (§2.7.5). */
export const DescriptorFlag = {
  NEXT: 1,
  WRITE: 2,
  INDIRECT: 4,
} as const;

/** avail.flags: the driver asks for no used-buffer interrupts (without EVENT_IDX). */
export const AVAILABLE_NO_INTERRUPT = 1;
/** used.flags: the device asks for no notifications (without EVENT_IDX). */
export const USED_NO_NOTIFY = 1;

export const DESCRIPTOR_TABLE_ALIGNMENT = 16;
export const AVAILABLE_RING_ALIGNMENT = 2;
export const USED_RING_ALIGNMENT = 4;

/** Where a queue's three areas are, and how many entries it has. */
export interface SplitQueueAddresses {
  readonly size: number;
  readonly descriptorTable: number;
  readonly availableRing: number;
  readonly usedRing: number;
}

export function descriptorTableBytes(size: number): number {
  return DESCRIPTOR.size * size;
}

/** Whether a queue carries the trailing used_event / avail_event fields (VIRTIO_F_EVENT_IDX). */
export type EventFields = 'with-event-fields' | 'without-event-fields';

/** Bytes of the available ring, with used_event unless told otherwise. */
export function availableRingBytes(size: number, events: EventFields = 'with-event-fields'): number {
  return AVAILABLE_HEADER.size + 2 * size + (events === 'with-event-fields' ? 2 : 0);
}

/** Bytes of the used ring, with avail_event unless told otherwise. */
export function usedRingBytes(size: number, events: EventFields = 'with-event-fields'): number {
  return USED_HEADER.size + USED_ELEMENT.size * size + (events === 'with-event-fields' ? 2 : 0);
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

export function availableSlotAddress(queue: SplitQueueAddresses, index: number): number {
  return queue.availableRing + AVAILABLE_HEADER.size + 2 * (index % queue.size);
}

export function usedSlotAddress(queue: SplitQueueAddresses, index: number): number {
  return queue.usedRing + USED_HEADER.size + USED_ELEMENT.size * (index % queue.size);
}

/** used_event: the driver's "interrupt me when used idx passes this" (EVENT_IDX). */
export function usedEventAddress(queue: SplitQueueAddresses): number {
  return queue.availableRing + AVAILABLE_HEADER.size + 2 * queue.size;
}

/** avail_event: the device's "notify me when avail idx passes this" (EVENT_IDX). */
export function availableEventAddress(queue: SplitQueueAddresses): number {
  return queue.usedRing + USED_HEADER.size + USED_ELEMENT.size * queue.size;
}

/**
 * Why these addresses cannot hold a queue of `queue.size` entries in `ram`, or undefined
 * if they can: size a power of two ≤ 32768, each area aligned and wholly inside RAM
 * (with the event fields if EVENT_IDX was negotiated).
 */
export function queueLayoutProblem(ram: Ram, queue: SplitQueueAddresses, events: EventFields): string | undefined {
  const { size } = queue;
  if (!isPowerOfTwo(size) || size > MAXIMUM_QUEUE_SIZE) return `queue size ${size} is not a power of two in 1..${MAXIMUM_QUEUE_SIZE}`;
  const areas: [string, number, number, number][] = [
    ['descriptor table', queue.descriptorTable, descriptorTableBytes(size), DESCRIPTOR_TABLE_ALIGNMENT],
    ['available ring', queue.availableRing, availableRingBytes(size, events), AVAILABLE_RING_ALIGNMENT],
    ['used ring', queue.usedRing, usedRingBytes(size, events), USED_RING_ALIGNMENT],
  ];
  for (const [name, address, bytes, alignment] of areas) {
    if (address % alignment !== 0) return `${name} at 0x${address.toString(16)} is not ${alignment}-byte aligned`;
    if (!ram.contains(address, bytes)) return `${name} at 0x${address.toString(16)}+${bytes} is outside RAM`;
  }
  return undefined;
}

/**
 * vring_need_event (§2.7.10): true if moving an index from `old` to `current` passed
 * `event`, i.e. the other side asked to be told at `event`.
 */
export function needEvent(event: number, current: number, old: number): boolean {
  return ((current - event - 1) & 0xffff) < ((current - old) & 0xffff);
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const halfWordViews = new WeakMap<SharedArrayBuffer, Uint16Array>();

function halfWordIndex(ram: Ram, address: number): number {
  if (address % 2 !== 0) throw new RangeError(`ring index field at 0x${address.toString(16)} is not 2-byte aligned`);
  return ram.offset(address, 2) >> 1;
}

function halfWords(ram: Ram): Uint16Array {
  if (!littleEndianHost) throw new Error('virtio rings need a little-endian host');
  let view = halfWordViews.get(ram.buffer);
  if (view === undefined) {
    view = new Uint16Array(ram.buffer);
    halfWordViews.set(ram.buffer, view);
  }
  return view;
}

/** Atomically loads the 2-aligned u16 at `address` (an idx or event field). Throws RangeError outside RAM. */
export function loadRingIndex(ram: Ram, address: number): number {
  return Atomics.load(halfWords(ram), halfWordIndex(ram, address));
}

/** Atomically stores the 2-aligned u16 at `address` (an idx or event field). */
export function storeRingIndex(ram: Ram, address: number, value: number): void {
  Atomics.store(halfWords(ram), halfWordIndex(ram, address), value & 0xffff);
}
