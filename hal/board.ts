// The board: RAM, the interrupt controller, the clock, the firmware and the virtio
// devices, wired together in the main thread; and its power states.
//
// powerOn() builds the device tree, places it and the initrd in RAM and enters the
// kernel image on a thread of its own. The board then only runs device models. Power
// off resolves the board's exit status; reset starts over with fresh RAM and reset device
// models; kexec stops
// the kernel and every thread it started, keeps RAM as it is, and enters a kernel image
// with the device tree address the old kernel chose.

import { PAGE_SIZE, hex } from './address.js';
import { Clock, TIMEBASE_FREQUENCY } from './clock.js';
import { HardwareThread } from './cpu.js';
import { buildBoardTree, type BoardDeviceDescription } from './devicetree.js';
import { DoorbellPage } from './doorbells.js';
import { encodeFdt } from './fdt/encode.js';
import { fdtRead, fdtValue } from './fdt/values.js';
import { decodeFdt } from './fdt/decode.js';
import { findNode, getProperty } from './fdt/tree.js';
import { FIRMWARE_BASE, FIRMWARE_SIZE, FirmwareDevice, type HostRequestHandler, type KexecRequest } from './firmware.js';
import { InterruptController, INTERRUPT_SOURCES } from './irq.js';
import type { KernelEntry } from './kernel_entry.js';
import { INTERRUPT_CONTROLLER_BASE, INTERRUPT_CONTROLLER_SIZE, DEFAULT_CPUS, TIMER_BASE, TIMER_SIZE, virtioSlotBase, virtioSlotInterrupt } from './board_layout.js';
import { MAXIMUM_VIRTIO_DEVICES } from './device_kinds.js';
import { Ram } from './ram.js';
import { MachineTimer } from './timer.js';
import type { VirtioBackend } from './virtio/backend.js';
import { VirtioMmioTransport } from './virtio/transport.js';
import { VIRTIO_MMIO_COMPATIBLE, VIRTIO_MMIO_SIZE } from './virtio/registers.js';

/** The most characters of a reset reason the board keeps. */
const RESET_REASON_LIMIT = 1024;

export interface BoardOptions {
  readonly ramSize: number;
  /** Harts (--cpus), 1..64; DEFAULT_CPUS when absent. Each has a cpu node and a CLINT timer. */
  readonly cpus?: number;
  readonly bootargs: string;
  /** Host path of the kernel image (its compiled microkernel/main.js). */
  readonly kernelImage: string;
  /** The initrd: the resolved boot manifest. */
  readonly initrd: Uint8Array;
  /** The virtio device models, in slot order; created once and kept across resets. */
  readonly devices: readonly VirtioBackend[];
  /** Spare device models (--device), in the slots after `devices`: in the tree as `baton,spare`, left for drivers loaded later. */
  readonly spareDevices?: readonly VirtioBackend[];
  /** Where the firmware's debug console (the kernel's boot log) goes. */
  earlyOutput(text: string): void;
  /** A kernel image could not even report its own failure. */
  onKernelFailure?(message: string): void;
  /** Serves the firmware's host requests (kexec image loading, file writes). */
  hostRequest?: HostRequestHandler;
  /** RAM contents to boot with (a saved image); its length is the RAM size. */
  readonly ramImage?: Uint8Array;
  /** Boot with this incoming KHO handover (a saved RAM image's /chosen pointers). */
  readonly incomingHandover?: { readonly fdt: number; readonly scratch: number; readonly scratchLength: number };
  /** The board is about to reset or kexec (the system goes down and comes back): for what watches it from the host. */
  onPowerTransition?(kind: 'kexec' | 'reset'): void;
  /** Save RAM to this host file at power-off and at each kexec. */
  saveRam?(ram: Ram, why: 'poweroff' | 'kexec', chosen: { fdt?: number; scratch?: number; scratchLength?: number }): void;
}

/** Where the board puts the device tree and initrd: the top of RAM, as QEMU does. */
const TREE_RESERVE = 64 * 1024;

export class Board {
  readonly options: BoardOptions;
  readonly clock = new Clock();
  readonly doorbells = new DoorbellPage();
  readonly interrupts = new InterruptController(this.doorbells);
  readonly timer: MachineTimer;
  ram: Ram;
  /** Every virtio device model, in slot order: the board's own, then the spares. */
  private readonly devices: readonly VirtioBackend[];
  private firmware: FirmwareDevice;
  private transports: VirtioMmioTransport[] = [];
  private kernel: HardwareThread | undefined;
  private finished: ((status: number) => void) | undefined;
  readonly exited: Promise<number>;
  /** The blob of the last boot, for --dumpdtb and inspection. */
  deviceTree: Uint8Array = new Uint8Array();
  private transitioning = false;
  kexecCount = 0;
  /** After a reset, RAM is fresh: an incoming handover given at power-on no longer applies. */
  private resetDone = false;
  /** What the kernel said before it asked for the coming reset, and what the last reset was for. */
  private pendingResetReason: string | undefined;
  private resetReason: string | undefined;

  constructor(options: BoardOptions) {
    this.options = options;
    this.devices = [...options.devices, ...(options.spareDevices ?? [])];
    if (this.devices.length > MAXIMUM_VIRTIO_DEVICES) {
      throw new RangeError(`the board has ${MAXIMUM_VIRTIO_DEVICES} virtio slots; ${this.devices.length} devices do not fit`);
    }
    this.timer = new MachineTimer(this.clock, options.cpus ?? DEFAULT_CPUS);
    this.ram = Ram.allocate(options.ramImage?.length ?? options.ramSize);
    if (options.ramImage) this.ram.write(this.ram.base, options.ramImage);
    this.firmware = this.createFirmware();
    this.exited = new Promise((resolve) => (this.finished = resolve));
  }

  /** The device tree blob this board describes itself with (for the first boot). */
  buildDeviceTree(): Uint8Array {
    const initrdStart = this.initrdAddress();
    const handover = this.resetDone ? undefined : this.options.incomingHandover;
    const chosen: Record<string, Uint8Array> = handover
      ? {
        'linux,kho-fdt': fdtValue.u64(handover.fdt, PAGE_SIZE),
        'linux,kho-scratch': fdtValue.u64(handover.scratch, handover.scratchLength),
      }
      : {};
    const devices: BoardDeviceDescription[] = this.devices.map((backend, slot) => ({
      name: 'virtio_mmio',
      base: virtioSlotBase(slot),
      size: VIRTIO_MMIO_SIZE,
      interrupt: virtioSlotInterrupt(slot),
      compatible: [VIRTIO_MMIO_COMPATIBLE],
      ...(slot >= this.options.devices.length ? { spare: true } : {}),
      ...(backend.deviceTreeProperties ? { properties: backend.deviceTreeProperties } : {}),
    }));
    const tree = buildBoardTree({
      model: 'baton emulated RISC-V board',
      ram: { base: this.ram.base, size: this.ram.size },
      cpus: this.timer.harts,
      timebaseFrequency: TIMEBASE_FREQUENCY,
      bootargs: this.options.bootargs,
      ...(devices.length > 0 ? { stdoutPath: `/soc/virtio_mmio@${virtioSlotBase(0).toString(16)}` } : {}),
      interruptController: { base: INTERRUPT_CONTROLLER_BASE, size: INTERRUPT_CONTROLLER_SIZE, sources: INTERRUPT_SOURCES - 1 },
      timer: { base: TIMER_BASE, size: TIMER_SIZE },
      power: { base: FIRMWARE_BASE, size: FIRMWARE_SIZE },
      devices,
      chosen: {
        'linux,initrd-start': fdtValue.u64(initrdStart),
        'linux,initrd-end': fdtValue.u64(initrdStart + this.options.initrd.length),
        ...chosen,
        ...(this.resetReason === undefined ? {} : { 'baton,reset-reason': fdtValue.string(this.resetReason) }),
      },
    });
    return encodeFdt(tree);
  }

  /** Builds the machine and enters the kernel. Resolves once the kernel thread runs. */
  powerOn(): void {
    this.transports = this.devices.map((backend, slot) => new VirtioMmioTransport({
      ram: this.ram,
      irq: this.interrupts,
      interrupt: virtioSlotInterrupt(slot),
      base: virtioSlotBase(slot),
      backend,
    }));
    this.firmware.start();
    this.coldBoot();
  }

  /** Stops everything the board runs and resolves `exited` with `status`. */
  async powerOff(status: number): Promise<void> {
    await this.stopKernel();
    this.options.saveRam?.(this.ram, 'poweroff', {});
    this.firmware.stop();
    for (const transport of this.transports) transport.close();
    for (const backend of this.devices) backend.close?.();
    this.finished?.(status);
  }

  private coldBoot(): void {
    this.ram.write(this.initrdAddress(), this.options.initrd);
    this.deviceTree = this.buildDeviceTree();
    const address = this.treeAddress();
    this.ram.write(address, this.deviceTree);
    this.enter(this.options.kernelImage, address);
  }

  private enter(image: string, deviceTree: number): void {
    const entry: KernelEntry = {
      ram: this.ram.descriptor,
      doorbells: this.doorbells.buffer,
      interrupts: this.interrupts.buffer,
      clock: this.clock.buffer,
      timer: this.timer.descriptor,
      bus: [this.firmware.descriptor, ...this.transports.map((transport) => transport.descriptor)],
      deviceTree,
      image,
    };
    const kernel = new HardwareThread(new URL(`file://${image}`), { name: 'kernel', data: entry });
    this.kernel = kernel;
    kernel.on('error', (error) => this.kernelFailed(kernel, `kernel panic: ${error.stack ?? error.message}`));
    kernel.on('message', (message) => {
      const panic = message as { type?: string; message?: string };
      if (panic?.type === 'panic') this.kernelFailed(kernel, `kernel panic: ${panic.message}`);
    });
    kernel.on('exit', (code) => {
      if (this.kernel === kernel && !this.transitioning) this.kernelFailed(kernel, `kernel exited with code ${code}`);
    });
  }

  private kernelFailed(kernel: HardwareThread, message: string): void {
    if (this.kernel !== kernel || this.transitioning) return;
    this.options.onKernelFailure?.(message);
    this.options.earlyOutput(message + '\n');
    void this.powerOff(1);
  }

  private async stopKernel(): Promise<void> {
    const kernel = this.kernel;
    this.kernel = undefined;
    this.transitioning = true;
    try {
      // Terminating the kernel's thread ends every thread it started, as a CPU reset would.
      if (kernel) await kernel.terminate();
    } finally {
      this.transitioning = false;
    }
  }

  private createFirmware(): FirmwareDevice {
    const hostRequest = this.options.hostRequest;
    return new FirmwareDevice(this.ram, {
      powerOff: (status) => void this.powerOff(status),
      reset: () => void this.reset(),
      kexec: (request) => void this.kexec(request),
      hostRequest: (request, ram) => {
        // Why the kernel is about to reset the board: kept by the board (as a reset-cause
        // register is) and given to the next boot in /chosen baton,reset-reason.
        if (request.op === 'reset-reason') {
          if (typeof request.text !== 'string') return { error: 'reset-reason needs a text' };
          this.pendingResetReason = request.text.slice(0, RESET_REASON_LIMIT);
          return { kept: this.pendingResetReason.length };
        }
        return hostRequest ? hostRequest(request, ram) : { error: 'the board serves no host requests' };
      },
      consoleWrite: (bytes) => this.options.earlyOutput(new TextDecoder().decode(bytes)),
    });
  }

  /**
   * Cold reset: fresh RAM, the same device models (reset, their host side kept: disk
   * images stay open, consoles keep their input), the first kernel image.
   */
  private async reset(): Promise<void> {
    this.options.onPowerTransition?.('reset');
    await this.stopKernel();
    this.firmware.stop();
    for (const transport of this.transports) transport.detach();
    this.ram = Ram.allocate(this.ram.size);
    this.resetDone = true;
    this.resetReason = this.pendingResetReason;
    this.pendingResetReason = undefined;
    this.firmware = this.createFirmware();
    this.powerOn();
  }

  /** kexec: RAM stays, the kernel and its threads go, the image is entered with the new tree. */
  private async kexec(request: KexecRequest): Promise<void> {
    this.options.onPowerTransition?.('kexec');
    await this.stopKernel();
    this.kexecCount++;
    if (this.options.saveRam) this.options.saveRam(this.ram, 'kexec', this.chosenPointers(request.deviceTree));
    this.enter(request.image, request.deviceTree);
  }

  /**
   * Where the first boot's device tree goes: the top of RAM, as QEMU does, with the
   * initrd below it — or, when booting a saved handover, the bottom of its largest KHO
   * scratch area with the initrd above it (every page outside scratch may be preserved,
   * and the scratch array sits at the top of an area).
   */
  private treeAddress(): number {
    return this.handoverArea()?.addr ?? this.ram.end - TREE_RESERVE;
  }

  private initrdAddress(): number {
    const area = this.handoverArea();
    if (area) return area.addr + TREE_RESERVE;
    const size = Math.ceil(this.options.initrd.length / PAGE_SIZE) * PAGE_SIZE;
    return this.ram.end - TREE_RESERVE - size;
  }

  /** The largest scratch area of the incoming handover given at power-on, if any fits the tree and initrd. */
  private handoverArea(): { addr: number; size: number } | undefined {
    const handover = this.resetDone ? undefined : this.options.incomingHandover;
    if (!handover) return undefined;
    let best = { addr: 0, size: 0 };
    for (let offset = 0; offset + 16 <= handover.scratchLength; offset += 16) {
      if (!this.ram.contains(handover.scratch + offset, 16)) break;
      const area = { addr: this.ram.readU64Number(handover.scratch + offset), size: this.ram.readU64Number(handover.scratch + offset + 8) };
      if (area.size > best.size && this.ram.contains(area.addr, area.size)) best = area;
    }
    if (best.size < TREE_RESERVE * 4 + this.options.initrd.length) return undefined;
    return best;
  }

  /** The KHO pointers in the device tree at `address`, for the saved-RAM hint. */
  private chosenPointers(address: number): { fdt?: number; scratch?: number; scratchLength?: number } {
    try {
      const size = new DataView(this.ram.buffer, this.ram.offset(address, 8)).getUint32(4, false);
      const tree = decodeFdt(this.ram.read(address, size));
      const chosen = findNode(tree.root, '/chosen');
      const fdt = chosen && getProperty(chosen, 'linux,kho-fdt');
      const scratch = chosen && getProperty(chosen, 'linux,kho-scratch');
      if (!fdt || !scratch) return {};
      const [fdtCell] = fdtRead.cells(fdt, 2, 2);
      const [scratchCell] = fdtRead.cells(scratch, 2, 2);
      return { fdt: Number(fdtCell!.address), scratch: Number(scratchCell!.address), scratchLength: Number(scratchCell!.size) };
    } catch {
      return {};
    }
  }
}
