// The console model driven by the real driver library (drivers/lib/virtio) in this thread.
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { initializeVirtioDevice } from '../../drivers/lib/virtio/transport.js';
import { VirtioConsole, type VirtioConsoleOptions } from '../../hal/virtio/console.js';
import {
  ConsoleControlEvent, type ConsoleControlMessage, ConsoleQueue, decodeConsoleControl, encodeConsoleControl,
} from '../../hal/virtio/console_layout.js';
import { ConsoleFeatureBit, DeviceId, feature } from '../../hal/virtio/registers.js';
import { BumpAllocator, createTestBoard, sameThreadWindow } from '../../hal/virtio/testing.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytesOf = (value: string): Uint8Array => new TextEncoder().encode(value);

/** A console device and a guest driving it through the driver library, both in this thread. */
function consoleWithGuest(options: Partial<VirtioConsoleOptions> & { multiport?: boolean } = {}) {
  const output: Uint8Array[] = [];
  const backend = new VirtioConsole({ output: (bytes) => output.push(bytes), ...options });
  const { ram, irq } = createTestBoard();
  const transport = new VirtioMmioTransport({ ram, irq, interrupt: 2, base: 0x1000_1000, backend });
  cleanups.push(() => transport.close());
  const dma = new BumpAllocator(ram);
  const multiport = options.multiport ?? false;
  const connect = () => initializeVirtioDevice(sameThreadWindow(transport), ram, dma, {
    deviceId: DeviceId.CONSOLE, features: multiport ? feature(ConsoleFeatureBit.MULTIPORT) : 0n, queues: multiport ? 4 : 2, queueSize: 8,
  });
  let device = connect();
  const guest = {
    backend,
    transport,
    output: () => text(Buffer.concat(output)),
    reconnect() { device.reset(); device = connect(); },
    /** Posts an empty `length`-byte buffer on queue `index` for the device to fill. */
    post(index: number, length: number) {
      const address = dma.allocate(length, 8);
      device.queues[index]!.add([{ address, length, writable: true }], address);
    },
    send(index: number, bytes: Uint8Array) {
      const address = dma.allocate(bytes.length, 8);
      ram.write(address, bytes);
      device.queues[index]!.add([{ address, length: bytes.length, writable: false }], address);
    },
    /** Notifies the device of queue `index` and lets it run. */
    kick(index: number) {
      device.queues[index]!.kick();
      transport.serviceRegisters();
    },
    /** What the device returned on queue `index`: the bytes it wrote into each buffer. */
    take(index: number): Uint8Array[] {
      return device.queues[index]!.takeUsed().map((used) => ram.read(used.token as number, used.length));
    },
    control(message: ConsoleControlMessage) {
      guest.send(ConsoleQueue.CONTROL_TRANSMIT, encodeConsoleControl(message));
      guest.kick(ConsoleQueue.CONTROL_TRANSMIT);
    },
    controlReceived(): ConsoleControlMessage[] {
      return guest.take(ConsoleQueue.CONTROL_RECEIVE).map(decodeConsoleControl);
    },
  };
  return guest;
}

describe('VirtioConsole', () => {
  it('VirtioConsole keeps input that arrives before receive buffers and delivers it in order', () => {
    const guest = consoleWithGuest();
    guest.backend.pushInput(bytesOf('hello, '));
    guest.backend.pushInput(bytesOf('world'));
    expect(guest.backend.bufferedInput).toBe(12);
    guest.post(ConsoleQueue.RECEIVE, 8);
    guest.post(ConsoleQueue.RECEIVE, 8);
    guest.post(ConsoleQueue.RECEIVE, 8);
    guest.kick(ConsoleQueue.RECEIVE);
    expect(guest.take(ConsoleQueue.RECEIVE).map(text)).toEqual(['hello, w', 'orld']);
    guest.backend.pushInput(bytesOf('!'));
    expect(guest.take(ConsoleQueue.RECEIVE).map(text)).toEqual(['!']);
    expect(guest.backend.bufferedInput).toBe(0);
  });

  it('VirtioConsole writes what the driver transmits to the output', () => {
    const guest = consoleWithGuest();
    guest.send(ConsoleQueue.TRANSMIT, bytesOf('$ ps\n'));
    guest.send(ConsoleQueue.TRANSMIT, bytesOf('PID 1\n'));
    guest.kick(ConsoleQueue.TRANSMIT);
    expect(guest.output()).toBe('$ ps\nPID 1\n');
    expect(guest.take(ConsoleQueue.TRANSMIT).map((bytes) => bytes.length)).toEqual([0, 0]);
  });

  it('VirtioConsole writes to a Writable output', async () => {
    const sink = new PassThrough();
    const guest = consoleWithGuest({ output: sink });
    const data = once(sink, 'data');
    guest.send(ConsoleQueue.TRANSMIT, bytesOf('to the host'));
    guest.kick(ConsoleQueue.TRANSMIT);
    const [chunk] = await data;
    expect(text(chunk as Uint8Array)).toBe('to the host');
  });

  it('VirtioConsole survives a failing Writable output and keeps completing transmit buffers', async () => {
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback(new Error('write EPIPE')) });
    const guest = consoleWithGuest({ output: sink });
    const failed = once(sink, 'error');
    guest.send(ConsoleQueue.TRANSMIT, bytesOf('first'));
    guest.kick(ConsoleQueue.TRANSMIT);
    await failed;
    guest.send(ConsoleQueue.TRANSMIT, bytesOf('second'));
    guest.kick(ConsoleQueue.TRANSMIT);
    expect(guest.take(ConsoleQueue.TRANSMIT)).toHaveLength(2);
    expect(guest.transport.faults.at(-1)?.message).toMatch(/EPIPE/);
  });

  it('VirtioConsole keeps undelivered input across a device reset', () => {
    const guest = consoleWithGuest();
    guest.backend.pushInput(bytesOf('survives'));
    guest.reconnect();
    guest.post(ConsoleQueue.RECEIVE, 16);
    guest.kick(ConsoleQueue.RECEIVE);
    expect(guest.take(ConsoleQueue.RECEIVE).map(text)).toEqual(['survives']);
  });

  it('VirtioConsole runs the MULTIPORT handshake and reports end of input with PORT_OPEN 0 after the last byte', () => {
    const guest = consoleWithGuest({ multiport: true });
    for (let index = 0; index < 4; index++) guest.post(ConsoleQueue.CONTROL_RECEIVE, 8);
    guest.kick(ConsoleQueue.CONTROL_RECEIVE);
    guest.backend.pushInput(bytesOf('ps\n'));
    guest.backend.endInput();
    expect(guest.backend.inputEnded).toBe(true);

    guest.control({ id: 0, event: ConsoleControlEvent.DEVICE_READY, value: 1 });
    expect(guest.controlReceived()).toEqual([{ id: 0, event: ConsoleControlEvent.DEVICE_ADD, value: 0 }]);
    guest.control({ id: 0, event: ConsoleControlEvent.PORT_READY, value: 1 });
    expect(guest.controlReceived()).toEqual([
      { id: 0, event: ConsoleControlEvent.CONSOLE_PORT, value: 1 },
      { id: 0, event: ConsoleControlEvent.PORT_OPEN, value: 1 }, // input still buffered
    ]);
    guest.control({ id: 0, event: ConsoleControlEvent.PORT_OPEN, value: 1 });
    expect(guest.backend.guestPortOpen).toBe(true);

    guest.post(ConsoleQueue.RECEIVE, 64);
    guest.kick(ConsoleQueue.RECEIVE);
    expect(guest.take(ConsoleQueue.RECEIVE).map(text)).toEqual(['ps\n']);
    expect(guest.controlReceived()).toEqual([{ id: 0, event: ConsoleControlEvent.PORT_OPEN, value: 0 }]);
  });

  it('VirtioConsole announces the port closed at once when input ended and was drained before PORT_READY', () => {
    const guest = consoleWithGuest({ multiport: true });
    for (let index = 0; index < 4; index++) guest.post(ConsoleQueue.CONTROL_RECEIVE, 8);
    guest.kick(ConsoleQueue.CONTROL_RECEIVE);
    guest.backend.endInput();
    guest.control({ id: 0, event: ConsoleControlEvent.DEVICE_READY, value: 1 });
    guest.control({ id: 0, event: ConsoleControlEvent.PORT_READY, value: 1 });
    expect(guest.controlReceived().map((message) => [message.event, message.value])).toEqual([
      [ConsoleControlEvent.DEVICE_ADD, 0], [ConsoleControlEvent.CONSOLE_PORT, 1], [ConsoleControlEvent.PORT_OPEN, 0],
    ]);
  });

  it('VirtioConsole reports control messages for unknown ports without breaking', () => {
    const guest = consoleWithGuest({ multiport: true });
    guest.control({ id: 5, event: ConsoleControlEvent.PORT_READY, value: 1 });
    expect(guest.transport.faults.at(-1)?.message).toMatch(/unknown port 5/);
    guest.send(ConsoleQueue.TRANSMIT, bytesOf('still fine'));
    guest.kick(ConsoleQueue.TRANSMIT);
    expect(guest.output()).toBe('still fine');
  });

  it('VirtioConsole reads a Readable input, pauses it while too much waits, and learns its end', async () => {
    const input = new PassThrough();
    const guest = consoleWithGuest({ input, inputHighWater: 4 });
    const arrived = once(input, 'data');
    input.write('0123456789');
    await arrived;
    expect(guest.backend.bufferedInput).toBe(10);
    expect(input.isPaused()).toBe(true);
    guest.post(ConsoleQueue.RECEIVE, 16);
    guest.kick(ConsoleQueue.RECEIVE);
    expect(input.isPaused()).toBe(false);
    expect(guest.take(ConsoleQueue.RECEIVE).map(text)).toEqual(['0123456789']);
    const ended = once(input, 'end');
    input.end();
    await ended;
    expect(guest.backend.inputEnded).toBe(true);
    expect(() => guest.backend.pushInput(bytesOf('late'))).toThrow(/after endInput/);
  });
});
