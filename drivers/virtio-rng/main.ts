// virtio-rng driver (virtio 1.2 §5.4): the `random` service, filled by the entropy device.
//
// Each read borrows a DMA buffer, posts it device-writable on the one request queue and
// copies out what the device filled, until the caller has every byte it asked for.

import { DeviceId } from '../../hal/virtio/registers.js';
import { DeviceIoError } from '../../ipc/interfaces/block.js';
import { RANDOM_READ_LIMIT, randomInterface } from '../../ipc/interfaces/random.js';
import { DmaArena } from '../lib/dma_arena.js';
import { DmaBuffers } from '../lib/dma_buffers.js';
import { defineDriver } from '../lib/driver.js';
import { CompletionQueue } from '../lib/virtio/completion_queue.js';
import { initializeVirtioDevice, type VirtioDriverTransport } from '../lib/virtio/transport.js';

const BUFFERS = 4;
let device: VirtioDriverTransport | undefined;
let requests: CompletionQueue | undefined;

export default defineDriver({
  async init(driver) {
    const arena = await DmaArena.obtain(driver, 16 * 1024 + BUFFERS * RANDOM_READ_LIMIT);
    device = initializeVirtioDevice(driver.registers, driver.ram, arena, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1, queueSize: 8 });
    const queue = (requests = new CompletionQueue(device.queues[0]!));
    const buffers = DmaBuffers.carve(arena, BUFFERS, RANDOM_READ_LIMIT);

    driver.server.serve(randomInterface, {
      read: async ({ bytes }) => {
        const address = await buffers.take();
        try {
          const data = new Uint8Array(bytes);
          for (let filled = 0; filled < bytes;) {
            const length = Math.min(await queue.post([{ address, length: bytes - filled, writable: true }]), bytes - filled);
            if (length === 0) throw new DeviceIoError('the entropy device returned no bytes');
            data.set(driver.ram.read(address, length), filled);
            filled += length;
          }
          return { data };
        } finally {
          buffers.give(address);
        }
      },
    });
  },
  audit() {
    device?.audit();
  },
  interrupt() {
    device?.takeInterrupt();
    requests?.service();
  },
  stop() {
    requests?.stop();
    device?.reset();
  },
});
