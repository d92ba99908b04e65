// The virtio-blk driver alone in a worker (ServerHarness) against the real device model
// in the test's thread, backed by a temporary image file: the block conformance suite,
// then what is particular to this driver (serial, requests in flight when it dies).

import { afterEach, describe, expect, it } from 'vitest';
import { DoorbellPage } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { Ram } from '../../hal/ram.js';
import type { VirtioBackend, VirtioDeviceContext } from '../../hal/virtio/backend.js';
import { VirtioBlock } from '../../hal/virtio/block.js';
import type { SplitQueueDevice } from '../../hal/virtio/split_queue_device.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';
import { closeChannel } from '../../ipc/channel.js';
import { PeerRestartedError } from '../../ipc/errors.js';
import { blockInterface } from '../../ipc/interfaces/block.js';
import { temporaryDiskImage, type TemporaryDiskImage } from '../../test/harness/host.js';
import { ServerHarness } from '../../test/harness/server_harness.js';
import { describeBlockDriver, patternedDisk, SECTOR, type BlockDriverUnderTest, type DiskSetup } from '../../test/conformance/block.js';

const BASE = 0x1000_2000;
const INTERRUPT = 2;
const RAM_SIZE = 32 * 1024 * 1024;
/** Test buffers live above the harness's DMA pool (base + 1 MiB .. + 5 MiB). */
const BUFFER_AREA = { offset: 8 * 1024 * 1024, size: 24 * 1024 * 1024 };

/**
 * A device model whose request queue can be held: notifications wait until release(),
 * so a test can keep requests in flight inside the device.
 */
class HeldBackend implements VirtioBackend {
  readonly inner: VirtioBlock;
  private held = false;
  private missed = false;

  constructor(inner: VirtioBlock) {
    this.inner = inner;
  }

  get deviceId(): number { return this.inner.deviceId; }
  get features(): bigint { return this.inner.features; }
  get queueSizes(): readonly number[] { return this.inner.queueSizes; }
  get config(): Uint8Array { return this.inner.config; }

  attach(context: VirtioDeviceContext): void { this.inner.attach(context); }
  activate(queues: SplitQueueDevice[]): void { this.inner.activate(queues); }
  reset(): void { this.inner.reset(); }
  close(): void { this.inner.close(); }

  queueNotified(): void {
    if (this.held) this.missed = true;
    else this.inner.queueNotified();
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    if (this.missed) this.inner.queueNotified();
    this.missed = false;
  }
}

class BlockRig implements BlockDriverUnderTest {
  readonly ram: Ram;
  readonly harness: ServerHarness;
  readonly backend: HeldBackend;
  readonly client;
  readonly image: TemporaryDiskImage;
  private readonly transport: VirtioMmioTransport;
  private nextBuffer: number;

  private constructor(ram: Ram, harness: ServerHarness, transport: VirtioMmioTransport, backend: HeldBackend, image: TemporaryDiskImage) {
    this.ram = ram;
    this.harness = harness;
    this.transport = transport;
    this.backend = backend;
    this.image = image;
    this.client = harness.client(blockInterface);
    this.nextBuffer = ram.base + BUFFER_AREA.offset;
  }

  /** Writes the image, builds the device and starts the driver; resolves once it is ready. */
  static async start(disk: DiskSetup): Promise<BlockRig> {
    const image = temporaryDiskImage(disk.contents, 'blk');
    const ram = Ram.allocate(RAM_SIZE);
    const doorbells = new DoorbellPage();
    const interrupts = new InterruptController(doorbells);
    const backend = new HeldBackend(new VirtioBlock({ path: image.path, access: disk.readOnly ? 'read-only' : 'read-write', serial: 'test-disk' }));
    const transport = new VirtioMmioTransport({ ram, irq: interrupts, interrupt: INTERRUPT, base: BASE, backend });
    try {
      const harness = await ServerHarness.start({
        module: 'drivers/virtio-blk/main',
        name: 'virtio-blk',
        ram,
        doorbells,
        interrupts,
        device: { path: `/soc/virtio_mmio@${BASE.toString(16)}`, compatible: ['virtio,mmio'], registers: transport.descriptor, interrupt: INTERRUPT },
      });
      return new BlockRig(ram, harness, transport, backend, image);
    } catch (error) {
      transport.close();
      image.remove();
      throw error;
    }
  }

  buffer(bytes: number): number {
    const size = Math.ceil(bytes / 4096) * 4096;
    if (size > BUFFER_AREA.size) throw new RangeError(`test buffer of ${bytes} bytes is larger than the buffer area`);
    if (this.nextBuffer + size > this.ram.base + BUFFER_AREA.offset + BUFFER_AREA.size) this.nextBuffer = this.ram.base + BUFFER_AREA.offset;
    const address = this.nextBuffer;
    this.nextBuffer += size;
    return address;
  }

  backing(): Uint8Array {
    return this.image.read();
  }

  async stop(): Promise<void> {
    await this.harness.stop();
    this.transport.close();
    await this.backend.inner.whenIdle();
    this.image.remove();
  }
}

let rig: BlockRig | undefined;
const stopRig = async () => {
  await rig?.stop();
  rig = undefined;
};

describeBlockDriver('virtio-blk', {
  start: async (disk) => (rig = await BlockRig.start(disk)),
  stop: stopRig,
});

describe('virtio-blk driver', () => {
  afterEach(stopRig);

  it('info reports the serial the device answers GET_ID with', async () => {
    rig = await BlockRig.start({ sectors: 16, contents: patternedDisk(16), readOnly: false });
    expect((await rig.client.info({})).serial).toBe('test-disk');
  });

  it('requests in flight when the driver dies fail with PEER_RESTARTED, none is lost silently', async () => {
    rig = await BlockRig.start({ sectors: 64, contents: patternedDisk(64), readOnly: false });
    const harness = rig.harness;
    // A client on a channel the test controls, as the kernel's name service would hand out.
    const channel = harness.connectToServer('block');
    let connected = false;
    const disk = harness.endpoint.client(blockInterface, {
      connect: async () => {
        if (connected) throw new PeerRestartedError('the driver is gone', { generation: 2 });
        connected = true;
        return channel;
      },
      reconnect: async () => {
        throw new PeerRestartedError('the driver is gone', { generation: 2 });
      },
    });
    const address = rig.buffer(4 * SECTOR);
    rig.ram.write(address, new Uint8Array(4 * SECTOR).fill(0xab));
    rig.backend.hold();
    const writes = [0, 4, 8, 12].map((sector) => disk.write({ sector, bytes: 4 * SECTOR, buffer: { kind: 'physical', address } }));
    const outcomes = Promise.allSettled(writes);
    // The stats call is answered after the driver submitted every write ahead of it.
    expect((await disk.stats({})).inFlight).toBe(4);
    await harness.crash();
    // The kernel revokes a dead server's channels; its clients learn the new generation.
    closeChannel(channel, 'peer-restarted', 2, harness.doorbells);
    const settled = await outcomes;
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(PeerRestartedError);
    }
    rig.backend.release();
  });
});
