// A real driver in a worker thread against a device model in this thread: register
// writes trap across threads, notifications are posted, interrupts ring the worker's doorbell.
import { afterEach, describe, expect, it } from 'vitest';
import { HardwareThread } from '../../../hal/cpu.js';
import { VirtioConsole } from '../../../hal/virtio/console.js';
import { DeviceStatus } from '../../../hal/virtio/registers.js';
import { createTestBoard } from '../../../hal/virtio/testing.js';
import { VirtioMmioTransport } from '../../../hal/virtio/transport.js';

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('virtio driver library in a worker thread', () => {
  /** Starts the console model here and the echo driver in a worker; `reply` is its report. */
  function echoThroughWorker(eventIndex: boolean) {
    const ramSize = 1024 * 1024;
    const { ram, doorbells, irq } = createTestBoard(ramSize);
    const output: Uint8Array[] = [];
    const backend = new VirtioConsole({ output: (bytes: Uint8Array) => output.push(bytes) });
    const transport = new VirtioMmioTransport({ ram, irq, interrupt: 9, base: 0x1000_4000, backend });
    cleanups.push(() => transport.close());
    const worker = new HardwareThread(new URL('./fixtures/console_echo_driver.mjs', import.meta.url), {
      name: 'console-echo-driver',
      data: {
        ram: ram.descriptor, registers: transport.descriptor, doorbells: doorbells.buffer, irq: irq.buffer,
        interrupt: 9, slot: 7, dmaStart: ram.base + ramSize / 2, dmaSize: ramSize / 2, eventIndex,
      },
    });
    cleanups.push(() => worker.terminate());
    const reply = new Promise<[{ received: string; status: number; negotiated: bigint }]>((resolve, reject) => {
      worker.on('message', (message) => resolve([message as { received: string; status: number; negotiated: bigint }]));
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the driver thread exited (code ${code}) before it reported`)));
    });
    reply.catch(() => {}); // awaited by the test; avoid an unhandled rejection before that
    return { backend, transport, output: () => new TextDecoder().decode(concatenate(output)), reply };
  }

  it('initializeVirtioDevice in a worker drives the console model: input until end of input, echo to output', async () => {
    const run = echoThroughWorker(false);
    // Input may arrive before the driver posted buffers and is longer than each of them.
    run.backend.pushInput(new TextEncoder().encode('ps\n'));
    run.backend.pushInput(new TextEncoder().encode('echo more than eight bytes\n'));
    run.backend.endInput();
    const [result] = await run.reply;
    expect(result.received).toBe('ps\necho more than eight bytes\n');
    expect(run.output()).toBe('PS\nECHO MORE THAN EIGHT BYTES\n');
    expect(result.status & DeviceStatus.DRIVER_OK).toBe(DeviceStatus.DRIVER_OK);
    expect(run.backend.guestPortOpen).toBe(true);
    expect(run.transport.faults).toEqual([]);
  });

  it('initializeVirtioDevice in a worker with EVENT_IDX moves 32 KiB of input fed while it runs', async () => {
    const run = echoThroughWorker(true);
    const lines = Array.from({ length: 1024 }, (_, index) => `line ${String(index).padStart(4, '0')} of input ......\n`);
    const text = lines.join('');
    for (const line of lines) {
      run.backend.pushInput(new TextEncoder().encode(line));
      await new Promise(setImmediate); // let the device serve the driver between lines
    }
    run.backend.endInput();
    const [result] = await run.reply;
    expect(result.negotiated & (1n << 29n)).toBe(1n << 29n);
    expect(result.received.length).toBe(text.length);
    expect(result.received).toBe(text);
    expect(run.output()).toBe(text.toUpperCase());
    expect(run.transport.faults).toEqual([]);
  });
});

function concatenate(chunks: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return whole;
}
