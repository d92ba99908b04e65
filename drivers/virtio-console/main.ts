// virtio-console driver: the board's terminals (console, control socket, log file) as
// chardev services. The char-driver library serves the interface; this file only moves
// bytes between the service and the device.

import { defineCharDriver } from '../lib/char_driver.js';
import { DmaArena } from '../lib/dma_arena.js';
import { CONSOLE_DMA_BYTES, ConsoleDevice } from './console_device.js';

let device: ConsoleDevice | undefined;

export default defineCharDriver({
  async init(driver) {
    const arena = await DmaArena.obtain(driver, CONSOLE_DMA_BYTES);
    device = new ConsoleDevice(driver.registers, driver.ram, arena, {
      received: (data) => driver.received(data),
      hostClosed: () => driver.hangup(),
    });
  },
  write: (_, data) => device!.write(data),
  resumeInput: () => device?.resumeInput(),
  interrupt: () => device?.service(),
  audit: () => device?.audit(),
  stop: () => device?.reset(),
});
