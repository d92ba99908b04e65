import { afterEach, describe, expect, it } from 'vitest';
import type { RegisterWindow } from '../mmio.js';
import type { VirtioBackend, VirtioDeviceContext } from './backend.js';
import {
  BATON_VENDOR_ID, DeviceId, DeviceStatus, FeatureBit, InterruptBit, MmioRegister, VIRTIO_MMIO_MAGIC, feature, features,
} from './registers.js';
import { QueueStatistics } from './queue_statistics.js';
import { DESCRIPTOR, DescriptorFlag, availableRingBytes, descriptorTableBytes, usedRingBytes } from './ring.js';
import { VirtioEntropy } from './rng.js';
import type { SplitQueueDevice } from './split_queue_device.js';
import { BumpAllocator, type TestBoard, createTestBoard, sameThreadWindow } from './testing.js';
import { VirtioMmioTransport } from './transport.js';

const INTERRUPT = 3;
const VERSION_1 = feature(FeatureBit.VERSION_1);

/** A device with two queues that records what the transport asks of it. */
class RecordingBackend implements VirtioBackend {
  readonly deviceId = 42;
  readonly features = VERSION_1 | feature(FeatureBit.EVENT_IDX) | feature(3);
  readonly queueSizes = [8, 4];
  config = new Uint8Array([1, 2, 3, 4]);
  context: VirtioDeviceContext | undefined;
  activations: { queues: SplitQueueDevice[]; negotiated: bigint }[] = [];
  notified: number[] = [];
  resets = 0;
  refuse: string | undefined;

  attach(context: VirtioDeviceContext): void { this.context = context; }
  validateFeatures(): string | undefined { return this.refuse; }
  activate(queues: SplitQueueDevice[], negotiated: bigint): void { this.activations.push({ queues, negotiated }); }
  queueNotified(index: number): void { this.notified.push(index); }
  reset(): void { this.resets++; }
}

let opened: VirtioMmioTransport[] = [];
afterEach(() => {
  for (const transport of opened) transport.close();
  opened = [];
});

function setUp(backend: VirtioBackend): { board: TestBoard; transport: VirtioMmioTransport; window: RegisterWindow; dma: BumpAllocator } {
  const board = createTestBoard();
  const transport = new VirtioMmioTransport({ ram: board.ram, irq: board.irq, interrupt: INTERRUPT, base: 0x1000_0000, backend });
  opened.push(transport);
  board.irq.enable(INTERRUPT, 1);
  return { board, transport, window: sameThreadWindow(transport), dma: new BumpAllocator(board.ram) };
}

function acceptFeatures(window: RegisterWindow, accepted: bigint): number {
  window.write32(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
  window.write32(MmioRegister.DriverFeaturesSel, 0);
  window.write32(MmioRegister.DriverFeatures, Number(accepted & 0xffff_ffffn));
  window.write32(MmioRegister.DriverFeaturesSel, 1);
  window.write32(MmioRegister.DriverFeatures, Number(accepted >> 32n));
  window.write32(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
  return window.read32(MmioRegister.Status);
}

interface QueuePlacement { size: number; descriptorTable: number; availableRing: number; usedRing: number }

function placeQueue(dma: BumpAllocator, size: number): QueuePlacement {
  return {
    size,
    descriptorTable: dma.allocate(descriptorTableBytes(size), 16),
    availableRing: dma.allocate(availableRingBytes(size), 2),
    usedRing: dma.allocate(usedRingBytes(size), 4),
  };
}

/** Programs queue `index` and writes QueueReady = 1; returns what QueueReady reads back. */
function enableQueue(window: RegisterWindow, index: number, queue: QueuePlacement): number {
  window.write32(MmioRegister.QueueSel, index);
  window.write32(MmioRegister.QueueNum, queue.size);
  window.write32(MmioRegister.QueueDescLow, queue.descriptorTable % 2 ** 32);
  window.write32(MmioRegister.QueueDescHigh, Math.floor(queue.descriptorTable / 2 ** 32));
  window.write32(MmioRegister.QueueDriverLow, queue.availableRing);
  window.write32(MmioRegister.QueueDriverHigh, 0);
  window.write32(MmioRegister.QueueDeviceLow, queue.usedRing);
  window.write32(MmioRegister.QueueDeviceHigh, 0);
  window.write32(MmioRegister.QueueReady, 1);
  return window.read32(MmioRegister.QueueReady);
}

const RUNNING = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK;

describe('VirtioMmioTransport', () => {
  it('VirtioMmioTransport identifies itself with magic, version 2, device id and vendor', () => {
    const { window } = setUp(new VirtioEntropy());
    expect(window.read32(MmioRegister.MagicValue)).toBe(VIRTIO_MMIO_MAGIC);
    expect(window.read32(MmioRegister.Version)).toBe(2);
    expect(window.read32(MmioRegister.DeviceID)).toBe(DeviceId.ENTROPY);
    expect(window.read32(MmioRegister.VendorID)).toBe(BATON_VENDOR_ID);
    expect(window.read32(MmioRegister.Status)).toBe(0);
    expect(window.read32(MmioRegister.SHMLenLow)).toBe(0xffff_ffff);
    expect(window.read32(MmioRegister.SHMLenHigh)).toBe(0xffff_ffff);
  });

  it('VirtioMmioTransport offers device features in 32-bit banks selected by DeviceFeaturesSel', () => {
    const backend = new RecordingBackend();
    const { window } = setUp(backend);
    window.write32(MmioRegister.DeviceFeaturesSel, 0);
    expect(window.read32(MmioRegister.DeviceFeatures)).toBe(Number(backend.features & 0xffff_ffffn));
    window.write32(MmioRegister.DeviceFeaturesSel, 1);
    expect(window.read32(MmioRegister.DeviceFeatures)).toBe(1); // VERSION_1 is bit 32
    window.write32(MmioRegister.DeviceFeaturesSel, 2);
    expect(window.read32(MmioRegister.DeviceFeatures)).toBe(0);
  });

  it('VirtioMmioTransport accepts FEATURES_OK for offered features including VERSION_1', () => {
    const backend = new RecordingBackend();
    const { window, transport } = setUp(backend);
    expect(acceptFeatures(window, VERSION_1 | feature(3)) & DeviceStatus.FEATURES_OK).toBe(DeviceStatus.FEATURES_OK);
    expect(transport.negotiatedFeatures).toBe(VERSION_1 | feature(3));
  });

  it('VirtioMmioTransport leaves FEATURES_OK clear when the driver accepts a feature not offered', () => {
    const { window, transport } = setUp(new RecordingBackend());
    expect(acceptFeatures(window, VERSION_1 | feature(5)) & DeviceStatus.FEATURES_OK).toBe(0);
    expect(transport.negotiatedFeatures).toBe(0n);
    expect(transport.faults.at(-1)?.message).toMatch(/does not offer \(bit 5\)/);
  });

  it('VirtioMmioTransport leaves FEATURES_OK clear when the driver omits VERSION_1', () => {
    const { window, transport } = setUp(new RecordingBackend());
    expect(acceptFeatures(window, feature(3)) & DeviceStatus.FEATURES_OK).toBe(0);
    expect(transport.faults.at(-1)?.message).toMatch(/VERSION_1/);
  });

  it('VirtioMmioTransport leaves FEATURES_OK clear when the backend refuses the combination', () => {
    const backend = new RecordingBackend();
    backend.refuse = 'bit 3 needs bit 4';
    const { window, transport } = setUp(backend);
    expect(acceptFeatures(window, VERSION_1 | feature(3)) & DeviceStatus.FEATURES_OK).toBe(0);
    expect(transport.faults.at(-1)?.message).toMatch(/bit 3 needs bit 4/);
  });

  it('VirtioMmioTransport ignores DriverFeatures written after FEATURES_OK', () => {
    const { window, transport } = setUp(new RecordingBackend());
    acceptFeatures(window, VERSION_1);
    window.write32(MmioRegister.DriverFeaturesSel, 0);
    window.write32(MmioRegister.DriverFeatures, 8);
    expect(transport.negotiatedFeatures).toBe(VERSION_1);
  });

  it('VirtioMmioTransport refuses DRIVER_OK before FEATURES_OK', () => {
    const backend = new RecordingBackend();
    const { window } = setUp(backend);
    window.write32(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.DRIVER_OK);
    expect(window.read32(MmioRegister.Status)).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    expect(backend.activations).toHaveLength(0);
  });

  it('VirtioMmioTransport ignores a Status write that clears bits other than by writing 0', () => {
    const { window } = setUp(new RecordingBackend());
    acceptFeatures(window, VERSION_1);
    window.write32(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE);
    expect(window.read32(MmioRegister.Status)).toBe(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
  });

  it('VirtioMmioTransport reports QueueNumMax per selected queue and 0 for absent queues', () => {
    const { window } = setUp(new RecordingBackend());
    window.write32(MmioRegister.QueueSel, 0);
    expect(window.read32(MmioRegister.QueueNumMax)).toBe(8);
    window.write32(MmioRegister.QueueSel, 1);
    expect(window.read32(MmioRegister.QueueNumMax)).toBe(4);
    window.write32(MmioRegister.QueueSel, 2);
    expect(window.read32(MmioRegister.QueueNumMax)).toBe(0);
  });

  it('VirtioMmioTransport enables a well-formed queue and activates the backend with it at DRIVER_OK', () => {
    const backend = new RecordingBackend();
    const { window, dma } = setUp(backend);
    acceptFeatures(window, VERSION_1);
    expect(enableQueue(window, 0, placeQueue(dma, 8))).toBe(1);
    window.write32(MmioRegister.Status, RUNNING);
    expect(window.read32(MmioRegister.Status)).toBe(RUNNING);
    expect(backend.activations).toHaveLength(1);
    const [queue0, queue1] = backend.activations[0]!.queues;
    expect(queue0!.enabled).toBe(true);
    expect(queue0!.size).toBe(8);
    expect(queue1!.enabled).toBe(false);
    expect(backend.notified).toEqual([0]); // buffers posted before DRIVER_OK are looked at
  });

  it('VirtioMmioTransport refuses queues with a size that is not a power of two or above the maximum', () => {
    const { window, dma } = setUp(new RecordingBackend());
    acceptFeatures(window, VERSION_1);
    expect(enableQueue(window, 0, { ...placeQueue(dma, 8), size: 6 })).toBe(0);
    expect(enableQueue(window, 0, { ...placeQueue(dma, 16), size: 16 })).toBe(0);
    expect(enableQueue(window, 0, { ...placeQueue(dma, 8), size: 0 })).toBe(0);
  });

  it('VirtioMmioTransport refuses queues with misaligned or out-of-RAM areas', () => {
    const { window, dma, board } = setUp(new RecordingBackend());
    acceptFeatures(window, VERSION_1);
    const good = placeQueue(dma, 8);
    expect(enableQueue(window, 0, { ...good, descriptorTable: good.descriptorTable + 8 })).toBe(0);
    expect(enableQueue(window, 0, { ...good, usedRing: good.usedRing + 2 })).toBe(0);
    expect(enableQueue(window, 0, { ...good, availableRing: board.ram.end - 4 })).toBe(0);
    expect(enableQueue(window, 0, { ...good, descriptorTable: 0x1000 })).toBe(0);
    expect(enableQueue(window, 0, good)).toBe(1);
  });

  it('VirtioMmioTransport refuses queue setup before FEATURES_OK and for absent queues', () => {
    const { window, dma, transport } = setUp(new RecordingBackend());
    window.write32(MmioRegister.Status, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    expect(enableQueue(window, 0, placeQueue(dma, 8))).toBe(0);
    expect(transport.faults.at(-1)?.message).toMatch(/FEATURES_OK/);
    acceptFeatures(window, VERSION_1);
    expect(enableQueue(window, 5, placeQueue(dma, 8))).toBe(0);
  });

  it('VirtioMmioTransport resets status, features, queues and interrupts when 0 is written to Status', () => {
    const backend = new RecordingBackend();
    const { window, dma, transport } = setUp(backend);
    acceptFeatures(window, VERSION_1);
    enableQueue(window, 0, placeQueue(dma, 8));
    window.write32(MmioRegister.Status, RUNNING);
    const queue = backend.activations[0]!.queues[0]!;
    backend.context!.configChanged(); // sets InterruptStatus bit 1
    expect(window.read32(MmioRegister.InterruptStatus)).toBe(InterruptBit.CONFIG_CHANGE);

    window.write32(MmioRegister.Status, 0);
    expect(window.read32(MmioRegister.Status)).toBe(0);
    expect(window.read32(MmioRegister.InterruptStatus)).toBe(0);
    window.write32(MmioRegister.QueueSel, 0);
    expect(window.read32(MmioRegister.QueueReady)).toBe(0);
    expect(transport.negotiatedFeatures).toBe(0n);
    expect(backend.resets).toBe(1);
    expect(queue.enabled).toBe(false);
    window.write32(MmioRegister.QueueNotify, 0);
    transport.serviceRegisters();
    expect(backend.notified).toEqual([0]); // only the one at DRIVER_OK
  });

  it('VirtioMmioTransport delivers QueueNotify to the backend only while running', () => {
    const backend = new RecordingBackend();
    const { window, dma, transport } = setUp(backend);
    acceptFeatures(window, VERSION_1);
    enableQueue(window, 0, placeQueue(dma, 8));
    window.write32(MmioRegister.QueueNotify, 0);
    transport.serviceRegisters();
    expect(backend.notified).toEqual([]);
    window.write32(MmioRegister.Status, RUNNING);
    window.write32(MmioRegister.QueueNotify, 0);
    window.write32(MmioRegister.QueueNotify, 1); // not set up: ignored
    transport.serviceRegisters();
    expect(backend.notified).toEqual([0, 0]);
  });

  it('VirtioMmioTransport publishes each queue\'s size and the buffers the device holds, for introspection', () => {
    const backend = new RecordingBackend();
    const { window, dma, transport, board } = setUp(backend);
    const statistics = new QueueStatistics(transport.descriptor.statistics);
    acceptFeatures(window, VERSION_1);
    const queue = placeQueue(dma, 8);
    enableQueue(window, 0, queue);
    window.write32(MmioRegister.Status, RUNNING);
    transport.serviceRegisters();
    expect(statistics.read()[0]).toEqual({ index: 0, size: 8, inUse: 0 });
    // The driver makes three buffers available; this device keeps them (a receive queue waiting for input).
    board.ram.writeU16(queue.availableRing + 2, 3);
    window.write32(MmioRegister.QueueNotify, 0);
    transport.serviceRegisters();
    expect(statistics.read()[0]).toEqual({ index: 0, size: 8, inUse: 3 });
    window.write32(MmioRegister.Status, 0);
    transport.serviceRegisters();
    expect(statistics.read()[0]).toEqual({ index: 0, size: 0, inUse: 0 });
  });

  it('VirtioMmioTransport raises its interrupt with bit 0 for used buffers and InterruptACK clears it', () => {
    const { window, dma, transport, board } = setUp(new VirtioEntropy());
    acceptFeatures(window, VERSION_1);
    const queue = placeQueue(dma, 8);
    enableQueue(window, 0, queue);
    window.write32(MmioRegister.Status, RUNNING);
    const buffer = dma.allocate(32, 8);
    DESCRIPTOR.write(board.ram, queue.descriptorTable, 'address', buffer);
    DESCRIPTOR.write(board.ram, queue.descriptorTable, 'length', 32);
    DESCRIPTOR.write(board.ram, queue.descriptorTable, 'flags', DescriptorFlag.WRITE);
    board.ram.writeU16(queue.availableRing + 4, 0);
    board.ram.writeU16(queue.availableRing + 2, 1);
    const raisedBefore = board.irq.raisedCount(INTERRUPT);
    window.write32(MmioRegister.QueueNotify, 0);
    transport.serviceRegisters();
    expect(board.irq.raisedCount(INTERRUPT)).toBe(raisedBefore + 1);
    expect(window.read32(MmioRegister.InterruptStatus)).toBe(InterruptBit.USED_BUFFER);
    expect(board.ram.readU16(queue.usedRing + 2)).toBe(1);
    expect(board.ram.readU32(queue.usedRing + 8)).toBe(32);
    window.write32(MmioRegister.InterruptACK, InterruptBit.USED_BUFFER);
    expect(window.read32(MmioRegister.InterruptStatus)).toBe(0);
  });

  it('VirtioMmioTransport sets DEVICE_NEEDS_RESET and raises a config interrupt on a malformed chain', () => {
    const { window, dma, transport, board } = setUp(new VirtioEntropy());
    acceptFeatures(window, VERSION_1);
    const queue = placeQueue(dma, 8);
    enableQueue(window, 0, queue);
    window.write32(MmioRegister.Status, RUNNING);
    DESCRIPTOR.write(board.ram, queue.descriptorTable, 'address', board.ram.end); // outside RAM
    DESCRIPTOR.write(board.ram, queue.descriptorTable, 'length', 16);
    DESCRIPTOR.write(board.ram, queue.descriptorTable, 'flags', DescriptorFlag.WRITE);
    board.ram.writeU16(queue.availableRing + 2, 1);
    window.write32(MmioRegister.QueueNotify, 0);
    transport.serviceRegisters();
    expect(window.read32(MmioRegister.Status)).toBe(RUNNING | DeviceStatus.DEVICE_NEEDS_RESET);
    expect(window.read32(MmioRegister.InterruptStatus) & InterruptBit.CONFIG_CHANGE).toBe(InterruptBit.CONFIG_CHANGE);
    expect(transport.faults.at(-1)).toMatchObject({ severity: 'needs-reset', message: expect.stringMatching(/outside RAM/) });
    expect(board.ram.readU16(queue.usedRing + 2)).toBe(0);
    window.write32(MmioRegister.Status, 0);
    expect(window.read32(MmioRegister.Status)).toBe(0);
  });

  it('VirtioMmioTransport exposes config space and bumps ConfigGeneration when it changes', () => {
    const backend = new RecordingBackend();
    const { window } = setUp(backend);
    expect(window.read32(MmioRegister.Config)).toBe(0x0403_0201);
    const generation = window.read32(MmioRegister.ConfigGeneration);
    backend.config = new Uint8Array([9, 9]);
    backend.context!.configChanged();
    expect(window.read32(MmioRegister.Config)).toBe(0x0909);
    expect(window.read32(MmioRegister.ConfigGeneration)).not.toBe(generation);
    expect(window.read32(MmioRegister.InterruptStatus)).toBe(0); // driver not running: no interrupt
  });

  it('VirtioMmioTransport refuses a backend that does not offer VERSION_1', () => {
    const board = createTestBoard();
    const backend = Object.assign(new RecordingBackend(), { features: features(3) });
    expect(() => new VirtioMmioTransport({ ram: board.ram, irq: board.irq, interrupt: INTERRUPT, base: 0, backend })).toThrow(/VERSION_1/);
  });
});
