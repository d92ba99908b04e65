import { afterEach, describe, expect, it } from 'vitest';
import { linkPair, type TestLink } from '../../hal/net/link_pair.js';
import { VirtioNet } from '../../hal/virtio/net.js';
import { InvalidArgumentError } from '../../ipc/errors.js';
import { netdevInterface } from '../../ipc/interfaces/netdev.js';
import { startDriverWithDevice, type DeviceRig } from '../../test/harness/device_rig.js';

let rig: DeviceRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

const MAC = Uint8Array.from([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);

function frame(marker: number, length = 60): Uint8Array {
  const bytes = new Uint8Array(length).fill(marker);
  bytes.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
  bytes.set(MAC, 6);
  bytes.set([0x88, 0xb5], 12);
  return bytes;
}

/** The driver alone in a worker, against the real virtio-net model with a link the test holds. */
async function startDriver(): Promise<{ link: TestLink; backend: VirtioNet }> {
  const [deviceEnd] = linkPair();
  const backend = new VirtioNet({ mac: MAC, link: deviceEnd });
  rig = await startDriverWithDevice({ module: 'drivers/virtio-net/main', name: 'virtio-net', backend });
  return { link: deviceEnd, backend };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('virtio-net driver', () => {
  it('netdev.info gives the MAC from config space, the MTU and the link', async () => {
    await startDriver();
    const netdev = rig!.harness.client(netdevInterface);
    const info = await netdev.info({});
    expect([...info.mac]).toEqual([...MAC]);
    expect(info.mtu).toBe(1500);
    expect(info.linkUp).toBe(true);
  });

  it('netdev.send puts frames on the wire whole and in order, the longest too', async () => {
    const { link } = await startDriver();
    const netdev = rig!.harness.client(netdevInterface);
    const frames = [frame(1), frame(2, 1514), frame(3, 14)];
    expect(await netdev.send({ frames })).toEqual({ sent: 3 });
    await until(() => link.sent.length === 3, 'three frames on the wire');
    expect(link.sent.map((bytes) => [...bytes])).toEqual(frames.map((bytes) => [...bytes]));
    expect((await netdev.info({})).counts.framesSent).toBe(3);
  });

  it('netdev.receive returns frames from the wire in order, many more than the receive buffers', async () => {
    const { link } = await startDriver();
    const netdev = rig!.harness.client(netdevInterface);
    const got: number[] = [];
    for (let marker = 0; marker < 200; marker++) link.inject(frame(marker & 0xff, 100));
    while (got.length < 200) {
      const { frames } = await netdev.receive({ maximumFrames: 32, waitMs: 2000 });
      if (frames.length === 0) throw new Error(`no more frames after ${got.length}`);
      got.push(...frames.map((bytes) => bytes[20]!));
      expect(frames.every((bytes) => bytes.length === 100)).toBe(true);
    }
    expect(got).toEqual(Array.from({ length: 200 }, (_, index) => index));
  });

  it('netdev.receive waits for a frame and tells when the link goes down', async () => {
    const { link } = await startDriver();
    const netdev = rig!.harness.client(netdevInterface);
    const waiting = netdev.receive({ maximumFrames: 4, waitMs: 5000 });
    setTimeout(() => link.inject(frame(7)), 50);
    expect((await waiting).frames.map((bytes) => bytes[20])).toEqual([7]);
    link.setUp(false);
    const deadline = Date.now() + 10_000;
    while ((await netdev.info({})).linkUp) if (Date.now() > deadline) throw new Error('link never went down');
  });

  it('netdev.send refuses a frame shorter than an Ethernet header or longer than 1514 bytes', async () => {
    await startDriver();
    const netdev = rig!.harness.client(netdevInterface);
    await expect(netdev.send({ frames: [new Uint8Array(10)] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(netdev.send({ frames: [new Uint8Array(1515)] })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await netdev.send({ frames: [frame(1)] })).sent).toBe(1);
  });
});
