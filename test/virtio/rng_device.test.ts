// The entropy model driven by the real driver library in this thread.
import { afterEach, describe, expect, it } from 'vitest';
import { initializeVirtioDevice } from '../../drivers/lib/virtio/transport.js';
import { DeviceId } from '../../hal/virtio/registers.js';
import { ENTROPY_REQUEST_LIMIT, VirtioEntropy } from '../../hal/virtio/rng.js';
import { BumpAllocator, createTestBoard, sameThreadWindow } from '../../hal/virtio/testing.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

function entropyWithGuest() {
  const { ram, irq } = createTestBoard(1024 * 1024);
  const transport = new VirtioMmioTransport({ ram, irq, interrupt: 8, base: 0x1000_3000, backend: new VirtioEntropy() });
  cleanups.push(() => transport.close());
  const dma = new BumpAllocator(ram);
  const device = initializeVirtioDevice(sameThreadWindow(transport), ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 });
  const queue = device.queues[0]!;
  return {
    ram,
    /** Posts writable buffers of the given sizes, kicks, returns [length written, bytes] per buffer. */
    request(...sizes: number[]): [number, Uint8Array][] {
      const addresses = sizes.map((size) => dma.allocate(size, 8));
      addresses.forEach((address, index) => queue.add([{ address, length: sizes[index]!, writable: true }], index));
      queue.kick();
      transport.serviceRegisters();
      return queue.takeUsed().map((used) => [used.length, ram.read(addresses[used.token as number]!, sizes[used.token as number]!)]);
    },
  };
}

describe('VirtioEntropy', () => {
  it('VirtioEntropy fills every posted buffer with random bytes', () => {
    const guest = entropyWithGuest();
    const answers = guest.request(64, 64, 1);
    expect(answers.map(([length]) => length)).toEqual([64, 64, 1]);
    const [first, second] = answers.map(([, bytes]) => Buffer.from(bytes));
    expect(first!.equals(Buffer.alloc(64))).toBe(false);
    expect(first!.equals(second!)).toBe(false);
  });

  it('VirtioEntropy fills at most 64 KiB of one request and says how much', () => {
    const guest = entropyWithGuest();
    const [[length, bytes]] = guest.request(ENTROPY_REQUEST_LIMIT + 4096) as [[number, Uint8Array]];
    expect(length).toBe(ENTROPY_REQUEST_LIMIT);
    expect(bytes.subarray(ENTROPY_REQUEST_LIMIT).every((byte) => byte === 0)).toBe(true);
  });
});
