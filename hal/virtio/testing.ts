// Helpers for tests of virtio devices and drivers: a small board (RAM, doorbells,
// interrupt controller), a bump allocator for queue and buffer memory, and a
// same-thread register window so one test thread can play both driver and device.

import { DoorbellPage } from '../doorbells.js';
import { InterruptController } from '../irq.js';
import { RegisterWindow } from '../mmio.js';
import { Ram } from '../ram.js';
import type { VirtioMmioTransport } from './transport.js';

export interface TestBoard {
  readonly ram: Ram;
  readonly doorbells: DoorbellPage;
  readonly irq: InterruptController;
}

/** RAM of `size` bytes at the default base, a doorbell page and an interrupt controller. */
export function createTestBoard(size = 1024 * 1024): TestBoard {
  const ram = Ram.allocate(size);
  const doorbells = new DoorbellPage();
  return { ram, doorbells, irq: new InterruptController(doorbells) };
}

/** Hands out zeroed, aligned pieces of [start, start + size) in guest RAM, never freeing. */
export class BumpAllocator {
  private readonly ram: Ram;
  private next: number;
  private readonly end: number;

  constructor(ram: Ram, start = ram.base, size = ram.size) {
    ram.offset(start, size);
    this.ram = ram;
    this.next = start;
    this.end = start + size;
  }

  allocate(bytes: number, alignment: number): number {
    const address = Math.ceil(this.next / alignment) * alignment;
    if (address + bytes > this.end) throw new RangeError(`allocator exhausted: ${bytes} bytes wanted`);
    this.ram.fill(address, bytes, 0);
    this.next = address + bytes;
    return address;
  }
}

/** A driver-side window whose trapped writes `transport` applies at once, in this thread. */
export function sameThreadWindow(transport: VirtioMmioTransport): RegisterWindow {
  return new RegisterWindow(transport.descriptor, { serviceInline: () => { transport.serviceRegisters(); } });
}
