// The virtio-console device as its driver drives it (virtio 1.2 §5.3): port 0 only,
// with MULTIPORT negotiated for the control queues, which is how the device says the
// host side of the port opened or closed (end of input).
//
// Receive buffers stay posted on receiveq0 while the reader keeps up; when `received`
// says the reader is far behind, used receive buffers are held back (the device keeps
// further input) until `resumeInput`. A write's chunks are copied into transmit buffers
// and queued in order; the write completes when the device has handed back the last.

import { ConsoleControlEvent, ConsoleQueue, decodeConsoleControl, encodeConsoleControl } from '../../hal/virtio/console_layout.js';
import { ConsoleFeatureBit, DeviceId, FeatureBit, features, hasFeature } from '../../hal/virtio/registers.js';
import type { Ram } from '../../hal/ram.js';
import type { RegisterWindow } from '../../hal/mmio.js';
import type { DmaArena } from '../lib/dma_arena.js';
import { initializeVirtioDevice, type VirtioDriverTransport } from '../lib/virtio/transport.js';
import type { SplitQueueDriver } from '../lib/virtio/split_queue_driver.js';

const QUEUE_SIZE = 64;
const BUFFER_SIZE = 4096;
const RECEIVE_BUFFERS = 16;
const TRANSMIT_BUFFERS = 16;
const CONTROL_BUFFERS = 8;
const CONTROL_SIZE = 8;
/** Enough for every queue ring and buffer above. */
export const CONSOLE_DMA_BYTES = 4 * 16384 + (RECEIVE_BUFFERS + TRANSMIT_BUFFERS) * BUFFER_SIZE + 2 * CONTROL_BUFFERS * 64;

export interface ConsoleEvents {
  /** Input from the device; false: post no more receive buffers until resumeInput(). */
  received(data: Uint8Array): boolean;
  hostClosed(): void;
}

type Transmit = { address: number; done?: () => void };

export class ConsoleDevice {
  private readonly ram: Ram;
  private readonly transport: VirtioDriverTransport;
  private readonly events: ConsoleEvents;
  private readonly freeTransmit: number[] = [];
  private readonly transmitWaiters: Array<() => void> = [];
  private readonly freeControl: number[] = [];
  /** Receive buffers not reposted while the reader is behind. */
  private readonly heldReceive: number[] = [];
  private receivePaused = false;
  readonly multiport: boolean;

  constructor(registers: RegisterWindow, ram: Ram, arena: DmaArena, events: ConsoleEvents) {
    this.ram = ram;
    this.events = events;
    this.transport = initializeVirtioDevice(registers, ram, { allocate: (bytes, alignment) => arena.allocate(bytes, alignment) }, {
      deviceId: DeviceId.CONSOLE,
      features: features(FeatureBit.VERSION_1, ConsoleFeatureBit.MULTIPORT),
      queues: 4,
      queueSize: QUEUE_SIZE,
    });
    this.multiport = hasFeature(this.transport.negotiated, ConsoleFeatureBit.MULTIPORT);
    for (let i = 0; i < RECEIVE_BUFFERS; i++) this.post(this.queue(ConsoleQueue.RECEIVE), arena.allocate(BUFFER_SIZE, 16), BUFFER_SIZE);
    for (let i = 0; i < TRANSMIT_BUFFERS; i++) this.freeTransmit.push(arena.allocate(BUFFER_SIZE, 16));
    if (this.multiport) {
      for (let i = 0; i < CONTROL_BUFFERS; i++) this.post(this.queue(ConsoleQueue.CONTROL_RECEIVE), arena.allocate(64, 16), 64);
      for (let i = 0; i < CONTROL_BUFFERS; i++) this.freeControl.push(arena.allocate(64, 16));
      this.sendControl(ConsoleControlEvent.DEVICE_READY, 1);
    }
    this.queue(ConsoleQueue.RECEIVE).kick();
    this.queue(ConsoleQueue.CONTROL_RECEIVE)?.kick();
  }

  /** Sends `data`; resolves once the device has taken every byte. Call one write at a time. */
  async write(data: Uint8Array): Promise<void> {
    const queue = this.queue(ConsoleQueue.TRANSMIT);
    const taken: Array<Promise<void>> = [];
    for (let offset = 0; offset < data.length; offset += BUFFER_SIZE) {
      const chunk = data.subarray(offset, offset + BUFFER_SIZE);
      const address = await this.transmitBuffer();
      this.ram.write(address, chunk);
      taken.push(new Promise<void>((resolve) => {
        queue.add([{ address, length: chunk.length, writable: false }], { address, done: resolve } satisfies Transmit);
      }));
      queue.kick();
    }
    await Promise.all(taken);
  }

  /** The reader caught up: post the held receive buffers again. */
  resumeInput(): void {
    this.receivePaused = false;
    const receive = this.queue(ConsoleQueue.RECEIVE);
    for (const address of this.heldReceive.splice(0)) this.post(receive, address, BUFFER_SIZE);
    receive.kick();
  }

  /** Services the device after an interrupt: input, finished output, control messages. */
  service(): void {
    this.transport.takeInterrupt();
    this.drainReceive();
    for (const used of this.queue(ConsoleQueue.TRANSMIT).takeUsed()) {
      const transmit = used.token as Transmit;
      this.releaseTransmit(transmit.address);
      transmit.done?.();
    }
    if (!this.multiport) return;
    for (const used of this.queue(ConsoleQueue.CONTROL_TRANSMIT).takeUsed()) this.freeControl.push(used.token as number);
    const control = this.queue(ConsoleQueue.CONTROL_RECEIVE);
    for (const used of control.takeUsed()) {
      const address = used.token as number;
      if (used.length >= CONTROL_SIZE) this.handleControl(decodeConsoleControl(this.ram.read(address, CONTROL_SIZE)));
      this.post(control, address, 64);
    }
    control.kick();
  }

  /** Throws a queue fault if the queues in RAM are not as this driver left them. */
  audit(): void {
    this.transport.audit();
  }

  reset(): void {
    this.transport.reset();
  }

  private drainReceive(): void {
    const receive = this.queue(ConsoleQueue.RECEIVE);
    for (const used of receive.takeUsed()) {
      const address = used.token as number;
      if (used.length > 0 && !this.events.received(this.ram.read(address, Math.min(used.length, BUFFER_SIZE)))) this.receivePaused = true;
      if (this.receivePaused) this.heldReceive.push(address);
      else this.post(receive, address, BUFFER_SIZE);
    }
    receive.kick();
  }

  private handleControl(message: { id: number; event: number; value: number }): void {
    if (message.id !== 0) return;
    switch (message.event) {
      case ConsoleControlEvent.DEVICE_ADD:
        this.sendControl(ConsoleControlEvent.PORT_READY, 1);
        return;
      case ConsoleControlEvent.CONSOLE_PORT:
        this.sendControl(ConsoleControlEvent.PORT_OPEN, 1);
        return;
      case ConsoleControlEvent.PORT_OPEN:
        if (message.value === 0) {
          // The device sends this only once every input byte is in receiveq0's used ring.
          this.drainReceive();
          this.events.hostClosed();
        }
        return;
      default:
        return;
    }
  }

  private sendControl(event: number, value: number): void {
    const address = this.freeControl.pop();
    if (address === undefined) return;
    this.ram.write(address, encodeConsoleControl({ id: 0, event, value }));
    const queue = this.queue(ConsoleQueue.CONTROL_TRANSMIT);
    queue.add([{ address, length: CONTROL_SIZE, writable: false }], address);
    queue.kick();
  }

  private post(queue: SplitQueueDriver, address: number, length: number): void {
    queue.add([{ address, length, writable: true }], address);
  }

  private transmitBuffer(): Promise<number> {
    const address = this.freeTransmit.pop();
    if (address !== undefined) return Promise.resolve(address);
    return new Promise((resolve) => this.transmitWaiters.push(() => resolve(this.freeTransmit.pop()!)));
  }

  private releaseTransmit(address: number): void {
    this.freeTransmit.push(address);
    this.transmitWaiters.shift()?.();
  }

  private queue(index: number): SplitQueueDriver {
    return this.transport.queues[index]!;
  }
}
