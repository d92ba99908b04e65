// The block model against a temporary image file, driven by the real driver library in this thread.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DriverBuffer } from '../../drivers/lib/virtio/split_queue_driver.js';
import { initializeVirtioDevice } from '../../drivers/lib/virtio/transport.js';
import { VirtioBlock, type VirtioBlockOptions } from '../../hal/virtio/block.js';
import { BLOCK_REQUEST_HEADER, BlockRequestType, BlockStatus, SECTOR_SIZE } from '../../hal/virtio/block_layout.js';
import { BlockFeatureBit, DeviceId, FeatureBit, feature, hasFeature } from '../../hal/virtio/registers.js';
import { BumpAllocator, createTestBoard, sameThreadWindow } from '../../hal/virtio/testing.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';

const SECTORS = 64;
let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** A sector-sized pattern: every byte of sector `sector` is `sector + fill`. */
function pattern(sector: number, count: number, fill = 1): Uint8Array {
  const bytes = new Uint8Array(count * SECTOR_SIZE);
  for (let index = 0; index < count; index++) bytes.fill((sector + index + fill) & 0xff, index * SECTOR_SIZE, (index + 1) * SECTOR_SIZE);
  return bytes;
}

function blockWithGuest(options: Omit<VirtioBlockOptions, 'path'> = {}, imageBytes = SECTORS * SECTOR_SIZE) {
  const directory = mkdtempSync(join(tmpdir(), 'baton-blk-'));
  const image = join(directory, 'disk.img');
  writeFileSync(image, new Uint8Array(imageBytes));
  const backend = new VirtioBlock({ path: image, ...options });
  const { ram, irq } = createTestBoard(4 * 1024 * 1024);
  const transport = new VirtioMmioTransport({ ram, irq, interrupt: 6, base: 0x1000_2000, backend });
  cleanups.push(async () => {
    transport.close();
    await backend.whenIdle();
    rmSync(directory, { recursive: true, force: true });
  });
  const dma = new BumpAllocator(ram);
  const device = initializeVirtioDevice(sameThreadWindow(transport), ram, dma, {
    deviceId: DeviceId.BLOCK, features: feature(BlockFeatureBit.FLUSH) | feature(FeatureBit.EVENT_IDX), queues: 1, queueSize: 32,
  });
  const queue = device.queues[0]!;

  interface Pending { status: number; data: number; dataLength: number }
  const guest = {
    backend, transport, device, image, ram,
    /**
     * Queues one request. `data` is written for OUT; for IN/GET_ID `readLength` bytes are
     * read. `split` cuts the data into that many descriptors.
     */
    submit(type: number, sector: number, options: { data?: Uint8Array; readLength?: number; split?: number } = {}): Pending {
      const header = dma.allocate(BLOCK_REQUEST_HEADER.size, 8);
      BLOCK_REQUEST_HEADER.write(ram, header, 'type', type);
      BLOCK_REQUEST_HEADER.write(ram, header, 'sector', sector);
      const writable = options.data === undefined;
      const dataLength = options.data?.length ?? options.readLength ?? 0;
      const data = dma.allocate(Math.max(dataLength, 1), 8);
      if (options.data !== undefined) ram.write(data, options.data);
      const status = dma.allocate(1, 1);
      ram.writeU8(status, 0xff);
      const buffers: DriverBuffer[] = [{ address: header, length: BLOCK_REQUEST_HEADER.size, writable: false }];
      const parts = dataLength === 0 ? 0 : options.split ?? 1;
      for (let part = 0; part < parts; part++) {
        const start = Math.floor((dataLength * part) / parts), end = Math.floor((dataLength * (part + 1)) / parts);
        buffers.push({ address: data + start, length: end - start, writable });
      }
      buffers.push({ address: status, length: 1, writable: true });
      const pending = { status, data, dataLength };
      if (queue.add(buffers, pending) === undefined) throw new Error('queue full');
      return pending;
    },
    /** Kicks, waits for the host I/O, and returns what completed. */
    async run() {
      queue.kick();
      transport.serviceRegisters();
      await backend.whenIdle();
      return queue.takeUsed().map((used) => {
        const pending = used.token as Pending;
        return { ...pending, length: used.length, status: ram.readU8(pending.status), bytes: ram.read(pending.data, pending.dataLength) };
      });
    },
  };
  return guest;
}

describe('VirtioBlock', () => {
  it('VirtioBlock offers capacity from the file size and features FLUSH, BLK_SIZE, SEG_MAX but not RO', () => {
    const guest = blockWithGuest({}, SECTORS * SECTOR_SIZE + 100);
    expect(guest.backend.capacity).toBe(SECTORS);
    expect(guest.device.readConfig64(0)).toBe(BigInt(SECTORS));
    expect(hasFeature(guest.backend.features, BlockFeatureBit.FLUSH)).toBe(true);
    expect(hasFeature(guest.backend.features, BlockFeatureBit.BLK_SIZE)).toBe(true);
    expect(hasFeature(guest.backend.features, BlockFeatureBit.RO)).toBe(false);
  });

  it('VirtioBlock writes sectors to the image before completing, and reads them back', async () => {
    const guest = blockWithGuest();
    const written = pattern(3, 4);
    guest.submit(BlockRequestType.OUT, 3, { data: written });
    const [out] = await guest.run();
    expect(out).toMatchObject({ status: BlockStatus.OK, length: 1 });
    expect(readFileSync(guest.image).subarray(3 * SECTOR_SIZE, 7 * SECTOR_SIZE)).toEqual(Buffer.from(written));

    guest.submit(BlockRequestType.IN, 2, { readLength: 6 * SECTOR_SIZE });
    const [read] = await guest.run();
    expect(read).toMatchObject({ status: BlockStatus.OK, length: 6 * SECTOR_SIZE + 1 });
    expect(read!.bytes.subarray(0, SECTOR_SIZE).every((byte) => byte === 0)).toBe(true);
    expect(read!.bytes.subarray(SECTOR_SIZE, 5 * SECTOR_SIZE)).toEqual(written);
  });

  it('VirtioBlock accepts data split over several descriptors in any layout', async () => {
    const guest = blockWithGuest();
    const written = pattern(10, 3, 7);
    guest.submit(BlockRequestType.OUT, 10, { data: written, split: 5 });
    expect((await guest.run())[0]!.status).toBe(BlockStatus.OK);
    guest.submit(BlockRequestType.IN, 10, { readLength: 3 * SECTOR_SIZE, split: 7 });
    const [read] = await guest.run();
    expect(read!.status).toBe(BlockStatus.OK);
    expect(read!.bytes).toEqual(written);
  });

  it('VirtioBlock serves several requests in flight and completes each', async () => {
    const guest = blockWithGuest();
    for (let sector = 0; sector < 8; sector++) guest.submit(BlockRequestType.OUT, sector * 2, { data: pattern(sector * 2, 2) });
    guest.device.queues[0]!.kick();
    guest.transport.serviceRegisters();
    expect(guest.backend.requestsInFlight).toBe(8);
    const completed = await guest.run();
    expect(completed.map((request) => request.status)).toEqual(new Array(8).fill(BlockStatus.OK));
    expect(readFileSync(guest.image).subarray(0, 16 * SECTOR_SIZE)).toEqual(Buffer.from(pattern(0, 16)));
  });

  it('VirtioBlock FLUSH completes OK after earlier writes', async () => {
    const guest = blockWithGuest();
    guest.submit(BlockRequestType.OUT, 0, { data: pattern(0, 1) });
    guest.submit(BlockRequestType.FLUSH, 0);
    const completed = await guest.run();
    expect(completed.map((request) => [request.status, request.length])).toEqual([[BlockStatus.OK, 1], [BlockStatus.OK, 1]]);
  });

  it('VirtioBlock GET_ID answers the serial padded with NULs', async () => {
    const guest = blockWithGuest({ serial: 'baton-disk-0' });
    guest.submit(BlockRequestType.GET_ID, 0, { readLength: 20 });
    const [answer] = await guest.run();
    expect(answer!.status).toBe(BlockStatus.OK);
    expect(Buffer.from(answer!.bytes).toString('latin1')).toBe('baton-disk-0\0\0\0\0\0\0\0\0');
  });

  it('VirtioBlock fails requests past the end of the image or not whole sectors with IOERR', async () => {
    const guest = blockWithGuest();
    guest.submit(BlockRequestType.IN, SECTORS - 1, { readLength: 2 * SECTOR_SIZE });
    guest.submit(BlockRequestType.OUT, SECTORS, { data: pattern(0, 1) });
    guest.submit(BlockRequestType.IN, 0, { readLength: 100 });
    guest.submit(BlockRequestType.IN, SECTORS - 1, { readLength: SECTOR_SIZE });
    const completed = await guest.run();
    expect(completed.map((request) => [request.status, request.length])).toEqual([
      [BlockStatus.IOERR, 1], [BlockStatus.IOERR, 1], [BlockStatus.IOERR, 1], [BlockStatus.OK, SECTOR_SIZE + 1],
    ]);
  });

  it('VirtioBlock answers UNSUPP for request types it does not implement', async () => {
    const guest = blockWithGuest();
    guest.submit(BlockRequestType.DISCARD, 0, { data: new Uint8Array(16) });
    expect((await guest.run())[0]!.status).toBe(BlockStatus.UNSUPP);
  });

  it('VirtioBlock on a read-only image offers RO, refuses writes with IOERR and leaves the file alone', async () => {
    const guest = blockWithGuest({ access: 'read-only' });
    expect(hasFeature(guest.backend.features, BlockFeatureBit.RO)).toBe(true);
    guest.submit(BlockRequestType.OUT, 0, { data: pattern(0, 1) });
    guest.submit(BlockRequestType.IN, 0, { readLength: SECTOR_SIZE });
    const completed = await guest.run();
    expect(completed.map((request) => request.status)).toEqual([BlockStatus.IOERR, BlockStatus.OK]);
    expect(readFileSync(guest.image).every((byte) => byte === 0)).toBe(true);
  });

  it('VirtioBlock does not complete requests into a queue that was reset meanwhile', async () => {
    const guest = blockWithGuest();
    const pending = guest.submit(BlockRequestType.IN, 0, { readLength: SECTOR_SIZE });
    guest.device.queues[0]!.kick();
    guest.transport.serviceRegisters();
    guest.device.reset();
    await guest.backend.whenIdle();
    expect(guest.ram.readU8(pending.status)).toBe(0xff);
    expect(guest.transport.faults.filter((fault) => fault.severity === 'needs-reset')).toEqual([]);
  });
});
