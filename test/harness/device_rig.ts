// A driver alone in a worker, bound to a real virtio device model running in the test's
// thread: the device side of the harness for driver unit tests.

import { DoorbellPage } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { Ram } from '../../hal/ram.js';
import type { VirtioBackend } from '../../hal/virtio/backend.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';
import { ServerHarness, type FakePeer, type HarnessOptions } from './server_harness.js';

export interface DeviceRig {
  readonly harness: ServerHarness;
  readonly transport: VirtioMmioTransport;
  readonly ram: Ram;
  /** Stops the driver and the device model. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts `module` (below build/, e.g. "drivers/virtio-rng/main") bound to `backend` at `base`. */
export async function startDriverWithDevice(options: {
  module: string;
  name: string;
  backend: VirtioBackend;
  base?: number;
  interrupt?: number;
  config?: Record<string, unknown>;
  system?: HarnessOptions['system'];
  peers?: readonly FakePeer[];
}): Promise<DeviceRig> {
  const base = options.base ?? 0x1000_1000;
  const interrupt = options.interrupt ?? 1;
  const ram = Ram.allocate(8 * 1024 * 1024);
  const doorbells = new DoorbellPage();
  const interrupts = new InterruptController(doorbells);
  const transport = new VirtioMmioTransport({ ram, irq: interrupts, interrupt, base, backend: options.backend });
  try {
    const harness = await ServerHarness.start({
      module: options.module,
      name: options.name,
      ram,
      doorbells,
      interrupts,
      ...(options.config ? { config: options.config } : {}),
      ...(options.system ? { system: options.system } : {}),
      ...(options.peers ? { peers: options.peers } : {}),
      device: { path: `/soc/virtio_mmio@${base.toString(16)}`, compatible: ['virtio,mmio'], registers: transport.descriptor, interrupt },
    });
    return {
      harness,
      transport,
      ram,
      async stop() {
        await harness.stop();
        transport.close();
      },
    };
  } catch (error) {
    transport.close();
    throw error;
  }
}
