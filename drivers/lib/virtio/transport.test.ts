import { afterEach, describe, expect, it } from 'vitest';
import { RegisterBank, RegisterWindow, createRegisterBlock } from '../../../hal/mmio.js';
import type { VirtioBackend } from '../../../hal/virtio/backend.js';
import { VirtioBlock } from '../../../hal/virtio/block.js';
import { BLOCK_CONFIG } from '../../../hal/virtio/block_layout.js';
import { VirtioConsole } from '../../../hal/virtio/console.js';
import { CONSOLE_CONFIG } from '../../../hal/virtio/console_layout.js';
import {
  DeviceId, DeviceStatus, FeatureBit, InterruptBit, MmioRegister, VIRTIO_MMIO_MAGIC, feature,
} from '../../../hal/virtio/registers.js';
import { VirtioEntropy } from '../../../hal/virtio/rng.js';
import { BumpAllocator, createTestBoard, sameThreadWindow } from '../../../hal/virtio/testing.js';
import { VirtioMmioTransport } from '../../../hal/virtio/transport.js';
import { temporaryDiskImage } from '../../../test/harness/host.js';
import { VirtioSetupError } from './errors.js';
import { initializeVirtioDevice } from './transport.js';

const INTERRUPT = 4;
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

function attach(backend: VirtioBackend) {
  const board = createTestBoard();
  const transport = new VirtioMmioTransport({ ram: board.ram, irq: board.irq, interrupt: INTERRUPT, base: 0x1000_0000, backend });
  cleanups.push(() => transport.close());
  return { ...board, transport, window: sameThreadWindow(transport), dma: new BumpAllocator(board.ram) };
}

/** Register contents of a block that is not (or not quite) a modern virtio device. */
function rawDevice(registers: Record<number, number>) {
  const descriptor = createRegisterBlock(0x1000_0000, 0x200, MmioRegister.QueueNotify);
  const bank = new RegisterBank(descriptor);
  for (const [offset, value] of Object.entries(registers)) bank.set32(Number(offset), value);
  const handlers = { write: (offset: number, value: number) => { if (offset === MmioRegister.Status) bank.set32(offset, value); } };
  return { bank, window: new RegisterWindow(descriptor, { serviceInline: () => { bank.serviceOnce(handlers); } }) };
}

function expectSetupError(action: () => unknown, code: string): void {
  let caught: unknown;
  try { action(); } catch (error) { caught = error; }
  expect(caught).toBeInstanceOf(VirtioSetupError);
  expect((caught as VirtioSetupError).code).toBe(code);
}

describe('initializeVirtioDevice', () => {
  it('initializeVirtioDevice brings a device to DRIVER_OK with VERSION_1 and the wanted features it offers', () => {
    const { window, ram, dma, transport } = attach(new VirtioEntropy());
    const device = initializeVirtioDevice(window, ram, dma, {
      deviceId: DeviceId.ENTROPY, features: feature(FeatureBit.EVENT_IDX) | feature(7), queues: 1, queueSize: 16,
    });
    expect(device.status()).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    expect(device.negotiated).toBe(feature(FeatureBit.VERSION_1) | feature(FeatureBit.EVENT_IDX));
    expect(transport.negotiatedFeatures).toBe(device.negotiated);
    expect(device.queues).toHaveLength(1);
    expect(device.queues[0]!.size).toBe(16);
  });

  it('initializeVirtioDevice caps the queue size at QueueNumMax', () => {
    const { window, ram, dma } = attach(new VirtioEntropy({ queueSize: 8 }));
    const device = initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1, queueSize: 256 });
    expect(device.queues[0]!.size).toBe(8);
  });

  it('initializeVirtioDevice throws NOT_VIRTIO for a block without the magic value', () => {
    const { ram } = createTestBoard();
    const { window } = rawDevice({});
    expectSetupError(() => initializeVirtioDevice(window, ram, new BumpAllocator(ram), { deviceId: 4, features: 0n, queues: 1 }), 'NOT_VIRTIO');
  });

  it('initializeVirtioDevice throws UNSUPPORTED_VERSION for a legacy (version 1) register layout', () => {
    const { ram } = createTestBoard();
    const { window } = rawDevice({ [MmioRegister.MagicValue]: VIRTIO_MMIO_MAGIC, [MmioRegister.Version]: 1, [MmioRegister.DeviceID]: 4 });
    expectSetupError(() => initializeVirtioDevice(window, ram, new BumpAllocator(ram), { deviceId: 4, features: 0n, queues: 1 }), 'UNSUPPORTED_VERSION');
  });

  it('initializeVirtioDevice throws NO_DEVICE for device id 0', () => {
    const { ram } = createTestBoard();
    const { window } = rawDevice({ [MmioRegister.MagicValue]: VIRTIO_MMIO_MAGIC, [MmioRegister.Version]: 2 });
    expectSetupError(() => initializeVirtioDevice(window, ram, new BumpAllocator(ram), { deviceId: 4, features: 0n, queues: 1 }), 'NO_DEVICE');
  });

  it('initializeVirtioDevice throws WRONG_DEVICE when another device type answers', () => {
    const { window, ram, dma, transport } = attach(new VirtioEntropy());
    expectSetupError(() => initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.BLOCK, features: 0n, queues: 1 }), 'WRONG_DEVICE');
    expect(transport.status).toBe(0); // nothing was touched
  });

  it('initializeVirtioDevice throws LEGACY_ONLY and sets FAILED when VERSION_1 is not offered', () => {
    const { ram } = createTestBoard();
    const { window, bank } = rawDevice({ [MmioRegister.MagicValue]: VIRTIO_MMIO_MAGIC, [MmioRegister.Version]: 2, [MmioRegister.DeviceID]: 4 });
    expectSetupError(() => initializeVirtioDevice(window, ram, new BumpAllocator(ram), { deviceId: 4, features: 0n, queues: 1 }), 'LEGACY_ONLY');
    expect(bank.get32(MmioRegister.Status) & DeviceStatus.FAILED).toBe(DeviceStatus.FAILED);
  });

  it('initializeVirtioDevice throws FEATURES_REFUSED when FEATURES_OK does not stick', () => {
    const backend = Object.assign(new VirtioEntropy(), { validateFeatures: () => 'this device refuses everything' });
    const { window, ram, dma, transport } = attach(backend);
    expectSetupError(() => initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 }), 'FEATURES_REFUSED');
    expect(transport.status & DeviceStatus.FAILED).toBe(DeviceStatus.FAILED);
  });

  it('initializeVirtioDevice throws QUEUE_UNAVAILABLE when asked for more queues than the device has', () => {
    const { window, ram, dma } = attach(new VirtioEntropy());
    expectSetupError(() => initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 2 }), 'QUEUE_UNAVAILABLE');
  });

  it('initializeVirtioDevice throws QUEUE_REFUSED when the device rejects the queue memory', () => {
    const { window, ram } = attach(new VirtioEntropy());
    const outside = { allocate: () => ram.end + 0x1000 };
    expectSetupError(() => initializeVirtioDevice(window, ram, outside, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 }), 'QUEUE_REFUSED');
  });

  it('initializeVirtioDevice rejects transport features the library does not implement', () => {
    const { window, ram, dma } = attach(new VirtioEntropy());
    expect(() => initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: feature(FeatureBit.RING_PACKED), queues: 1 })).toThrow(/does not implement/);
  });
});

describe('VirtioDriverTransport', () => {
  it('VirtioDriverTransport.readConfig reads console and block config fields', () => {
    const image = temporaryDiskImage(new Uint8Array(512 * 4096 + 100), 'virtio');
    cleanups.push(() => image.remove());
    const block = attach(new VirtioBlock({ path: image.path }));
    const blockDevice = initializeVirtioDevice(block.window, block.ram, block.dma, { deviceId: DeviceId.BLOCK, features: 0n, queues: 1 });
    expect(blockDevice.readConfig64(BLOCK_CONFIG.offsetOf('capacity'))).toBe(4096n);
    expect(blockDevice.readConfig32(BLOCK_CONFIG.offsetOf('blockSize'))).toBe(512);
    expect(blockDevice.readConfig16(BLOCK_CONFIG.offsetOf('numberOfQueues'))).toBe(0);
    expect(blockDevice.readConfig8(BLOCK_CONFIG.offsetOf('capacity') + 1)).toBe(16); // 4096 = 0x1000
    expect(() => blockDevice.readConfig32(0xfe)).toThrow(RangeError);

    const console = attach(new VirtioConsole({ output: () => {} }));
    const consoleDevice = initializeVirtioDevice(console.window, console.ram, console.dma, { deviceId: DeviceId.CONSOLE, features: 0n, queues: 2 });
    expect(consoleDevice.readConfig32(CONSOLE_CONFIG.offsetOf('maximumPorts'))).toBe(1);
  });

  it('VirtioDriverTransport.takeInterrupt returns and acknowledges InterruptStatus', () => {
    const { window, ram, dma, irq } = attach(new VirtioEntropy());
    irq.enable(INTERRUPT, 1);
    const device = initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 });
    expect(device.takeInterrupt()).toBe(0);
    const buffer = dma.allocate(16, 8);
    device.queues[0]!.add([{ address: buffer, length: 16, writable: true }], 'entropy');
    device.queues[0]!.kick(); // posted: the device's serving loop or serviceRegisters picks it up
    window.write32(MmioRegister.QueueSel, 0); // any trapped write also drains posted notifications
    expect(irq.claim(1)).toBe(INTERRUPT);
    expect(device.takeInterrupt()).toBe(InterruptBit.USED_BUFFER);
    expect(device.takeInterrupt()).toBe(0);
    irq.complete(INTERRUPT);
    expect(device.queues[0]!.takeUsed()).toEqual([{ head: 0, length: 16, token: 'entropy' }]);
  });

  it('VirtioDriverTransport.reset resets the device and stops the queues', () => {
    const { window, ram, dma, transport } = attach(new VirtioEntropy());
    const device = initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 });
    device.reset();
    expect(transport.status).toBe(0);
    expect(() => device.queues[0]!.add([{ address: dma.allocate(8, 8), length: 8, writable: true }])).toThrow(expect.objectContaining({ code: 'QUEUE_STOPPED' }));
    const again = initializeVirtioDevice(window, ram, dma, { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 });
    expect(again.needsReset()).toBe(false);
  });
});
