// The device side of virtio over MMIO (virtio 1.2 §4.2, version 2): one register block,
// served from the board thread, in front of one backend (console, block, entropy).
//
// The driver's stores trap here (hal/mmio.ts); after each one the readable registers are
// rewritten so the driver's next load sees the effect. What this file enforces:
//
//   Status    §2.1   bits only accumulate; 0 resets the device (queues, features,
//                    interrupts); DEVICE_NEEDS_RESET is the device's own bit.
//   Features  §2.2   offered in 32-bit banks; FEATURES_OK stays clear if the driver took
//                    a bit not offered, left out VERSION_1, or the backend refuses the mix.
//   Queues    §4.2.3.2  QueueSel selects; QueueNum ≤ QueueNumMax and a power of two;
//                    areas aligned and inside RAM; QueueReady stays 0 when refused; only
//                    between FEATURES_OK and DRIVER_OK.
//   DRIVER_OK        needs FEATURES_OK; the backend is activated and every ready queue
//                    is treated as notified once.
//   Notify           the posted QueueNotify bits → backend.queueNotified(index).
//   Interrupts       InterruptStatus bit 0 (used buffer) / 1 (config change) raise the
//                    interrupt controller source; InterruptACK clears bits.
//
// Problems caused by the driver never throw: they are recorded as faults (see `faults`,
// `onFault`) and, when the device cannot go on, DEVICE_NEEDS_RESET is set and a
// configuration-change interrupt tells the driver (§2.1.2).

import { type InterruptController } from '../irq.js';
import { RegisterBank, type RegisterBankHandlers, type RegisterBlockDescriptor, createRegisterBlock } from '../mmio.js';
import type { Ram } from '../ram.js';
import type { FaultSeverity, VirtioBackend, VirtioDeviceContext, VirtioFault } from './backend.js';
import {
  BATON_VENDOR_ID, DeviceStatus, FeatureBit, InterruptBit, MmioRegister, VIRTIO_MMIO_CONFIG_SIZE, VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_SIZE, VIRTIO_MMIO_VERSION, feature, hasFeature,
} from './registers.js';
import { MAXIMUM_QUEUE_SIZE, isPowerOfTwo, queueLayoutProblem } from './ring.js';
import { SplitQueueDevice } from './split_queue_device.js';
import { QueueStatistics } from './queue_statistics.js';

export interface VirtioMmioTransportOptions {
  readonly ram: Ram;
  readonly irq: InterruptController;
  /** Interrupt controller source this device raises. */
  readonly interrupt: number;
  /** Physical address of the register block (device tree `reg`). */
  readonly base: number;
  readonly backend: VirtioBackend;
  /** Called for every fault as it is recorded. */
  readonly onFault?: (fault: VirtioFault) => void;
}

/** Driver-written setup of one queue, before it becomes a SplitQueueDevice. */
interface QueueSetup {
  readonly maximumSize: number;
  size: number;
  ready: boolean;
  descriptorTable: number;
  availableRing: number;
  usedRing: number;
}

const KEPT_FAULTS = 32;
const ALL_ONES = 0xffff_ffff;

export class VirtioMmioTransport {
  readonly descriptor: RegisterBlockDescriptor;
  readonly backend: VirtioBackend;
  readonly interrupt: number;
  private readonly ram: Ram;
  private readonly irq: InterruptController;
  private readonly bank: RegisterBank;
  private readonly handlers: RegisterBankHandlers;
  private readonly onFault: ((fault: VirtioFault) => void) | undefined;
  private readonly setups: QueueSetup[];
  private readonly faultLog: VirtioFault[] = [];
  private activeQueues: SplitQueueDevice[] = [];
  private deviceStatus = 0;
  private deviceFeaturesSelect = 0;
  private driverFeaturesSelect = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private queueSelect = 0;
  private pendingInterrupts = 0;
  private configGeneration = 0;
  private closed = false;
  /** Queue occupancy for introspection (the kernel's `devices`). */
  private readonly statistics = new QueueStatistics();

  /** Builds the device and starts serving its registers. Throws RangeError for an impossible backend. */
  constructor(options: VirtioMmioTransportOptions) {
    const { backend } = options;
    if (!hasFeature(backend.features, FeatureBit.VERSION_1)) throw new RangeError(`device ${backend.deviceId} must offer VIRTIO_F_VERSION_1`);
    if (backend.queueSizes.length > 32) throw new RangeError('virtio-mmio notifies at most 32 queues');
    for (const size of backend.queueSizes) {
      if (!isPowerOfTwo(size) || size > MAXIMUM_QUEUE_SIZE) throw new RangeError(`queue size ${size} is not a power of two in 1..${MAXIMUM_QUEUE_SIZE}`);
    }
    if ((backend.config?.length ?? 0) > VIRTIO_MMIO_CONFIG_SIZE) throw new RangeError(`config space larger than ${VIRTIO_MMIO_CONFIG_SIZE} bytes`);
    this.backend = backend;
    this.ram = options.ram;
    this.irq = options.irq;
    this.interrupt = options.interrupt;
    this.onFault = options.onFault;
    this.descriptor = { ...createRegisterBlock(options.base, VIRTIO_MMIO_SIZE, MmioRegister.QueueNotify), statistics: this.statistics.buffer };
    this.bank = new RegisterBank(this.descriptor);
    this.setups = backend.queueSizes.map((maximumSize) => emptySetup(maximumSize));
    this.handlers = {
      write: (offset, value) => this.guard(`write of 0x${value.toString(16)} to 0x${offset.toString(16)}`, () => this.applyWrite(offset, value)),
      doorbell: (bits) => this.guard('queue notification', () => this.applyNotify(bits)),
    };
    this.bank.set32(MmioRegister.MagicValue, VIRTIO_MMIO_MAGIC);
    this.bank.set32(MmioRegister.Version, VIRTIO_MMIO_VERSION);
    this.bank.set32(MmioRegister.DeviceID, backend.deviceId);
    this.bank.set32(MmioRegister.VendorID, BATON_VENDOR_ID);
    for (const register of [MmioRegister.SHMLenLow, MmioRegister.SHMLenHigh, MmioRegister.SHMBaseLow, MmioRegister.SHMBaseHigh]) {
      this.bank.set32(register, ALL_ONES); // no shared memory regions (§4.2.2: length -1)
    }
    this.copyConfig();
    this.refreshRegisters();
    const context: VirtioDeviceContext = {
      ram: this.ram,
      configChanged: () => this.configChanged(),
      report: (message, severity) => this.fault(message, severity),
    };
    backend.attach?.(context);
    this.bank.start(this.handlers);
  }

  /** Current device status (§2.1). */
  get status(): number {
    return this.deviceStatus;
  }

  /** Features both sides agreed on at FEATURES_OK (0 before). */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  /** Current InterruptStatus bits. */
  get interruptStatus(): number {
    return this.pendingInterrupts;
  }

  /** The most recent faults, oldest first. */
  get faults(): readonly VirtioFault[] {
    return this.faultLog;
  }

  /**
   * Applies whatever register writes and notifications are waiting now; returns true if
   * there were any. The serving loop does this by itself; same-thread tests call it.
   */
  serviceRegisters(): boolean {
    return this.bank.serviceOnce(this.handlers);
  }

  /** Stops serving registers and closes the backend. */
  close(): void {
    this.detach();
    this.backend.close?.();
  }

  /**
   * Board reset: stops serving registers and resets the device model as a reset line
   * would (queues and requests in flight gone), leaving it open for the next board's
   * transport. A no-op once closed or detached.
   */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    this.bank.stop();
    for (const queue of this.activeQueues) queue.stop();
    this.activeQueues = [];
    this.backend.reset();
  }

  private applyWrite(offset: number, value: number): void {
    if (offset >= MmioRegister.Config) return; // no backend has writable config fields
    switch (offset) {
      case MmioRegister.DeviceFeaturesSel: this.deviceFeaturesSelect = value; break;
      case MmioRegister.DriverFeatures: this.writeDriverFeatures(value); break;
      case MmioRegister.DriverFeaturesSel: this.driverFeaturesSelect = value; break;
      case MmioRegister.QueueSel: this.queueSelect = value; break;
      case MmioRegister.QueueNum: this.writeQueueSize(value); break;
      case MmioRegister.QueueReady: if (value === 0) this.disableQueue(); else this.enableQueue(); break;
      case MmioRegister.QueueDescLow: this.writeQueueAddress('descriptorTable', value, 'low'); break;
      case MmioRegister.QueueDescHigh: this.writeQueueAddress('descriptorTable', value, 'high'); break;
      case MmioRegister.QueueDriverLow: this.writeQueueAddress('availableRing', value, 'low'); break;
      case MmioRegister.QueueDriverHigh: this.writeQueueAddress('availableRing', value, 'high'); break;
      case MmioRegister.QueueDeviceLow: this.writeQueueAddress('usedRing', value, 'low'); break;
      case MmioRegister.QueueDeviceHigh: this.writeQueueAddress('usedRing', value, 'high'); break;
      case MmioRegister.InterruptACK: this.pendingInterrupts &= ~value; break;
      case MmioRegister.Status: this.writeStatus(value); break;
      case MmioRegister.SHMSel: break; // every region reads as absent
      case MmioRegister.QueueReset: this.fault('QueueReset written but VIRTIO_F_RING_RESET is not offered', 'warning'); break;
      default: this.fault(`write to read-only or unknown register 0x${offset.toString(16)}`, 'warning');
    }
    this.refreshRegisters();
  }

  private applyNotify(bits: number): void {
    if ((this.deviceStatus & DeviceStatus.DRIVER_OK) === 0 || (this.deviceStatus & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return;
    for (let index = 0; index < this.activeQueues.length; index++) {
      if ((bits & (1 << index)) !== 0 && this.activeQueues[index]!.enabled) this.backend.queueNotified(index);
    }
    this.publishStatistics();
  }

  /** Publishes each queue's size and the buffers the device holds (avail.idx - used.idx, read from RAM). */
  private publishStatistics(): void {
    for (let index = 0; index < this.setups.length; index++) {
      const setup = this.setups[index]!;
      const running = setup.ready && this.activeQueues[index]?.enabled === true;
      // The rings were checked to lie in RAM when the queue was enabled.
      const inUse = running ? (this.ram.readU16(setup.availableRing + 2) - this.ram.readU16(setup.usedRing + 2)) & 0xffff : 0;
      this.statistics.publish(index, running ? setup.size : 0, Math.min(inUse, setup.size));
    }
  }

  private writeDriverFeatures(value: number): void {
    if ((this.deviceStatus & DeviceStatus.FEATURES_OK) !== 0) {
      this.fault('DriverFeatures written after FEATURES_OK; ignored', 'warning');
      return;
    }
    if (this.driverFeaturesSelect > 1) {
      if (value !== 0) this.fault(`DriverFeatures bank ${this.driverFeaturesSelect} does not exist; ignored`, 'warning');
      return;
    }
    const shift = BigInt(32 * this.driverFeaturesSelect);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value >>> 0) << shift);
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.resetDevice();
      return;
    }
    const old = this.deviceStatus;
    const requested = (value & ~DeviceStatus.DEVICE_NEEDS_RESET) | (old & DeviceStatus.DEVICE_NEEDS_RESET);
    if ((old & ~requested) !== 0) {
      this.fault(`Status 0x${value.toString(16)} clears bits of 0x${old.toString(16)}; only a write of 0 may (reset)`, 'warning');
      return;
    }
    let next = requested;
    const added = next & ~old;
    if ((added & DeviceStatus.FEATURES_OK) !== 0) {
      const problem = this.featuresProblem(next);
      if (problem === undefined) {
        this.negotiated = this.driverFeatures;
      } else {
        next &= ~DeviceStatus.FEATURES_OK;
        this.fault(`FEATURES_OK refused: ${problem}`, 'warning');
      }
    }
    const activate = (added & DeviceStatus.DRIVER_OK) !== 0;
    if (activate && (next & DeviceStatus.FEATURES_OK) === 0) {
      this.fault('DRIVER_OK refused: features were not accepted (FEATURES_OK clear)', 'warning');
      next &= ~DeviceStatus.DRIVER_OK;
    }
    if (activate && (next & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) {
      this.fault('DRIVER_OK refused: the device needs a reset', 'warning');
      next &= ~DeviceStatus.DRIVER_OK;
    }
    if ((added & DeviceStatus.FAILED) !== 0) this.fault('driver set FAILED: it gave up on the device', 'warning');
    this.deviceStatus = next;
    if (activate && (next & DeviceStatus.DRIVER_OK) !== 0) this.activate();
  }

  private featuresProblem(status: number): string | undefined {
    if ((status & DeviceStatus.DRIVER) === 0) return 'DRIVER is not set';
    const unoffered = this.driverFeatures & ~this.backend.features;
    if (unoffered !== 0n) return `driver accepted features the device does not offer (${describeBits(unoffered)})`;
    if (!hasFeature(this.driverFeatures, FeatureBit.VERSION_1)) return 'driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)';
    return this.backend.validateFeatures?.(this.driverFeatures);
  }

  private activate(): void {
    const indirect = hasFeature(this.negotiated, FeatureBit.INDIRECT_DESC);
    const eventIndex = hasFeature(this.negotiated, FeatureBit.EVENT_IDX);
    const signals = {
      interrupt: () => this.raiseInterrupt(InterruptBit.USED_BUFFER),
      fault: (message: string) => this.fault(message, 'needs-reset'),
    };
    this.activeQueues = this.setups.map((setup, index) => setup.ready
      ? new SplitQueueDevice(index, { ...setup, ram: this.ram, indirect, eventIndex, signals })
      : new SplitQueueDevice(index));
    this.backend.activate(this.activeQueues, this.negotiated);
    // Buffers the driver posted before DRIVER_OK (receive queues) are picked up now.
    for (const queue of this.activeQueues) {
      if (queue.enabled && (this.deviceStatus & DeviceStatus.DEVICE_NEEDS_RESET) === 0) this.backend.queueNotified(queue.index);
    }
    this.publishStatistics();
  }

  private resetDevice(): void {
    for (const queue of this.activeQueues) queue.stop();
    this.activeQueues = [];
    this.backend.reset();
    this.deviceStatus = 0;
    this.deviceFeaturesSelect = 0;
    this.driverFeaturesSelect = 0;
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this.queueSelect = 0;
    this.pendingInterrupts = 0;
    for (let index = 0; index < this.setups.length; index++) this.setups[index] = emptySetup(this.setups[index]!.maximumSize);
    this.publishStatistics();
  }

  private selectedQueue(): QueueSetup | undefined {
    return this.setups[this.queueSelect];
  }

  private writeQueueSize(value: number): void {
    const setup = this.selectedQueue();
    if (setup === undefined) return this.fault(`QueueNum written for absent queue ${this.queueSelect}`, 'warning');
    if (setup.ready) return this.fault(`QueueNum written while queue ${this.queueSelect} is ready; ignored`, 'warning');
    setup.size = value;
  }

  private writeQueueAddress(field: 'descriptorTable' | 'availableRing' | 'usedRing', value: number, half: 'low' | 'high'): void {
    const setup = this.selectedQueue();
    if (setup === undefined) return this.fault(`queue address written for absent queue ${this.queueSelect}`, 'warning');
    if (setup.ready) return this.fault(`queue address written while queue ${this.queueSelect} is ready; ignored`, 'warning');
    const low = setup[field] % 2 ** 32;
    const high = Math.floor(setup[field] / 2 ** 32);
    setup[field] = half === 'low' ? high * 2 ** 32 + value : value * 2 ** 32 + low;
  }

  private enableQueue(): void {
    const index = this.queueSelect;
    const setup = this.selectedQueue();
    const problem = this.queueProblem(setup);
    if (problem !== undefined) return this.fault(`queue ${index} not enabled: ${problem}`, 'warning');
    setup!.ready = true;
  }

  private queueProblem(setup: QueueSetup | undefined): string | undefined {
    if (setup === undefined) return 'no such queue';
    if (setup.ready) return undefined;
    if ((this.deviceStatus & DeviceStatus.FEATURES_OK) === 0) return 'FEATURES_OK is not set';
    if ((this.deviceStatus & DeviceStatus.DRIVER_OK) !== 0) return 'the device is already running (DRIVER_OK)';
    if (setup.size === 0 || setup.size > setup.maximumSize) return `QueueNum ${setup.size} is not in 1..${setup.maximumSize}`;
    if (!Number.isSafeInteger(setup.descriptorTable) || !Number.isSafeInteger(setup.availableRing) || !Number.isSafeInteger(setup.usedRing)) {
      return 'a queue address is beyond 2^53';
    }
    const events = hasFeature(this.negotiated, FeatureBit.EVENT_IDX) ? 'with-event-fields' : 'without-event-fields';
    return queueLayoutProblem(this.ram, setup, events);
  }

  private disableQueue(): void {
    const setup = this.selectedQueue();
    if (setup === undefined) return;
    setup.ready = false;
    this.activeQueues[this.queueSelect]?.stop();
  }

  private raiseInterrupt(bit: number): void {
    if (bit === InterruptBit.USED_BUFFER) this.publishStatistics();
    this.pendingInterrupts |= bit;
    this.bank.set32(MmioRegister.InterruptStatus, this.pendingInterrupts);
    this.irq.raise(this.interrupt);
  }

  private configChanged(): void {
    this.copyConfig();
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    this.bank.set32(MmioRegister.ConfigGeneration, this.configGeneration);
    if ((this.deviceStatus & DeviceStatus.DRIVER_OK) !== 0) this.raiseInterrupt(InterruptBit.CONFIG_CHANGE);
  }

  private fault(message: string, severity: FaultSeverity): void {
    const fault: VirtioFault = { deviceId: this.backend.deviceId, severity, message };
    this.faultLog.push(fault);
    if (this.faultLog.length > KEPT_FAULTS) this.faultLog.shift();
    this.onFault?.(fault);
    if (severity !== 'needs-reset' || (this.deviceStatus & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return;
    this.deviceStatus |= DeviceStatus.DEVICE_NEEDS_RESET;
    for (const queue of this.activeQueues) queue.stop();
    this.bank.set32(MmioRegister.Status, this.deviceStatus);
    if ((this.deviceStatus & DeviceStatus.DRIVER_OK) !== 0) this.raiseInterrupt(InterruptBit.CONFIG_CHANGE);
  }

  /** Runs a register handler; an exception (a device-model bug) becomes a needs-reset fault, not a crash of the board. */
  private guard(what: string, body: () => void): void {
    try {
      body();
    } catch (error) {
      this.fault(`device model failed handling ${what}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`, 'needs-reset');
      this.refreshRegisters();
    }
  }

  private copyConfig(): void {
    const config = this.backend.config ?? new Uint8Array(0);
    for (let offset = 0; offset < VIRTIO_MMIO_CONFIG_SIZE; offset++) {
      this.bank.set8(MmioRegister.Config + offset, config[offset] ?? 0);
    }
  }

  /** Rewrites every readable register from the device state. */
  private refreshRegisters(): void {
    const setup = this.selectedQueue();
    const select = this.deviceFeaturesSelect;
    const offered = select <= 1 ? Number((this.backend.features >> BigInt(32 * select)) & 0xffff_ffffn) : 0;
    this.bank.set32(MmioRegister.DeviceFeatures, offered);
    this.bank.set32(MmioRegister.QueueNumMax, setup?.maximumSize ?? 0);
    this.bank.set32(MmioRegister.QueueReady, setup?.ready === true ? 1 : 0);
    this.bank.set32(MmioRegister.InterruptStatus, this.pendingInterrupts);
    this.bank.set32(MmioRegister.Status, this.deviceStatus);
    this.bank.set32(MmioRegister.ConfigGeneration, this.configGeneration);
  }
}

function emptySetup(maximumSize: number): QueueSetup {
  return { maximumSize, size: 0, ready: false, descriptorTable: 0, availableRing: 0, usedRing: 0 };
}

function describeBits(set: bigint): string {
  const bits: number[] = [];
  for (let bit = 0; bit < 64; bit++) if ((set & feature(bit)) !== 0n) bits.push(bit);
  return `bit${bits.length === 1 ? '' : 's'} ${bits.join(', ')}`;
}
