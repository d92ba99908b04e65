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

import { configArgumentWarnings, configArguments, readRingBytes } from './boot_arguments.js';
import type { Logger } from './userlib/logger.js';
import { hex, PAGE_SIZE } from '../hal/address.js';
import { formatSize } from '../hal/size_text.js';
import { Clock } from '../hal/clock.js';
import { DoorbellPage, DOORBELL_SLOTS } from '../hal/doorbells.js';
import { InterruptController } from '../hal/irq.js';
import { FirmwareCalls } from '../hal/firmware.js';
import type { KernelEntry } from '../hal/kernel_entry.js';
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
import { DriverManager } from './driver_manager.js';
import { DiskServers } from './disk_servers.js';
import { blockInterface } from '../ipc/interfaces/block.js';
import { filesystemInterface } from '../ipc/interfaces/filesystem.js';
import { fsInterface } from '../ipc/interfaces/fs.js';
import type { MountPlan } from './disk_servers.js';
import { driversInterface } from '../ipc/interfaces/drivers.js';
import { processInterface } from '../ipc/interfaces/process.js';
import { schedulingInterface } from '../ipc/interfaces/scheduling.js';
import { MachineTimer } from '../hal/timer.js';
import { UserCpus } from './user_cpus.js';
import type { DmaPool } from './dma_pool.js';
import { planBootMemory, type BootMemory } from './boot_memory.js';
import { poolMemory, serverMemory, type PhysicalMemory } from './physical_memory.js';
import { memoryBulkCarrier } from './userlib/bulk_carrier.js';
import { memoryInterface } from '../ipc/interfaces/memory.js';
import { kernelHandlers } from './kernel_service.js';
import { INITRD_MANIFEST_MEMBER, validateManifest, type BootManifest } from './manifest.js';
import { decodeNewc } from '../hal/cpio_newc.js';
import { renderDeviceMap, renderMemoryMap, type MemoryRegion } from './memory_text.js';
import { NameService } from './name_service.js';
import { EarlyConsole } from './printk.js';
import { Process } from './process.js';
import { HEARTBEAT_WORDS, type BootInfo, type StartKind } from './protocol.js';
import { RamWatch } from './ram_watch.js';
import { Supervisor } from './supervisor.js';
import { enterImage, KexecError, loadImage, type KexecHost } from './kexec.js';
import { khoInterface } from '../ipc/interfaces/kho.js';
import { PeerRestartedError, PeerStoppedError } from '../ipc/errors.js';
import type { ClientOf } from '../ipc/define.js';
import { ThreadPool } from './thread_pool.js';
import { createLogger } from './userlib/logger.js';
import { LogBuffer, recordsInFrames } from './log_buffer.js';

export const KERNEL_SLOT = 1;
const EARLY_CONSOLE_BUFFER = 1024 * 1024;
/** A RAM buffer inside the kernel image for host requests to the firmware. */
export const HOST_REQUEST_BUFFER = EARLY_CONSOLE_BUFFER + PAGE_SIZE;
export const HOST_REQUEST_SIZE = 60 * 1024;
/** Its own buffer for host requests answered later (load-driver: the board type-checks the driver meanwhile). */
const HOST_LATER_REQUEST_BUFFER = HOST_REQUEST_BUFFER + HOST_REQUEST_SIZE;
const HOST_LATER_REQUEST_SIZE = 60 * 1024;
/** Kernel-image RAM for blobs the kernel hands to the firmware (kho dump). */
const STAGING_BUFFER = 1536 * 1024;
const STAGING_SIZE = 512 * 1024;
/** How long a shutdown, reboot or kexec waits for its caller's `proceed`. */
const GOING_DOWN_GRACE_MS = 2000;
/** How long a filesystem may take to sync before shutdown, reboot or kexec goes on without it. */
const SYNC_DEADLINE_MS = 60_000;

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
  /** Records for the log service until it can take them (the kernel's own, and threads' while theirs is down). */
  readonly logBuffer: LogBuffer;
  readonly tree: Fdt;
  readonly board: BoardTreeSummary;
  readonly names: NameService;
  readonly supervisor: Supervisor;
  /** Devices, binding, and loading drivers at run time (the `drivers` service). */
  readonly drivers: DriverManager;
  /** Servers started once per disk: a filesystem on each disk that holds one. */
  readonly diskServers: DiskServers;
  readonly dma: DmaPool;
  /** Pages for programs: the memory server once the manifest has one (createProcesses), else the DMA pool. */
  private physicalMemory: PhysicalMemory;
  readonly pool: ThreadPool;
  private bootMs: Promise<number> | undefined;
  private nextSlot = KERNEL_SLOT + 1;
  private powering = false;
  private khoProxy: ClientOf<typeof khoInterface> | undefined;
  private memoryClient: ClientOf<typeof memoryInterface> | undefined;
  private readonly logClient: ClientOf<typeof logInterface>;
  /** Where the VFS mounts the disks' filesystems at its start (set once they run). */
  private vfsMounts: MountPlan | undefined;
  /** The shutdown, reboot or kexec waiting for its caller's `proceed`. */
  private goingDown: (() => void) | undefined;
  /** The `verbose` boot argument: every log level on the console, debug records kept. */
  readonly verbose: boolean;
  /** The `checked` boot argument: RAM references passed between programs are checked against ownership and grants. */
  readonly checked: boolean;
  readonly regions: MemoryRegion[];
  readonly memory: BootMemory;
  readonly initrd: { start: number; end: number };

  constructor(entry: KernelEntry) {
    this.entry = entry;
    this.ram = Ram.attach(entry.ram);
    this.clock = new Clock(entry.clock);
    const logger = createLogger('kernel', 0, this.clock, 'info');
    this.log = logger.logger;
    this.logBuffer = new LogBuffer({
      running: () => this.supervisor?.find('log')?.state === 'running',
      send: (records) => this.logClient.write({ records }),
      note: (dropped) => ({ time: this.clock.nowMs(), level: 40, server: 'kernel', generation: 0,
        msg: `${dropped} log records were lost while the log service was down (the kernel keeps the newest ${this.logBuffer.capacity})` }),
    });
    logger.setSink((records) => this.logBuffer.keep(records));
    this.doorbells = new DoorbellPage(entry.doorbells);
    const firmwareBlock = this.busBlock((block) => block.size === 0x1000 && block.base === 0x0010_0000);
    this.firmware = new FirmwareCalls(firmwareBlock, this.ram);
    // printk: the boot log goes to the firmware console now and to the log service (dmesg) once it is up.
    this.console = new EarlyConsole(this.firmware, this.clock, this.ram.base + EARLY_CONSOLE_BUFFER, PAGE_SIZE, (line) => this.log.info(line));

    const header = readFdtHeader(this.ram.subarray(entry.deviceTree, 40));
    this.tree = decodeFdt(this.ram.read(entry.deviceTree, header.totalSize));
    this.board = readBoardTree(this.tree);
    this.verbose = this.board.bootargs.split(/\s+/).includes('verbose');
    this.checked = this.board.bootargs.split(/\s+/).includes('checked');
    if (this.verbose) this.log.level = 'debug';
    this.console.print(`baton kernel ${entry.image}: entered with device tree at ${hex(entry.deviceTree)} (${this.board.model})`);
    for (const range of this.board.ram) this.console.print(`memory: ${formatSize(range.size)} at ${hex(range.base)}`);
    this.console.print(`command line: ${this.board.bootargs}`);
    const resetReason = this.board.chosen['baton,reset-reason'];
    if (resetReason) this.log.warn(`the board was reset by the previous boot's kernel: ${new TextDecoder().decode(resetReason).replace(/\0+$/, '')}`);
    this.initrd = this.readInitrdRange();
    this.memory = planBootMemory({
      ram: this.ram,
      board: this.board,
      deviceTree: { address: entry.deviceTree, size: header.totalSize },
      initrd: this.initrd,
      print: (line) => this.console.print(line),
    });
    this.dma = this.memory.pool;
    this.physicalMemory = poolMemory(this.dma);
    this.regions = this.memory.regions;

    this.endpoint = new Endpoint({
      doorbells: this.doorbells,
      slot: KERNEL_SLOT,
      name: 'kernel',
      // Replies and calls too large for a ring go in pages the memory service lends for the kernel.
      bulk: memoryBulkCarrier({
        name: 'kernel',
        ram: this.ram,
        memory: () => {
          if (!this.memoryClient) throw new KexecError('no memory service to lend bulk data through');
          return this.memoryClient;
        },
        allocate: (bytes) => this.physicalMemory.allocate('kernel', bytes, 4096),
      }),
      // A peer that is gone is the supervisor's business, not a fault (e.g. logging while the log server stops).
      onFault: (error, where) => {
        if (isPeerGone(error)) return;
        this.console.print(`ipc fault in ${where}: ${(error as Error).message ?? String(error)}`);
      },
    });
    this.logClient = this.endpoint.client(logInterface, {
      connect: () => this.names.lookup('kernel', 'log', 'log'),
      reconnect: () => this.names.lookup('kernel', 'log', 'log'),
    });
    this.pool = new ThreadPool(new URL('./userlib/thread_main.js', import.meta.url));
    const rings = readRingBytes(this.board.bootargs);
    for (const warning of rings.warnings) this.console.print(`bootargs: ${warning}`);
    this.names = new NameService({
      ringBytes: rings.ringBytes,
      doorbells: this.doorbells,
      kernelSlot: KERNEL_SLOT,
      find: (name) => this.supervisor.find(name) ?? this.drivers.provider(name),
      kernelServices: [driversInterface.name, schedulingInterface.name],
      attach: (server, channel, clientName) => this.attach(server, channel, clientName),
      warn: (message, fields) => this.log.warn(fields, message),
    });
    this.supervisor = new Supervisor({
      log: this.log,
      pool: this.pool,
      names: this.names,
      memory: {
        allocate: (owner, bytes, alignment) => this.physicalMemory.allocate(owner, bytes, alignment),
        release: (owner) => this.physicalMemory.release(owner),
        report: () => this.physicalMemory.report(),
      },
      heartbeats: this.heartbeats,
      nowMs: () => this.clock.nowMs(),
      bootInfo: (process, start) => this.bootInfo(process, start),
      quiesce: (process) => this.drivers.quiesce(process),
      keepLog: (process, records) => this.logBuffer.keep(records, { server: process.name, generation: process.generation }),
      salvage: (process) => (process.name === 'log' ? (frames) => this.logBuffer.keep(recordsInFrames(frames)) : undefined),
    });
    // A log server that is running again takes what the kernel kept while there was none.
    this.supervisor.onStateChange((process) => {
      if (process.name === 'log' && process.state === 'running') this.logBuffer.flush();
    });
    this.drivers = new DriverManager({
      supervisor: this.supervisor,
      log: this.log,
      tree: this.tree,
      board: this.board,
      registers: (base) => this.entry.bus.find((block) => block.base === base),
      interruptsRaised: (source) => new InterruptController(this.doorbells, this.entry.interrupts).raisedCount(source),
      allocateSlot: () => this.nextSlot++,
      hostLoad: (path) => this.firmware.hostRequestLater(this.ram.base + HOST_LATER_REQUEST_BUFFER, HOST_LATER_REQUEST_SIZE, { op: 'load-driver', path }),
      print: (line) => this.console.print(line),
      nowMs: () => this.clock.nowMs(),
    });
    this.diskServers = new DiskServers({
      supervisor: this.supervisor,
      log: this.log,
      blockClient: (disk) => this.endpoint.client(blockInterface, {
        connect: () => this.names.lookup('kernel', disk, 'block'),
        reconnect: () => this.names.lookup('kernel', disk, 'block'),
      }),
      allocate: (bytes) => this.physicalMemory.allocate('kernel', bytes, 4096),
      read: (address, bytes) => this.ram.read(address, bytes),
      allocateSlot: () => this.nextSlot++,
      print: (line) => this.console.print(line),
      label: async (name) => (await this.filesystemClient(name).info({})).statistics.label,
    });
  }

  /** Runs the boot sequence; resolves when every boot program is ready or failed. */
  async boot(): Promise<number> {
    const started = this.clock.nowMs();

    const manifest = this.readManifest();
    this.endpoint.serve(kernelInterface, kernelHandlers({
      supervisor: this.supervisor,
      heartbeats: this.heartbeats,
      nowMs: () => this.clock.nowMs(),
      bootFinished: () => this.bootMs ?? Promise.resolve(0),
      memoryMapText: async () => {
        const report = await this.physicalMemory.report();
        return report === undefined ? renderMemoryMap(this.ram, this.regions, this.board, this.dma) : `${report}\n${renderDeviceMap(this.board)}`;
      },
      deviceTreeText: () => toDts(this.tree),
      powerDown: (action) => void this.powerDown(action),
      kexec: (image) => this.kexec(image),
      proceed: () => this.goingDown?.(),
      traffic: () => this.names.traffic(),
      initramfs: () => ({ start: this.initrd.start, end: this.initrd.end }),
      khoText: async () => (await this.khoClient().kho()).text,
      khoDump: (directory) => this.khoDump(directory),
      startDriver: (name) => this.drivers.startUnloaded(name),
    }));
    this.endpoint.serve(driversInterface, {
      ...this.drivers.handlers(),
      diskServers: () => ({ rows: this.diskServers.rows() }),
      startDiskServer: ({ disk, server }) => this.diskServers.startFor(disk, server),
    });
    const userCpus = this.createUserCpus();
    if (userCpus) this.endpoint.serve(schedulingInterface, userCpus.handlers());
    this.endpoint.start();

    this.createProcesses(manifest);
    const programs = new Set([...manifest.programs.map((program) => program.name), ...this.supervisor.processes.flatMap((process) => [process.name, process.spec.name])]);
    for (const warning of configArgumentWarnings(this.board.bootargs, programs)) this.console.print(`bootargs: ${warning}`);
    const memoryServer = this.supervisor.processes.find((process) => process.spec.serves.includes('memory'));
    if (memoryServer) {
      const memory = this.endpoint.client(memoryInterface, {
        connect: () => this.names.lookup('kernel', memoryServer.name, 'memory'),
        reconnect: () => this.names.lookup('kernel', memoryServer.name, 'memory'),
      });
      this.memoryClient = memory;
      this.physicalMemory = serverMemory(memory);
    }
    this.supervisor.watch();
    const start = this.memory.handover ? 'handover' : 'fresh';
    // The VFS starts last: it mounts the disks' filesystems, which start once the disks run.
    const isVfs = (process: Process) => process.spec.serves.includes(fsInterface.name);
    const early = this.supervisor.processes.filter((process) => !isVfs(process));
    const late = this.supervisor.processes.filter(isVfs);
    this.bootMs = Promise.all(early.map((process) => this.supervisor.start(process, start))).then(async () => {
      await this.diskServers.startAll(start);
      if (late.length > 0) this.vfsMounts = await this.diskServers.mountPlan(bootArgument(this.board.bootargs, 'root'));
      await Promise.all(late.map((process) => this.supervisor.start(process, start)));
      const ready = this.supervisor.processes.map((process) => process.state === 'running');
      const elapsed = this.clock.nowMs() - started;
      const failed = this.supervisor.processes.filter((_, index) => !ready[index]).map((process) => process.name);
      this.console.print(`started ${ready.length - failed.length} of ${ready.length} servers and drivers in ${elapsed.toFixed(0)} ms` +
        (failed.length ? `; failed: ${failed.join(', ')}` : ''));
      this.log.info({ bootMs: elapsed }, 'boot complete');
      this.pool.keepSpare();
      this.watchRam();
      return this.clock.nowMs();
    });
    return this.bootMs;
  }

  private readInitrdRange(): { start: number; end: number } {
    const start = this.board.chosen['linux,initrd-start'];
    const end = this.board.chosen['linux,initrd-end'];
    if (!start || !end) throw new Error('no initrd: /chosen has no linux,initrd-start/end, so there is no boot manifest');
    return { start: Number(readCell(start)), end: Number(readCell(end)) };
  }

  /** The boot manifest: the initramfs member boot/manifest.json (a cpio newc archive, as Linux's initrd). */
  private readManifest(): BootManifest {
    const initrd = this.ram.read(this.initrd.start, this.initrd.end - this.initrd.start);
    const member = decodeNewc(initrd).find((entry) => entry.name === INITRD_MANIFEST_MEMBER);
    if (!member) throw new Error(`the initrd holds no ${INITRD_MANIFEST_MEMBER}, so there is no boot manifest`);
    return validateManifest(JSON.parse(new TextDecoder().decode(member.data)));
  }

  private createProcesses(manifest: BootManifest): void {
    const drivers = manifest.programs.filter((program) => program.kind === 'driver');
    for (const program of manifest.programs) {
      if (program.kind === 'server' && !this.diskServers.adopt(program)) this.supervisor.add(new Process(program.name, program, this.nextSlot++));
    }
    for (const process of this.drivers.bindAtBoot(drivers)) this.supervisor.add(process);
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
      remembered: process.remembered,
      config: { ...process.spec.config, ...this.kernelConfig(process) },
      configArguments: configArguments(this.board.bootargs, process.name, process.spec.name),
      system: { verbose: this.verbose, checked: this.checked, logLevel: this.verbose ? 'debug' : 'info' },
    };
  }

  /**
   * What the kernel adds to a program's manifest config: for the memory server the RAM,
   * its reservations and state, for the KHO server the scratch areas and the incoming
   * handover. (`NAME.key=value` boot arguments travel beside it, as configArguments.)
   */
  private kernelConfig(process: Process): Record<string, unknown> {
    const config: Record<string, unknown> = {};
    if (process.spec.serves.includes('memory')) {
      config.ram = [{ base: this.ram.base, size: this.ram.size }];
      config.reserved = this.memory.regions.map((region) => ({ base: region.base, size: region.size, purpose: region.purpose }));
      if (this.memory.handover) config.handover = this.memory.handover.pointers;
      if (this.memory.memoryState) config.state = this.memory.memoryState;
      config.kernelClients = ['kernel'];
      config.limits = Object.fromEntries(this.supervisor.processes
        .filter((program) => program.spec.memoryLimitPages !== undefined)
        .map((program) => [program.name, program.spec.memoryLimitPages]));
      config.preservedOwners = ['kho-preserved', 'kho'];
      config.checked = this.checked;
    }
    if (process.spec.serves.includes(fsInterface.name) && this.vfsMounts) {
      // The VFS's own mounts (/tmp) first, then the disks'; a root disk replaces the initramfs.
      const own = Array.isArray(process.spec.config.mounts) ? process.spec.config.mounts : [];
      config.mounts = [...own, ...this.vfsMounts.mounts];
      if (this.vfsMounts.root !== undefined) {
        // The disk's own files are the root: the initramfs is not unpacked over them.
        config.root = this.vfsMounts.root;
        config.initramfs = false;
      }
    }
    if (process.spec.serves.includes('kho')) {
      config.scratch = this.memory.scratch;
      if (this.memory.handover) config.handover = this.memory.handover.pointers;
    }
    return config;
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

  private khoClient() {
    const client = this.khoService();
    if (!client) throw new KexecError('KHO is not running (no server serves "kho")');
    return { kho: () => client.describe({}), client };
  }

  /** A client of the KHO server, if the manifest has one. */
  private khoService(): ClientOf<typeof khoInterface> | undefined {
    const server = this.supervisor.processes.find((process) => process.spec.serves.includes('kho'));
    if (!server) return undefined;
    this.khoProxy ??= this.endpoint.client(khoInterface, {
      connect: () => this.names.lookup('kernel', server.name, 'kho'),
      reconnect: () => this.names.lookup('kernel', server.name, 'kho'),
    });
    return this.khoProxy;
  }

  /**
   * Checks every 100 ms that RAM the system cannot run without still holds (ram_watch.ts);
   * when it does not, logs the failed check, leaves it with the board for the next boot
   * (/chosen baton,reset-reason) and resets the board.
   */
  private watchRam(): void {
    const watch = new RamWatch(this.ram, this.memory.memoryState);
    const timer = setInterval(() => {
      if (this.powering) {
        clearInterval(timer);
        return;
      }
      const failed = watch.check();
      if (failed === undefined) return;
      clearInterval(timer);
      const reason = `RAM overwritten: ${failed}: who owns which page is lost, so no program can be given memory safely; resetting the board`;
      this.log.error(reason);
      this.console.print(reason);
      this.firmware.hostRequest(this.ram.base + HOST_REQUEST_BUFFER, HOST_REQUEST_SIZE, { op: 'reset-reason', text: reason });
      this.powering = true;
      void this.stopAndPowerDown({ kind: 'reset' });
    }, 100);
    timer.unref?.();
  }

  private async khoDump(directory: string): Promise<string> {
    const { fdt, subtrees } = await this.khoClient().client.blobs({});
    const files = [{ name: 'fdt', blob: fdt }, ...subtrees.map((subtree) => ({ name: `sub_fdts/${subtree.name}`, blob: subtree.blob }))];
    const written: string[] = [];
    const staging = this.ram.base + STAGING_BUFFER;
    for (const file of files) {
      if (file.blob.length > STAGING_SIZE) throw new KexecError(`kho dump: ${file.name} is larger than the kernel's ${STAGING_SIZE}-byte staging buffer`);
      this.ram.write(staging, file.blob);
      const answer = this.firmware.hostRequest(this.ram.base + HOST_REQUEST_BUFFER, HOST_REQUEST_SIZE, {
        op: 'write-file', path: `${directory}/${file.name}`, address: staging, length: file.blob.length,
      });
      if (typeof answer.error === 'string') throw new KexecError(`kho dump: ${answer.error}`);
      written.push(file.name);
    }
    return `wrote ${written.join(', ')} to ${directory}`;
  }

  private kexec(image: string | undefined): string {
    if (this.powering) throw new KexecError('the system is already going down');
    const host: KexecHost = {
      ram: this.ram,
      tree: this.tree,
      memory: this.memory,
      firmware: this.firmware,
      hostBuffer: { address: this.ram.base + HOST_REQUEST_BUFFER, size: HOST_REQUEST_SIZE },
      currentImage: this.entry.image,
      print: (line) => this.console.print(line),
      stopAllExcept: async (keep) => {
        await this.syncAndStopFilesystems();
        await this.supervisor.stopAllExcept(keep);
      },
      stopEverything: async () => {
        await this.syncAndStopFilesystems();
        await this.supervisor.stopAll();
        await this.pool.close();
      },
      kho: () => this.khoService(),
      serviceState: (service) => this.supervisor.processes.find((process) => process.spec.serves.includes(service))?.state,
    };
    const loaded = loadImage(host, image);
    this.powering = true;
    this.whenAnswered(() => {
      enterImage(host, loaded).catch((error: unknown) => {
        this.console.print(`kexec failed after stopping the system: ${(error as Error).message}; powering off`);
        this.firmware.powerOff(1);
      });
    });
    return `kexec: loading ${loaded.image}${loaded.handover ? ' with KHO handover' : ''}`;
  }

  /**
   * Runs `action` once the caller has shown the answer to the user (it calls `proceed`),
   * or after a grace period if it never does: stopping everything at once would race the
   * console's last write ("shutting down") to its device.
   */
  private whenAnswered(action: () => void): void {
    let done = false;
    const run = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.goingDown = undefined;
      action();
    };
    const timer = setTimeout(run, GOING_DOWN_GRACE_MS);
    this.goingDown = run;
  }

  private powerDown(action: { kind: 'poweroff'; status: number } | { kind: 'reset' }): void {
    if (this.powering) return;
    this.powering = true;
    this.whenAnswered(() => void this.stopAndPowerDown(action));
  }

  private async stopAndPowerDown(action: { kind: 'poweroff'; status: number } | { kind: 'reset' }): Promise<void> {
    await this.syncAndStopFilesystems();
    await this.supervisor.stopAll();
    await this.pool.close();
    this.console.print(action.kind === 'poweroff' ? `power off (status ${action.status})` : 'reset');
    if (action.kind === 'poweroff') this.firmware.powerOff(action.status);
    else this.firmware.reset();
  }

  /**
   * The harts user processes run on (a board with a CLINT): the scheduling service for the
   * process server; their system calls go to it, their page faults to the memory server.
   */
  private createUserCpus(): UserCpus | undefined {
    if (!this.entry.timer) return undefined;
    const lookup = () => this.names.lookup('kernel', 'process', processInterface.name);
    return new UserCpus({
      ram: this.entry.ram,
      timer: MachineTimer.attach(this.entry.timer),
      processes: this.endpoint.client(processInterface, { connect: lookup, reconnect: lookup }),
      memory: { translate: (args) => (this.memoryClient ? this.memoryClient.translate(args) : Promise.reject(new Error('no memory service'))) },
      log: this.log,
      processServer: 'process',
    });
  }

  /** A client of the filesystem server `name`. */
  private filesystemClient(name: string): ClientOf<typeof filesystemInterface> {
    const lookup = () => this.names.lookup('kernel', name, filesystemInterface.name);
    return this.endpoint.client(filesystemInterface, { connect: lookup, reconnect: lookup });
  }

  /**
   * Before shutdown, reboot and kexec: the VFS syncs (its dirty pages to the filesystems) and
   * stops, every filesystem server syncs (its writes are on the disk after a FLUSH), then the
   * per-disk servers stop and unmount while their disks still run; the rest then stops all at once. A filesystem that does not answer within
   * SYNC_DEADLINE_MS is named, and the system goes down anyway.
   */
  private async syncAndStopFilesystems(): Promise<void> {
    const running = (service: string) => this.supervisor.processes.filter((process) => process.state === 'running' && process.spec.serves.includes(service));
    // The VFS first: its dirty pages go to the filesystems, then it stops, so nothing writes after their last sync.
    await Promise.all(running(fsInterface.name).map(async (process) => {
      const lookup = () => this.names.lookup('kernel', process.name, fsInterface.name);
      await this.syncOne(process.name, () => this.endpoint.client(fsInterface, { connect: lookup, reconnect: lookup }).sync({}, { timeoutMs: SYNC_DEADLINE_MS }));
      await this.supervisor.stop(process);
    }));
    await Promise.all(running(filesystemInterface.name).map((process) =>
      this.syncOne(process.name, () => this.filesystemClient(process.name).sync({}, { timeoutMs: SYNC_DEADLINE_MS }))));
    await Promise.all(this.diskServers.running().map((process) => this.supervisor.stop(process)));
  }

  /** Runs one program's sync; a failure is said on the console and the system goes down anyway. */
  private async syncOne(name: string, sync: () => Promise<unknown>): Promise<void> {
    try {
      await sync();
      this.log.info(`${name}: synced`);
    } catch (error) {
      this.console.print(`${name}: sync failed: ${(error as Error).message}`);
    }
  }
}

/** The value of `NAME=value` in the kernel command line, if it is there. */
function bootArgument(bootargs: string, name: string): string | undefined {
  const word = bootargs.split(/\s+/).find((candidate) => candidate.startsWith(`${name}=`));
  return word?.slice(name.length + 1);
}

function isPeerGone(error: unknown): boolean {
  return error instanceof PeerStoppedError || error instanceof PeerRestartedError;
}

function readCell(value: Uint8Array): bigint {
  return value.length === 8 ? fdtRead.u64(value) : BigInt(fdtRead.u32(value));
}
