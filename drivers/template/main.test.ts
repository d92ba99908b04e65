// The driver alone in a worker (test/harness/server_harness.ts) against the real entropy
// device model running here, in the test's thread.

import { afterEach, describe, expect, it } from 'vitest';
import { DoorbellPage } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { Ram } from '../../hal/ram.js';
import { VirtioEntropy } from '../../hal/virtio/rng.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';
import { randomInterface } from '../../ipc/interfaces/random.js';
import { ServerHarness } from '../../test/harness/server_harness.js';
import { harnessModule } from '../../tools/driver_loader.js';

const BASE = 0x1000_4000;
const INTERRUPT = 4;

let harness: ServerHarness | undefined;
let transport: VirtioMmioTransport | undefined;
afterEach(async () => {
  await harness?.stop();
  transport?.close();
  harness = undefined;
  transport = undefined;
});

async function startDriver() {
  const ram = Ram.allocate(8 * 1024 * 1024);
  const doorbells = new DoorbellPage();
  const interrupts = new InterruptController(doorbells);
  transport = new VirtioMmioTransport({ ram, irq: interrupts, interrupt: INTERRUPT, base: BASE, backend: new VirtioEntropy() });
  harness = await ServerHarness.start({
    module: harnessModule(new URL('.', import.meta.url)),
    name: 'template',
    ram,
    doorbells,
    interrupts,
    device: { path: `/soc/virtio_mmio@${BASE.toString(16)}`, compatible: ['virtio,mmio'], registers: transport.descriptor, interrupt: INTERRUPT },
  });
  return harness.client(randomInterface);
}

describe('template driver', () => {
  it('random.read returns the bytes asked for', async () => {
    const random = await startDriver();
    const { data } = await random.read({ bytes: 64 });
    expect(data).toHaveLength(64);
    expect(data.some((byte) => byte !== 0)).toBe(true);
  });

  it('random.read serves concurrent readers one after another', async () => {
    const random = await startDriver();
    const replies = await Promise.all([1, 100, 4096].map((bytes) => random.read({ bytes })));
    expect(replies.map(({ data }) => data.length)).toEqual([1, 100, 4096]);
  });
});
