// virtio-net driver: the board's network device as a netdev service. The net-driver
// library serves the interface; this file only moves frames between it and the device.

import { defineNetDriver } from '../lib/net_driver.js';
import { DmaArena } from '../lib/dma_arena.js';
import { NET_DMA_BYTES, VirtioNetDevice } from './net_device.js';

let device: VirtioNetDevice | undefined;

export default defineNetDriver({
  async init(driver) {
    const arena = await DmaArena.obtain(driver, NET_DMA_BYTES);
    const nic = (device = new VirtioNetDevice(driver.registers, driver.ram, arena, {
      received: (frame) => driver.received(frame),
      linkChanged: (up) => driver.linkChanged(up),
    }));
    return { mac: nic.mac, mtu: nic.mtu, linkUp: nic.linkUp };
  },
  send: (_, frame) => device!.send(frame),
  interrupt: () => device?.service(),
  audit: () => device?.audit(),
  stop: () => device?.reset(),
});
