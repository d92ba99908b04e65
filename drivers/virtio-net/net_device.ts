// The virtio-net device as its driver drives it (virtio 1.2 §5.1): one receive and one
// transmit queue, MAC and link status from config space, no offloads.
//
// Every receive buffer (RECEIVE_BUFFERS of 1526 bytes: the 12-byte header and the
// longest frame) stays posted; a used one is copied out and posted again at once. A
// transmit copies the frame after a zeroed header into one of TRANSMIT_BUFFERS and
// resolves when the device hands it back. A configuration interrupt re-reads the link.

import type { RegisterWindow } from '../../hal/mmio.js';
import type { Ram } from '../../hal/ram.js';
import { NET_CONFIG, NET_HEADER, NET_MTU, NET_RECEIVE_BUFFER_BYTES, NetFeatureBit, NetQueue, NetStatus } from '../../hal/virtio/net_layout.js';
import { DeviceId, features, hasFeature, InterruptBit } from '../../hal/virtio/registers.js';
import type { DmaArena } from '../lib/dma_arena.js';
import { DmaBuffers } from '../lib/dma_buffers.js';
import { CompletionQueue } from '../lib/virtio/completion_queue.js';
import { initializeVirtioDevice, type VirtioDriverTransport } from '../lib/virtio/transport.js';

const QUEUE_SIZE = 128;
const RECEIVE_BUFFERS = 64;
const TRANSMIT_BUFFERS = 32;
/** Enough for both rings and every buffer. */
export const NET_DMA_BYTES = 2 * 16384 + (RECEIVE_BUFFERS + TRANSMIT_BUFFERS) * (NET_RECEIVE_BUFFER_BYTES + 16);

export interface NetDeviceEvents {
  received(frame: Uint8Array): void;
  linkChanged(up: boolean): void;
}

export class VirtioNetDevice {
  readonly mac: Uint8Array;
  readonly mtu: number;
  private readonly ram: Ram;
  private readonly transport: VirtioDriverTransport;
  private readonly events: NetDeviceEvents;
  private readonly transmit: CompletionQueue;
  private readonly transmitBuffers: DmaBuffers;
  private readonly statusNegotiated: boolean;

  constructor(registers: RegisterWindow, ram: Ram, arena: DmaArena, events: NetDeviceEvents) {
    this.ram = ram;
    this.events = events;
    this.transport = initializeVirtioDevice(registers, ram, { allocate: (bytes, alignment) => arena.allocate(bytes, alignment) }, {
      deviceId: DeviceId.NETWORK,
      features: features(NetFeatureBit.MAC, NetFeatureBit.STATUS, NetFeatureBit.MTU),
      queues: 2,
      queueSize: QUEUE_SIZE,
    });
    const negotiated = this.transport.negotiated;
    // Without F_MAC the driver would pick an address itself (§5.1.5); baton's device always offers one.
    if (!hasFeature(negotiated, NetFeatureBit.MAC)) throw new Error('the device offers no MAC address (VIRTIO_NET_F_MAC)');
    this.mac = Uint8Array.from([0, 1, 2, 3, 4, 5].map((index) => this.transport.readConfig8(index)));
    this.mtu = hasFeature(negotiated, NetFeatureBit.MTU) ? this.transport.readConfig16(NET_CONFIG.offsetOf('mtu')) : NET_MTU;
    this.statusNegotiated = hasFeature(negotiated, NetFeatureBit.STATUS);
    const receive = this.transport.queues[NetQueue.RECEIVE]!;
    for (let index = 0; index < RECEIVE_BUFFERS; index++) {
      const address = arena.allocate(NET_RECEIVE_BUFFER_BYTES, 16);
      receive.add([{ address, length: NET_RECEIVE_BUFFER_BYTES, writable: true }], address);
    }
    receive.kick();
    this.transmit = new CompletionQueue(this.transport.queues[NetQueue.TRANSMIT]!);
    this.transmitBuffers = DmaBuffers.carve(arena, TRANSMIT_BUFFERS, NET_RECEIVE_BUFFER_BYTES);
  }

  /** Link state: from config space with F_STATUS, else always up (§5.1.4). */
  get linkUp(): boolean {
    if (!this.statusNegotiated) return true;
    return (this.transport.readConfig16(NET_CONFIG.offsetOf('status')) & NetStatus.LINK_UP) !== 0;
  }

  /** Sends one frame; resolves when the device has taken it. */
  async send(frame: Uint8Array): Promise<void> {
    const address = await this.transmitBuffers.take();
    try {
      this.ram.write(address, NET_HEADER.encode({}));
      this.ram.write(address + NET_HEADER.size, frame);
      await this.transmit.post([{ address, length: NET_HEADER.size + frame.length, writable: false }]);
    } finally {
      this.transmitBuffers.give(address);
    }
  }

  /** After an interrupt: frames received, transmits finished, a link change. */
  service(): void {
    const bits = this.transport.takeInterrupt();
    if ((bits & InterruptBit.CONFIG_CHANGE) !== 0) this.events.linkChanged(this.linkUp);
    const receive = this.transport.queues[NetQueue.RECEIVE]!;
    let reposted = 0;
    for (const used of receive.takeUsed()) {
      const address = used.token as number;
      if (used.length > NET_HEADER.size) this.events.received(this.ram.read(address + NET_HEADER.size, Math.min(used.length, NET_RECEIVE_BUFFER_BYTES) - NET_HEADER.size));
      receive.add([{ address, length: NET_RECEIVE_BUFFER_BYTES, writable: true }], address);
      reposted++;
    }
    if (reposted > 0) receive.kick();
    this.transmit.service();
  }

  /** Throws a queue fault if the queues in RAM are not as this driver left them. */
  audit(): void {
    this.transport.audit();
  }

  reset(): void {
    this.transmit.stop();
    this.transport.reset();
  }
}
