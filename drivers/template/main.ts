// template: a driver made by `npm run new-driver`, ready to change. As it comes, it drives
// the virtio entropy device (virtio 1.2 §5.4) and serves `random`, one read at a time.
//
// To make it yours: say what it binds to in manifest.json ("match"), bring your device
// up in init, service it in interrupt, and serve what it offers (ipc/interfaces/).

import { DeviceId } from '../../hal/virtio/registers.js';
import { RANDOM_READ_LIMIT, randomInterface } from '../../ipc/interfaces/random.js';
import { DmaArena } from '../lib/dma_arena.js';
import { DmaBuffers } from '../lib/dma_buffers.js';
import { defineDriver } from '../lib/driver.js';
import { CompletionQueue } from '../lib/virtio/completion_queue.js';
import { initializeVirtioDevice, type VirtioDriverTransport } from '../lib/virtio/transport.js';

let device: VirtioDriverTransport | undefined;
let requests: CompletionQueue | undefined;

export default defineDriver({
  /** Brings the device up; the driver is served once this resolves. `driver.start` says fresh or restart. */
  async init(driver) {
    const arena = await DmaArena.obtain(driver, 16 * 1024 + RANDOM_READ_LIMIT);
    device = initializeVirtioDevice(driver.registers, driver.ram, arena, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1, queueSize: 8 });
    const queue = (requests = new CompletionQueue(device.queues[0]!));
    const buffers = DmaBuffers.carve(arena, 1, RANDOM_READ_LIMIT);

    driver.server.serve(randomInterface, {
      read: async ({ bytes }) => {
        const address = await buffers.take();
        try {
          const data = new Uint8Array(bytes);
          for (let filled = 0; filled < bytes;) {
            const length = Math.min(await queue.post([{ address, length: bytes - filled, writable: true }]), bytes - filled);
            if (length === 0) throw new Error('the device returned no bytes');
            data.set(driver.ram.read(address, length), filled);
            filled += length;
          }
          return { data };
        } finally {
          buffers.give(address);
        }
      },
    });
    driver.log.info(`${driver.name}: generation ${driver.generation} (${driver.start} start) on ${driver.device.path}`);
  },

  /** The device raised its interrupt: acknowledge it and finish what it completed. */
  interrupt() {
    device?.takeInterrupt();
    requests?.service();
  },

  /** A clean stop (unload, restart): quiesce the device. */
  stop() {
    requests?.stop();
    device?.reset();
  },
});
