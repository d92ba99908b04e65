import { afterEach, describe, expect, it } from 'vitest';
import { DoorbellPage } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { Ram } from '../../hal/ram.js';
import { VirtioEntropy } from '../../hal/virtio/rng.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';
import { InvalidArgumentError } from '../../ipc/errors.js';
import { RANDOM_READ_LIMIT, randomInterface } from '../../ipc/interfaces/random.js';
import { ServerHarness } from '../../test/harness/server_harness.js';

const BASE = 0x1000_3000;
const INTERRUPT = 3;

let harness: ServerHarness | undefined;
let transport: VirtioMmioTransport | undefined;
afterEach(async () => {
  await harness?.stop();
  transport?.close();
  harness = undefined;
  transport = undefined;
});

/** The driver alone in a worker, against the real entropy device model in this thread. */
async function startDriver(queueSize?: number) {
  const ram = Ram.allocate(8 * 1024 * 1024);
  const doorbells = new DoorbellPage();
  const interrupts = new InterruptController(doorbells);
  transport = new VirtioMmioTransport({ ram, irq: interrupts, interrupt: INTERRUPT, base: BASE, backend: new VirtioEntropy(queueSize ? { queueSize } : {}) });
  harness = await ServerHarness.start({
    module: 'drivers/virtio-rng/main',
    name: 'virtio-rng',
    ram,
    doorbells,
    interrupts,
    device: { path: `/soc/virtio_mmio@${BASE.toString(16)}`, compatible: ['virtio,mmio'], registers: transport.descriptor, interrupt: INTERRUPT },
  });
  return harness.client(randomInterface);
}

describe('virtio-rng driver', () => {
  it('random.read returns exactly the bytes asked for, and two reads differ', async () => {
    const random = await startDriver();
    const first = await random.read({ bytes: 32 });
    const second = await random.read({ bytes: 32 });
    expect(first.data).toHaveLength(32);
    expect(second.data).toHaveLength(32);
    expect(Buffer.from(first.data).equals(Buffer.from(second.data))).toBe(false);
  });

  it('random.read of the largest size, many at once, fills every byte', async () => {
    const random = await startDriver();
    const replies = await Promise.all(Array.from({ length: 10 }, () => random.read({ bytes: RANDOM_READ_LIMIT })));
    for (const { data } of replies) {
      expect(data).toHaveLength(RANDOM_READ_LIMIT);
      // 16 KiB of CSPRNG output has every byte value; a buffer the device never filled is zeros.
      expect(new Set(data).size).toBe(256);
    }
  });

  it('random.read refuses 0 bytes and more than the limit with INVALID_ARGUMENT', async () => {
    const random = await startDriver();
    await expect(random.read({ bytes: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(random.read({ bytes: RANDOM_READ_LIMIT + 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await random.read({ bytes: 1 })).data).toHaveLength(1);
  });
});
