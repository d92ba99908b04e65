// The virtio-net model driven by the real driver library (drivers/lib/virtio) in this thread.
import { afterEach, describe, expect, it } from 'vitest';
import { initializeVirtioDevice } from '../../drivers/lib/virtio/transport.js';
import { linkPair } from '../../hal/net/link_pair.js';
import { VirtioNet, type VirtioNetOptions } from '../../hal/virtio/net.js';
import { NET_CONFIG, NET_HEADER, NET_RECEIVE_BUFFER_BYTES, NetFeatureBit, NetQueue, NetStatus } from '../../hal/virtio/net_layout.js';
import { DeviceId, FeatureBit, features, hasFeature } from '../../hal/virtio/registers.js';
import { BumpAllocator, createTestBoard, sameThreadWindow } from '../../hal/virtio/testing.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';
import { InterruptBit } from '../../hal/virtio/registers.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

const MAC = Uint8Array.from([0x02, 0xba, 0x70, 0x00, 0x00, 0x01]);

/** An Ethernet frame: broadcast destination, MAC source, IPv4 type, `payload` bytes. */
function frame(payload: number, fill = 0xab): Uint8Array {
  const bytes = new Uint8Array(14 + payload).fill(fill);
  bytes.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  bytes.set(MAC, 6);
  bytes.set([0x08, 0x00], 12);
  return bytes;
}

function netWithGuest(options: Partial<VirtioNetOptions> = {}, withLink = true) {
  const [deviceEnd] = linkPair();
  const backend = new VirtioNet({ mac: MAC, ...(withLink ? { link: deviceEnd } : {}), ...options });
  const { ram, irq } = createTestBoard(4 * 1024 * 1024);
  const transport = new VirtioMmioTransport({ ram, irq, interrupt: 5, base: 0x1000_5000, backend });
  cleanups.push(() => transport.close());
  const dma = new BumpAllocator(ram);
  const device = initializeVirtioDevice(sameThreadWindow(transport), ram, dma, {
    deviceId: DeviceId.NETWORK, features: features(NetFeatureBit.MAC, NetFeatureBit.STATUS, NetFeatureBit.MTU), queues: 2, queueSize: 16,
  });
  return {
    backend, transport, device, link: deviceEnd, ram,
    postReceive(count: number, length = NET_RECEIVE_BUFFER_BYTES) {
      for (let index = 0; index < count; index++) {
        const address = dma.allocate(length, 8);
        device.queues[NetQueue.RECEIVE]!.add([{ address, length, writable: true }], address);
      }
      device.queues[NetQueue.RECEIVE]!.kick();
      transport.serviceRegisters();
    },
    transmit(bytes: Uint8Array, header = NET_HEADER.encode({})) {
      const address = dma.allocate(header.length + bytes.length, 8);
      ram.write(address, header);
      ram.write(address + header.length, bytes);
      device.queues[NetQueue.TRANSMIT]!.add([{ address, length: header.length, writable: false }, { address: address + header.length, length: bytes.length, writable: false }], address);
      device.queues[NetQueue.TRANSMIT]!.kick();
      transport.serviceRegisters();
    },
    received(): { header: ReturnType<typeof NET_HEADER.decode>; frame: Uint8Array }[] {
      return device.queues[NetQueue.RECEIVE]!.takeUsed().map((used) => {
        const bytes = ram.read(used.token as number, used.length);
        // A buffer returned empty held a frame that did not fit.
        if (used.length === 0) return { header: NET_HEADER.decode(new Uint8Array(NET_HEADER.size)), frame: bytes };
        return { header: NET_HEADER.decode(bytes), frame: bytes.subarray(NET_HEADER.size) };
      });
    },
  };
}

describe('VirtioNet', () => {
  it('VirtioNet offers VERSION_1, MAC, STATUS and MTU and no offloads, and shows its MAC and link in config space', () => {
    const guest = netWithGuest();
    const offered = guest.backend.features;
    for (const bit of [FeatureBit.VERSION_1, NetFeatureBit.MAC, NetFeatureBit.STATUS, NetFeatureBit.MTU]) expect(hasFeature(offered, bit)).toBe(true);
    for (const bit of [NetFeatureBit.CSUM, NetFeatureBit.GUEST_CSUM, NetFeatureBit.MRG_RXBUF, NetFeatureBit.CTRL_VQ, NetFeatureBit.MQ]) expect(hasFeature(offered, bit)).toBe(false);
    const mac = [0, 1, 2, 3, 4, 5].map((index) => guest.device.readConfig8(index));
    expect(mac).toEqual([...MAC]);
    expect(guest.device.readConfig16(NET_CONFIG.offsetOf('status')) & NetStatus.LINK_UP).toBe(NetStatus.LINK_UP);
    expect(guest.device.readConfig16(NET_CONFIG.offsetOf('mtu'))).toBe(1500);
  });

  it('VirtioNet without a host link reports the link down and drops what is sent', () => {
    const guest = netWithGuest({}, false);
    expect(guest.device.readConfig16(NET_CONFIG.offsetOf('status')) & NetStatus.LINK_UP).toBe(0);
    guest.transmit(frame(46));
    expect(guest.backend.counts).toMatchObject({ transmitted: 1, droppedLinkDown: 1 });
  });

  it('VirtioNet sends the frame after the 12-byte header to the link, whole', () => {
    const guest = netWithGuest();
    const sent = frame(100, 0x42);
    guest.transmit(sent);
    expect(guest.device.readConfig16(NET_CONFIG.offsetOf('status'))).toBe(NetStatus.LINK_UP);
    expect(guest.link.sent.map((bytes) => Buffer.from(bytes).toString('hex'))).toEqual([Buffer.from(sent).toString('hex')]);
    expect(guest.backend.counts.transmitted).toBe(1);
  });

  it('VirtioNet keeps frames that arrive before receive buffers, then delivers them in order with num_buffers 1', () => {
    const guest = netWithGuest();
    guest.link.inject(frame(46, 1));
    guest.link.inject(frame(1500, 2));
    expect(guest.backend.waitingFrames).toBe(2);
    guest.postReceive(4);
    const received = guest.received();
    expect(received.map(({ frame: bytes }) => [bytes.length, bytes[20]])).toEqual([[60, 1], [1514, 2]]);
    expect(received.every(({ header }) => header.buffers === 1 && header.flags === 0 && header.gsoType === 0)).toBe(true);
  });

  it('VirtioNet drops (and counts) malformed transmits and frames that do not fit a receive buffer, and goes on', () => {
    const guest = netWithGuest();
    guest.transmit(new Uint8Array(10));
    guest.transmit(frame(1501));
    guest.transmit(frame(46), NET_HEADER.encode({ flags: 1 }));
    expect(guest.backend.counts.droppedMalformed).toBe(3);
    expect(guest.transport.faults.map((fault) => fault.severity)).toEqual(['warning', 'warning', 'warning']);
    guest.postReceive(1, 100);
    guest.link.inject(frame(200));
    expect(guest.received()[0]!.frame).toHaveLength(0);
    guest.postReceive(1);
    guest.link.inject(frame(200));
    expect(guest.received()[0]!.frame).toHaveLength(214);
    expect(guest.backend.counts.droppedMalformed).toBe(4);
  });

  it('VirtioNet raises the configuration interrupt when the link goes down and up', () => {
    const guest = netWithGuest();
    guest.device.takeInterrupt();
    guest.link.setUp(false);
    expect(guest.device.takeInterrupt() & InterruptBit.CONFIG_CHANGE).toBe(InterruptBit.CONFIG_CHANGE);
    expect(guest.device.readConfig16(NET_CONFIG.offsetOf('status')) & NetStatus.LINK_UP).toBe(0);
    guest.link.setUp(true);
    expect(guest.device.readConfig16(NET_CONFIG.offsetOf('status')) & NetStatus.LINK_UP).toBe(NetStatus.LINK_UP);
  });

  it('VirtioNet drops frames beyond its waiting limit while no buffers are posted', () => {
    const guest = netWithGuest({ waitingLimit: 3 });
    for (let index = 0; index < 5; index++) guest.link.inject(frame(46, index));
    expect(guest.backend.counts.droppedNoBuffer).toBe(2);
    guest.postReceive(8);
    expect(guest.received().map(({ frame: bytes }) => bytes[20])).toEqual([0, 1, 2]);
  });

  it('VirtioNet impairs both directions by its seed: lost and duplicated frames are counted, and the same seed loses the same frames', () => {
    const run = (seed: number) => {
      const guest = netWithGuest({ impairment: { loss: 0.3, duplicate: 0.2, seed } });
      // No more than the queues' 16 descriptors (a transmit takes two), so none has to be reclaimed.
      guest.postReceive(16);
      for (let index = 0; index < 8; index++) guest.transmit(frame(46, index));
      for (let index = 0; index < 12; index++) guest.link.inject(frame(46, 100 + index));
      const sent = guest.link.sent.map((bytes) => bytes[20]!);
      const received = guest.received().map(({ frame: bytes }) => bytes[20]!);
      return { sent, received, counts: { ...guest.backend.impairment.counts } };
    };
    const first = run(5);
    expect(first.counts.lost).toBeGreaterThan(0);
    expect(first.counts.duplicated).toBeGreaterThan(0);
    // What reached each side is what was neither lost nor, once more, duplicated.
    expect(first.sent.length + first.received.length).toBe(20 - first.counts.lost + first.counts.duplicated);
    expect(run(5)).toEqual(first);
    expect(run(6).sent).not.toEqual(first.sent);
  });
});
