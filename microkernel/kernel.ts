// The kernel: boots from the device tree, binds drivers, starts the boot manifest's
// programs under the supervisor, and serves the kernel interface.
//
// Boot sequence:
//   1. read the device tree at the address the board entered us with;
//   2. print the boot log on the firmware console (memory, devices);
//   3. read the boot manifest from the initrd (/chosen linux,initrd-start/end);
//   4. bind device nodes to drivers by compatible (binding.ts);
//   5. start servers and driver instances in manifest order, all at once;
//   6. report the time to all-ready; from then on supervise.

import type { Logger } from 'pino';
import { hex, PAGE_SIZE } from '../hal/address.js';
import { Clock } from '../hal/clock.js';
import { DoorbellPage, DOORBELL_SLOTS } from '../hal/doorbells.js';
import { FirmwareCalls } from '../hal/firmware.js';
import { KERNEL_IMAGE_SIZE, type KernelEntry } from '../hal/kernel_entry.js';
import type { RegisterBlockDescriptor } from '../hal/mmio.js';
import { Ram } from '../hal/ram.js';
import { decodeFdt, readFdtHeader } from '../hal/fdt/decode.js';
import { toDts } from '../hal/fdt/dts.js';
import type { Fdt } from '../hal/fdt/tree.js';
import { fdtRead } from '../hal/fdt/values.js';
import { readBoardTree, type BoardTreeSummary } from '../hal/devicetree.js';
import { Endpoint } from '../ipc/endpoint.js';
import type { ChannelDescriptor } from '../ipc/channel.js';
import { kernelInterface } from '../ipc/interfaces/kernel.js';
import { logInterface } from '../ipc/interfaces/log.js';
import { instanceNames, matchDriver } from './binding.js';
import { DmaPool } from './dma_pool.js';
import { kernelHandlers } from './kernel_service.js';
import { validateManifest, type BootManifest } from './manifest.js';
import { renderMemoryMap, type MemoryRegion } from './memory_text.js';
import { NameService } from './name_service.js';
import { EarlyConsole } from './printk.js';
import { Process } from './process.js';
import { HEARTBEAT_WORDS, type BootInfo, type StartKind } from './protocol.js';
import { Supervisor } from './supervisor.js';
import { ThreadPool } from './thread_pool.js';
import { createLogger } from './userlib/logger.js';

export const KERNEL_SLOT = 1;
const VIRTIO_DEVICE_ID_OFFSET = 0x008;
const EARLY_CONSOLE_BUFFER = 1024 * 1024;
const DMA_POOL_OFFSET = KERNEL_IMAGE_SIZE;
const DMA_POOL_SIZE = 16 * 1024 * 1024;

export class Kernel {
  readonly entry: KernelEntry;
  readonly ram: Ram;
  readonly clock: Clock;
  readonly doorbells: DoorbellPage;
  readonly firmware: FirmwareCalls;
  readonly console: EarlyConsole;
  readonly heartbeats = new Int32Array(new SharedArrayBuffer(DOORBELL_SLOTS * HEARTBEAT_WORDS * 4));
  readonly endpoint: Endpoint;
  readonly log: Logger;
  private readonly setLogSink: ReturnType<typeof createLogger>['setSink'];
  readonly tree: Fdt;
  readonly board: BoardTreeSummary;
  readonly names: NameService;
  readonly supervisor: Supervisor;
  readonly dma: DmaPool;
  readonly pool: ThreadPool;
  private bootMs: Promise<number> | undefined;
  private nextSlot = KERNEL_SLOT + 1;
  private powering = false;
  /** The `verbose` boot argument: every log level on the console, debug records kept. */
  readonly verbose: boolean;
  readonly regions: MemoryRegion[] = [];

  constructor(entry: KernelEntry) {
    this.entry = entry;
    this.ram = Ram.attach(entry.ram);
    this.clock = new Clock(entry.clock);
    this.doorbells = new DoorbellPage(entry.doorbells);
    const firmwareBlock = this.busBlock((block) => block.size === 0x1000 && block.base === 0x0010_0000);
    this.firmware = new FirmwareCalls(firmwareBlock, this.ram);
    this.console = new EarlyConsole(this.firmware, this.clock, this.ram.base + EARLY_CONSOLE_BUFFER, PAGE_SIZE);

    const header = readFdtHeader(this.ram.subarray(entry.deviceTree, 40));
    this.tree = decodeFdt(this.ram.read(entry.deviceTree, header.totalSize));
    this.board = readBoardTree(this.tree);

    this.verbose = this.board.bootargs.split(/\s+/).includes('verbose');
    const logger = createLogger('kernel', 0, this.clock, this.verbose ? 'debug' : 'info');
    this.log = logger.logger;
    this.setLogSink = logger.setSink;
    this.endpoint = new Endpoint({ doorbells: this.doorbells, slot: KERNEL_SLOT, name: 'kernel' });
    this.dma = new DmaPool(this.ram, this.ram.base + DMA_POOL_OFFSET, DMA_POOL_SIZE);
    this.pool = new ThreadPool(new URL('./userlib/thread_main.js', import.meta.url));
    this.names = new NameService({
      doorbells: this.doorbells,
      kernelSlot: KERNEL_SLOT,
      find: (name) => this.supervisor.find(name),
      attach: (server, channel, clientName) => this.attach(server, channel, clientName),
      warn: (message, fields) => this.log.warn(fields, message),
    });
    this.supervisor = new Supervisor({
      log: this.log,
      pool: this.pool,
      names: this.names,
      dma: this.dma,
      heartbeats: this.heartbeats,
      nowMs: () => this.clock.nowMs(),
      bootInfo: (process, start) => this.bootInfo(process, start),
    });
    this.regions.push(
      { base: this.ram.base, size: KERNEL_IMAGE_SIZE, purpose: 'kernel image' },
      { base: this.ram.base + DMA_POOL_OFFSET, size: DMA_POOL_SIZE, purpose: 'DMA pool (driver queues and buffers)' },
      { base: entry.deviceTree, size: header.totalSize, purpose: 'device tree blob' },
    );
  }

  /** Runs the boot sequence; resolves when every boot program is ready or failed. */
  async boot(): Promise<number> {
    const started = this.clock.nowMs();
    this.console.print(`baton kernel: entered with device tree at ${hex(this.entry.deviceTree)} (${this.board.model})`);
    for (const range of this.board.ram) this.console.print(`memory: ${range.size / (1024 * 1024)} MiB at ${hex(range.base)}`);
    this.console.print(`command line: ${this.board.bootargs}`);

    const manifest = this.readManifest();
    this.endpoint.serve(kernelInterface, kernelHandlers({
      supervisor: this.supervisor,
      heartbeats: this.heartbeats,
      nowMs: () => this.clock.nowMs(),
      bootFinished: () => this.bootMs ?? Promise.resolve(0),
      memoryMapText: () => renderMemoryMap(this.ram, this.regions, this.board, this.dma),
      deviceTreeText: () => toDts(this.tree),
      powerDown: (action) => void this.powerDown(action),
    }));
    this.endpoint.start();
    const log = this.endpoint.client(logInterface, {
      connect: () => this.names.lookup('kernel', 'log', 'log'),
      reconnect: () => this.names.lookup('kernel', 'log', 'log'),
    });
    this.setLogSink((records) => log.write({ records }));

    this.createProcesses(manifest);
    this.supervisor.watch();
    this.bootMs = Promise.all(this.supervisor.processes.map((process) => this.supervisor.start(process, 'fresh'))).then((ready) => {
      const elapsed = this.clock.nowMs() - started;
      const failed = this.supervisor.processes.filter((_, index) => !ready[index]).map((process) => process.name);
      this.console.print(`started ${ready.length - failed.length} of ${ready.length} servers and drivers in ${elapsed.toFixed(0)} ms` +
        (failed.length ? `; failed: ${failed.join(', ')}` : ''));
      this.log.info({ bootMs: elapsed }, 'boot complete');
      return this.clock.nowMs();
    });
    return this.bootMs;
  }

  private readManifest(): BootManifest {
    const start = this.board.chosen['linux,initrd-start'];
    const end = this.board.chosen['linux,initrd-end'];
    if (!start || !end) throw new Error('no initrd: /chosen has no linux,initrd-start/end, so there is no boot manifest');
    const first = Number(readCell(start));
    const last = Number(readCell(end));
    this.regions.push({ base: first, size: last - first, purpose: 'initrd (boot manifest)' });
    const text = new TextDecoder().decode(this.ram.read(first, last - first));
    return validateManifest(JSON.parse(text));
  }

  private createProcesses(manifest: BootManifest): void {
    const drivers = manifest.programs.filter((program) => program.kind === 'driver');
    for (const program of manifest.programs) {
      if (program.kind === 'server') this.supervisor.add(new Process(program.name, program, this.nextSlot++));
    }
    const devices = this.board.devices.filter((device) => device.status === 'okay');
    const candidates = devices.map((device) => ({
      path: device.path,
      compatible: device.compatible,
      virtioDeviceId: device.compatible.includes('virtio,mmio') ? this.readVirtioDeviceId(device.base) : undefined,
    }));
    const matched = candidates.map((candidate) => matchDriver(candidate, drivers));
    const names = instanceNames(matched);
    devices.forEach((device, index) => {
      const driver = matched[index];
      const name = names[index];
      if (!driver || !name || device.interrupt === undefined) {
        this.console.print(`device ${device.path}: ${device.compatible.join(', ')} (no driver)`);
        return;
      }
      this.console.print(`device ${device.path}: ${device.compatible.join(', ')} → ${name}`);
      this.supervisor.add(new Process(name, driver, this.nextSlot++, {
        path: device.path,
        compatible: device.compatible,
        registers: this.busBlock((block) => block.base === device.base),
        interrupt: device.interrupt,
      }));
    });
  }

  private readVirtioDeviceId(base: number): number {
    const block = this.busBlock((candidate) => candidate.base === base);
    return new DataView(block.buffer).getUint32(32 + VIRTIO_DEVICE_ID_OFFSET, true);
  }

  private bootInfo(process: Process, start: StartKind): BootInfo {
    return {
      name: process.name,
      kind: process.kind,
      module: process.spec.entry,
      generation: process.generation,
      start,
      slot: process.slot,
      kernelSlot: KERNEL_SLOT,
      doorbells: this.entry.doorbells,
      interrupts: this.entry.interrupts,
      clock: this.entry.clock,
      ram: this.entry.ram,
      heartbeat: { buffer: this.heartbeats.buffer as SharedArrayBuffer, index: process.slot, periodMs: process.spec.heartbeatMs },
      ...(process.device ? { device: process.device } : {}),
      config: { ...process.spec.config, verbose: this.verbose, ...(this.verbose ? { logLevel: 'debug' } : {}) },
    };
  }

  private attach(server: Process | 'kernel', channel: ChannelDescriptor, clientName: string): void {
    if (server === 'kernel') this.endpoint.attachServer(channel, clientName);
    else server.thread?.post({ type: 'attach', channel, clientName });
  }

  private busBlock(predicate: (block: RegisterBlockDescriptor) => boolean): RegisterBlockDescriptor {
    const block = this.entry.bus.find(predicate);
    if (!block) throw new Error('a device the device tree names is not on the bus');
    return block;
  }

  private async powerDown(action: { kind: 'poweroff'; status: number } | { kind: 'reset' }): Promise<void> {
    if (this.powering) return;
    this.powering = true;
    // Replies are written in the microtasks after a handler returns; a macrotask runs
    // after them, so the caller has its answer before its channel is revoked.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await this.supervisor.stopAll();
    await this.pool.close();
    this.console.print(action.kind === 'poweroff' ? `power off (status ${action.status})` : 'reset');
    if (action.kind === 'poweroff') this.firmware.powerOff(action.status);
    else this.firmware.reset();
  }
}

function readCell(value: Uint8Array): bigint {
  return value.length === 8 ? fdtRead.u64(value) : BigInt(fdtRead.u32(value));
}
