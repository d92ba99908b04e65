// Bringing up a virtio-mmio device from a driver (virtio 1.2 §3.1.1, §4.2.3).
//
// initializeVirtioDevice checks the register block (magic, version 2, device id),
// resets the device, sets ACKNOWLEDGE and DRIVER, negotiates features (what the device
// offers ∩ what the driver wants, always with VERSION_1), sets FEATURES_OK and reads it
// back, sets up the requested queues in memory from the DMA allocator, and sets
// DRIVER_OK. Any failure after the reset sets FAILED and throws VirtioSetupError with a
// code saying which step refused.
//
// Example:
//   const device = initializeVirtioDevice(window, ram, dma,
//     { deviceId: DeviceId.ENTROPY, features: 0n, queues: 1 });
//   device.queues[0]!.add([{ address: page, length: 64, writable: true }]);
//   device.queues[0]!.kick();
//   ...interrupt... device.takeInterrupt(); device.queues[0]!.takeUsed();

import type { RegisterWindow } from '../../../hal/mmio.js';
import type { Ram } from '../../../hal/ram.js';
import {
  DeviceStatus, FeatureBit, InterruptBit, MmioRegister, VIRTIO_MMIO_CONFIG_SIZE, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, feature, features,
  hasFeature,
} from '../../../hal/virtio/registers.js';
import {
  AVAILABLE_RING_ALIGNMENT, DESCRIPTOR_TABLE_ALIGNMENT, USED_RING_ALIGNMENT, availableRingBytes, descriptorTableBytes,
  isPowerOfTwo, usedRingBytes,
} from '../../../hal/virtio/ring.js';
import { queueFault, VirtioSetupError } from './errors.js';
import { SplitQueueDriver } from './split_queue_driver.js';

/** Where queue memory comes from: zeroed, physically contiguous guest RAM. */
export interface DmaAllocator {
  /** Returns the physical address of `bytes` zeroed bytes aligned to `alignment`. */
  allocate(bytes: number, alignment: number): number;
}

export interface VirtioDeviceOptions {
  /** The §5 device type the driver binds to. */
  readonly deviceId: number;
  /** Features the driver wants; it gets those the device also offers, plus VERSION_1. */
  readonly features: bigint;
  /** How many queues to set up, from queue 0. */
  readonly queues: number;
  /** Entries per queue, a power of two (default and cap: each queue's QueueNumMax). */
  readonly queueSize?: number;
}

/** Transport features (bits 24..41) this library implements; asking for any other throws. */
export const SUPPORTED_TRANSPORT_FEATURES = features(FeatureBit.VERSION_1, FeatureBit.INDIRECT_DESC, FeatureBit.EVENT_IDX);
const TRANSPORT_FEATURE_BITS = ((1n << 42n) - 1n) & ~((1n << 24n) - 1n);
const RESET_POLLS = 1000;
const CONFIG_READ_ATTEMPTS = 100;

/** A running virtio device as its driver sees it. */
export class VirtioDriverTransport {
  readonly queues: SplitQueueDriver[];
  /** Features in force (accepted by both sides). */
  readonly negotiated: bigint;
  private readonly window: RegisterWindow;

  constructor(window: RegisterWindow, queues: SplitQueueDriver[], negotiated: bigint) {
    this.window = window;
    this.queues = queues;
    this.negotiated = negotiated;
  }

  readConfig8(offset: number): number {
    return this.readConfig(offset, 1, () => this.window.read8(MmioRegister.Config + offset));
  }

  readConfig16(offset: number): number {
    return this.readConfig(offset, 2, () => this.configBytes(offset, 2));
  }

  readConfig32(offset: number): number {
    return this.readConfig(offset, 4, () => this.configBytes(offset, 4));
  }

  /** A u64 config field, read consistently (§4.2.3.1: retried while ConfigGeneration changes). */
  readConfig64(offset: number): bigint {
    return this.readConfig(offset, 8, () => BigInt(this.configBytes(offset + 4, 4)) << 32n | BigInt(this.configBytes(offset, 4)));
  }

  /** Reads InterruptStatus, acknowledges those bits, returns them (bit 0 used buffer, bit 1 config change). */
  takeInterrupt(): number {
    const bits = this.window.read32(MmioRegister.InterruptStatus);
    if (bits !== 0) this.window.write32(MmioRegister.InterruptACK, bits);
    // A configuration change is how the device says it found its queues broken (§2.1.2).
    if ((bits & InterruptBit.CONFIG_CHANGE) !== 0 && this.needsReset()) {
      throw queueFault('device-needs-reset', 'the device set DEVICE_NEEDS_RESET: it found a queue in RAM malformed');
    }
    return bits;
  }

  /**
   * Checks every queue's driver-written parts are as this driver left them, and that the
   * device has not set DEVICE_NEEDS_RESET; throws a queue fault (SplitQueueDriver.audit).
   */
  audit(): void {
    if (this.needsReset()) throw queueFault('device-needs-reset', 'the device set DEVICE_NEEDS_RESET: it found a queue in RAM malformed');
    for (const queue of this.queues) queue.audit();
  }

  /** The device status register (§2.1). */
  status(): number {
    return this.window.read32(MmioRegister.Status);
  }

  /** True if the device set DEVICE_NEEDS_RESET: reset it and set it up again. */
  needsReset(): boolean {
    return (this.status() & DeviceStatus.DEVICE_NEEDS_RESET) !== 0;
  }

  /** Resets the device; the queues stop (their memory is the driver's again). */
  reset(): void {
    this.window.write32(MmioRegister.Status, 0);
    for (const queue of this.queues) queue.stop();
  }

  private readConfig<T>(offset: number, width: number, read: () => T): T {
    if (!Number.isInteger(offset) || offset < 0 || offset + width > VIRTIO_MMIO_CONFIG_SIZE) {
      throw new RangeError(`config offset ${offset}+${width} is outside the ${VIRTIO_MMIO_CONFIG_SIZE}-byte config space`);
    }
    for (let attempt = 0; attempt < CONFIG_READ_ATTEMPTS; attempt++) {
      const before = this.window.read32(MmioRegister.ConfigGeneration);
      const value = read();
      if (this.window.read32(MmioRegister.ConfigGeneration) === before) return value;
    }
    throw new Error(`config space kept changing over ${CONFIG_READ_ATTEMPTS} reads`);
  }

  /** Little-endian unsigned value of `width` (≤ 4) config bytes at `offset`. */
  private configBytes(offset: number, width: number): number {
    if (width === 4 && offset % 4 === 0) return this.window.read32(MmioRegister.Config + offset);
    let value = 0;
    for (let byte = width - 1; byte >= 0; byte--) value = value * 256 + this.window.read8(MmioRegister.Config + offset + byte);
    return value;
  }
}

/** Brings the device behind `window` to DRIVER_OK (§3.1.1); throws VirtioSetupError saying which step failed. */
export function initializeVirtioDevice(window: RegisterWindow, ram: Ram, dma: DmaAllocator, options: VirtioDeviceOptions): VirtioDriverTransport {
  const unsupported = options.features & TRANSPORT_FEATURE_BITS & ~SUPPORTED_TRANSPORT_FEATURES;
  if (unsupported !== 0n) throw new RangeError(`the virtio driver library does not implement transport features 0x${unsupported.toString(16)}`);
  if (!Number.isInteger(options.queues) || options.queues < 0 || options.queues > 32) throw new RangeError(`queue count ${options.queues} is not in 0..32`);
  if (options.queueSize !== undefined && !isPowerOfTwo(options.queueSize)) throw new RangeError(`queue size ${options.queueSize} is not a power of two`);
  probe(window, options.deviceId);

  window.write32(MmioRegister.Status, 0);
  let polls = 0;
  while (window.read32(MmioRegister.Status) !== 0) {
    if (++polls >= RESET_POLLS) throw new VirtioSetupError('RESET_TIMEOUT', 'device status did not read back 0 after reset');
  }
  let status = DeviceStatus.ACKNOWLEDGE;
  window.write32(MmioRegister.Status, status);
  status |= DeviceStatus.DRIVER;
  window.write32(MmioRegister.Status, status);
  try {
    const negotiated = negotiateFeatures(window, options.features);
    status |= DeviceStatus.FEATURES_OK;
    window.write32(MmioRegister.Status, status);
    if ((window.read32(MmioRegister.Status) & DeviceStatus.FEATURES_OK) === 0) {
      throw new VirtioSetupError('FEATURES_REFUSED', `device refused features 0x${negotiated.toString(16)} (FEATURES_OK did not stick)`);
    }
    const eventIndex = hasFeature(negotiated, FeatureBit.EVENT_IDX);
    const queues: SplitQueueDriver[] = [];
    for (let index = 0; index < options.queues; index++) queues.push(setUpQueue(window, ram, dma, index, options.queueSize, eventIndex));
    status |= DeviceStatus.DRIVER_OK;
    window.write32(MmioRegister.Status, status);
    if ((window.read32(MmioRegister.Status) & DeviceStatus.DRIVER_OK) === 0) {
      throw new VirtioSetupError('DRIVER_OK_REFUSED', 'device did not accept DRIVER_OK');
    }
    return new VirtioDriverTransport(window, queues, negotiated);
  } catch (error) {
    window.write32(MmioRegister.Status, window.read32(MmioRegister.Status) | DeviceStatus.FAILED);
    throw error;
  }
}

function probe(window: RegisterWindow, deviceId: number): void {
  const magic = window.read32(MmioRegister.MagicValue);
  if (magic !== VIRTIO_MMIO_MAGIC) throw new VirtioSetupError('NOT_VIRTIO', `magic value 0x${magic.toString(16)} is not 0x${VIRTIO_MMIO_MAGIC.toString(16)} ("virt")`);
  const version = window.read32(MmioRegister.Version);
  if (version !== VIRTIO_MMIO_VERSION) {
    throw new VirtioSetupError('UNSUPPORTED_VERSION', `virtio-mmio version ${version} is not ${VIRTIO_MMIO_VERSION}${version === 1 ? ' (legacy devices are not supported)' : ''}`);
  }
  const found = window.read32(MmioRegister.DeviceID);
  if (found === 0) throw new VirtioSetupError('NO_DEVICE', 'device id 0: no device behind this register block');
  if (found !== deviceId) throw new VirtioSetupError('WRONG_DEVICE', `device id ${found} is not the expected ${deviceId}`);
}

function negotiateFeatures(window: RegisterWindow, wanted: bigint): bigint {
  let offered = 0n;
  for (let bank = 0; bank < 2; bank++) {
    window.write32(MmioRegister.DeviceFeaturesSel, bank);
    offered |= BigInt(window.read32(MmioRegister.DeviceFeatures)) << BigInt(32 * bank);
  }
  if (!hasFeature(offered, FeatureBit.VERSION_1)) throw new VirtioSetupError('LEGACY_ONLY', 'device does not offer VIRTIO_F_VERSION_1');
  const accepted = offered & (wanted | feature(FeatureBit.VERSION_1));
  for (let bank = 0; bank < 2; bank++) {
    window.write32(MmioRegister.DriverFeaturesSel, bank);
    window.write32(MmioRegister.DriverFeatures, Number((accepted >> BigInt(32 * bank)) & 0xffff_ffffn));
  }
  return accepted;
}

function setUpQueue(window: RegisterWindow, ram: Ram, dma: DmaAllocator, index: number, wantedSize: number | undefined, eventIndex: boolean): SplitQueueDriver {
  window.write32(MmioRegister.QueueSel, index);
  if (window.read32(MmioRegister.QueueReady) !== 0) throw new VirtioSetupError('QUEUE_UNAVAILABLE', `queue ${index} is already in use`);
  const maximum = window.read32(MmioRegister.QueueNumMax);
  if (maximum === 0) throw new VirtioSetupError('QUEUE_UNAVAILABLE', `queue ${index} does not exist (QueueNumMax 0)`);
  const size = Math.min(wantedSize ?? maximum, maximum);
  const descriptorTable = dma.allocate(descriptorTableBytes(size), DESCRIPTOR_TABLE_ALIGNMENT);
  const availableRing = dma.allocate(availableRingBytes(size), AVAILABLE_RING_ALIGNMENT);
  const usedRing = dma.allocate(usedRingBytes(size), USED_RING_ALIGNMENT);
  window.write32(MmioRegister.QueueNum, size);
  writeAddress(window, MmioRegister.QueueDescLow, MmioRegister.QueueDescHigh, descriptorTable);
  writeAddress(window, MmioRegister.QueueDriverLow, MmioRegister.QueueDriverHigh, availableRing);
  writeAddress(window, MmioRegister.QueueDeviceLow, MmioRegister.QueueDeviceHigh, usedRing);
  window.write32(MmioRegister.QueueReady, 1);
  if (window.read32(MmioRegister.QueueReady) !== 1) {
    throw new VirtioSetupError('QUEUE_REFUSED', `device refused queue ${index} (${size} entries at 0x${descriptorTable.toString(16)})`);
  }
  return new SplitQueueDriver({
    index, ram, size, descriptorTable, availableRing, usedRing, eventIndex,
    notify: (queue) => window.write32(MmioRegister.QueueNotify, queue),
  });
}

function writeAddress(window: RegisterWindow, low: number, high: number, address: number): void {
  window.write32(low, address % 2 ** 32);
  window.write32(high, Math.floor(address / 2 ** 32));
}
