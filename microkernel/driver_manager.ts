// The driver manager: the device-tree devices, which driver instance drives each, and
// loading and unloading drivers while the system runs (ipc/interfaces/drivers.ts).
//
// Binding follows the Linux driver model (binding.ts): at boot each device node goes to
// the boot driver that matches its most specific compatible string and whose `needs`
// the node meets (an interrupt, a large enough register range); a node nobody matches
// stays listed as unbound, and a driver whose device is absent is not started.
//
//   load PATH    the board reads, validates and compiles the folder (tools/driver_loader.ts,
//                through a firmware host request); the kernel validates the spec again and
//                binds it to the unbound devices it matches. A newer version of a loaded
//                driver replaces it: each instance restarts on the new code, on the same
//                device (its clients see PEER_RESTARTED, as after any restart).
//   unload NAME  stops the driver's instances (or one instance, NAME.N), resets and
//                releases their devices, and forgets a loaded driver; a boot driver stays
//                known, and `start NAME` binds it again (not to spares).
//
// A spare device (`baton,spare` in the tree: npm start --device KIND) gets no boot driver;
// it waits for one that is loaded.
//
// Loaded drivers are supervised like any program: the supervisor treats one not ready
// within its manifest's startTimeoutMs as hung, and the restart policy decides.

import type { Logger } from './userlib/logger.js';
import type { BoardTreeDevice, BoardTreeSummary } from '../hal/devicetree.js';
import { stringsProperty } from '../hal/fdt/standard_properties.js';
import { findNode, unitAddress, type Fdt } from '../hal/fdt/tree.js';
import { RegisterWindow, type RegisterBlockDescriptor } from '../hal/mmio.js';
import { MmioRegister, VIRTIO_MMIO_COMPATIBLE } from '../hal/virtio/registers.js';
import { InvalidArgumentError } from '../ipc/errors.js';
import type { HandlersOf } from '../ipc/define.js';
import { QueueStatistics } from '../hal/virtio/queue_statistics.js';
import { AlreadyLoadedError, InvalidManifestError, LoadFailedError, type DeviceRow, type driversInterface } from '../ipc/interfaces/drivers.js';
import { instanceNames, matchDriver } from './binding.js';
import { DEFAULT_START_TIMEOUT_MS, ManifestError, validateProgram, type ProgramSpec } from './manifest.js';
import { NotFoundError } from './name_service.js';
import { Process } from './process.js';
import type { Supervisor } from './supervisor.js';

/** Names nobody may load a driver under: the kernel's own services. */
const RESERVED_NAMES = new Set(['kernel', 'drivers']);

export interface DriverManagerHost {
  readonly supervisor: Supervisor;
  readonly log: Logger;
  readonly tree: Fdt;
  readonly board: BoardTreeSummary;
  /** The register block mapped at `base`, if the bus has one there. */
  registers(base: number): RegisterBlockDescriptor | undefined;
  /** How many times interrupt `source` was raised since power-on. */
  interruptsRaised?(source: number): number;
  /** A doorbell slot no other thread uses. */
  allocateSlot(): number;
  /** Asks the board to read, validate and compile the driver folder at host path `path`. */
  hostLoad(path: string): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** A line on the boot console. */
  print(line: string): void;
  nowMs(): number;
}

interface DeviceNode {
  readonly device: BoardTreeDevice;
  readonly virtioDeviceId: number | undefined;
  process: Process | undefined;
}

interface KnownDriver {
  spec: ProgramSpec;
  source: string;
}

export class DriverManager {
  private readonly host: DriverManagerHost;
  private readonly nodes: DeviceNode[];
  private readonly known = new Map<string, KnownDriver>();
  private readonly freeSlots: number[] = [];

  constructor(host: DriverManagerHost) {
    this.host = host;
    this.nodes = host.board.devices.map((device) => ({
      device,
      virtioDeviceId: device.compatible.includes(VIRTIO_MMIO_COMPATIBLE) ? this.readVirtioDeviceId(device.base) : undefined,
      process: undefined,
    }));
  }

  /** Binds the boot manifest's drivers to the devices present; adds their instances to the supervisor (not started). */
  bindAtBoot(drivers: readonly ProgramSpec[]): Process[] {
    for (const spec of drivers) this.known.set(spec.name, { spec, source: 'boot' });
    for (const node of this.nodes.filter((candidate) => candidate.device.spare)) {
      this.host.print(`device ${node.device.path}: ${node.device.compatible.join(', ')} (spare: left for a driver loaded later)`);
    }
    const bindable = this.nodes.filter((node) => node.device.status === 'okay' && !node.device.spare);
    const matched = bindable.map((node) => matchDriver(this.candidate(node), drivers.filter((spec) => this.fits(spec, node))));
    const names = instanceNames(matched);
    const created: Process[] = [];
    bindable.forEach((node, index) => {
      const spec = matched[index];
      const name = names[index];
      if (!spec || !name) {
        this.host.print(`device ${node.device.path}: ${node.device.compatible.join(', ')} (no driver)`);
        return;
      }
      this.host.print(`device ${node.device.path}: ${node.device.compatible.join(', ')} → ${name}`);
      created.push(this.bind(node, spec, name));
    });
    return created;
  }

  /** A running (else any) program that serves `service`: how a service name is looked up. */
  provider(service: string): Process | undefined {
    const serving = this.host.supervisor.processes.filter((process) => process.spec.serves.includes(service));
    return serving.find((process) => process.state === 'running') ?? serving[0];
  }

  /** The handlers of the drivers interface. */
  handlers(): HandlersOf<typeof driversInterface> {
    return {
      devices: () => ({ rows: this.deviceRows() }),
      drivers: () => ({
        rows: [...this.known.values()].map(({ spec, source }) => ({
          name: spec.name, version: spec.version, source, instances: this.instancesOf(spec.name).map((process) => process.name),
        })),
      }),
      load: ({ path }) => this.load(path),
      unload: ({ name }) => this.unload(name),
    };
  }

  /** Loads the driver folder at host path `path`; see the file header. */
  async load(path: string): Promise<{ message: string; instances: string[] }> {
    const spec = this.checkLoaded(await this.host.hostLoad(path), path);
    const lines: string[] = [];
    const existing = this.known.get(spec.name);
    const running = this.instancesOf(spec.name);
    const instances: string[] = [];
    if (existing && running.length > 0 && compareVersions(spec.version, existing.spec.version) <= 0) {
      // Not newer: only the very same code may bind devices released since; anything else is refused.
      const same = compareVersions(spec.version, existing.spec.version) === 0 && spec.entry === existing.spec.entry;
      const releasedSince = this.nodes.some((node) => this.canBind(existing.spec, node));
      if (!same || !releasedSince) {
        const why = compareVersions(spec.version, existing.spec.version) < 0 ? `${spec.version} is lower`
          : !same ? `${spec.name} ${spec.version} from ${path} is different code under the same version`
            : 'no device it matches has been released since';
        throw new AlreadyLoadedError(`${spec.name} ${existing.spec.version} is already loaded (from ${existing.source}); ${why}: ` +
          `give the new one a higher "version" to replace it, or unload ${spec.name} first; nothing was loaded`);
      }
      lines.push(`${spec.name} ${existing.spec.version} is already loaded; binding it to the devices released since`);
      return this.bindUnbound(existing.spec, path, lines, []);
    }
    if (existing && running.length > 0) {
      lines.push(`replacing ${spec.name} ${existing.spec.version} with ${spec.version} from ${path}`);
      this.known.set(spec.name, { spec, source: path });
      for (const process of running) {
        process.spec = spec;
        this.host.log.info(`${process.name}: replaced by ${spec.name} ${spec.version}; restarting on the new code`);
        instances.push(process.name);
        lines.push(`${process.device?.path ?? process.name} → ${process.name}: ${await this.settle(process, this.host.supervisor.restart(process))}`);
      }
      return this.answer(lines, instances, running);
    }
    if (!this.nodes.some((node) => this.canBind(spec, node))) throw new LoadFailedError(`${this.noDevice(spec)}; nothing was loaded`);
    this.known.set(spec.name, { spec, source: path });
    lines.push(`loaded ${spec.name} ${spec.version} from ${path}`);
    return this.bindUnbound(spec, path, lines, instances);
  }

  /**
   * `start NAME` for a driver with no instance: a boot driver that was unloaded binds again
   * to the devices it matches that are unbound now. Undefined when NAME is no such driver.
   */
  async startUnloaded(name: string): Promise<{ message: string } | undefined> {
    const known = this.known.get(name);
    if (!known || this.instancesOf(name).length > 0) return undefined;
    // A boot driver binds again only where it would at boot: not to spares.
    const skipSpares = known.source === 'boot';
    if (!this.nodes.some((node) => this.canBind(known.spec, node, skipSpares))) throw new LoadFailedError(this.noDevice(known.spec));
    return this.bindUnbound(known.spec, known.source, [], [], skipSpares);
  }

  /** Binds `spec` to every unbound node it matches and starts those instances; the load's answer. */
  private async bindUnbound(spec: ProgramSpec, path: string, lines: string[], instances: string[], skipSpares = false): Promise<{ message: string; instances: string[] }> {
    const unbound = this.nodes.filter((node) => this.canBind(spec, node, skipSpares));
    const taken = new Set(this.instancesOf(spec.name).map((process) => process.name));
    const total = taken.size + unbound.length;
    const fresh: Process[] = [];
    let index = 0;
    for (const node of unbound) {
      let name = spec.name;
      if (total > 1) {
        while (taken.has(`${spec.name}.${index}`)) index++;
        name = `${spec.name}.${index}`;
      }
      taken.add(name);
      fresh.push(this.bind(node, spec, name));
    }
    for (const process of fresh) {
      this.host.supervisor.add(process);
      instances.push(process.name);
      this.host.log.info(`${process.name}: bound to ${process.device!.path} (from ${path})`);
      lines.push(`${process.device!.path} → ${process.name}: ${await this.settle(process, this.host.supervisor.start(process, 'fresh'))}`);
    }
    if (fresh.length === 0) throw new LoadFailedError([...lines, this.noDevice(spec)].join('\n'));
    return this.answer(lines, instances, fresh);
  }

  /** The answer to load or start: an error (LOAD_FAILED, with every line) unless each of `started` is running. */
  private answer(lines: string[], instances: string[], started: readonly Process[]): { message: string; instances: string[] } {
    const notRunning = started.filter((process) => process.state !== 'running');
    if (notRunning.length > 0) {
      throw new LoadFailedError([...lines, `${notRunning.map((process) => process.name).join(', ')} not running (see ps and dmesg)`].join('\n'));
    }
    return { message: lines.join('\n'), instances };
  }

  private noDevice(spec: ProgramSpec): string {
    const wanted = spec.match?.compatible.join(', ') + (spec.match?.virtioDeviceId !== undefined ? ` (virtio device ${spec.match.virtioDeviceId})` : '');
    return `${spec.name}: no unbound device matches ${wanted}; see devices (unload the driver that has it first, or start baton with a spare, e.g. --device virtio-rng)`;
  }

  /** Stops a driver's instances (or one instance) and releases their devices. */
  async unload(name: string): Promise<{ message: string }> {
    const process = this.host.supervisor.find(name);
    if (process && process.kind === 'server') throw new InvalidArgumentError(`${name} is a server, not a driver (use stop ${name})`);
    const known = this.known.get(name);
    const targets = process ? [process] : this.instancesOf(name);
    if (targets.length === 0 && !known) throw new NotFoundError(`no driver or driver instance named "${name}" (see devices)`);
    const lines: string[] = [];
    for (const target of targets) {
      await this.host.supervisor.stop(target);
      this.release(target);
      lines.push(`${target.name}: stopped; ${target.device?.path ?? 'its device'} released`);
    }
    // A boot driver stays known, so `start NAME` binds it again; a loaded one is forgotten.
    const driverName = process ? process.spec.name : name;
    const entry = this.known.get(driverName);
    if (entry && this.instancesOf(driverName).length === 0) {
      if (entry.source === 'boot') lines.push(`${driverName}: unloaded (a boot driver: start ${driverName} binds it again)`);
      else {
        this.known.delete(driverName);
        if (!process) lines.push(`${driverName}: unloaded`);
      }
    }
    return { message: lines.join('\n') };
  }

  /** The queues a virtio device model publishes (hal/virtio/queue_statistics.ts), for `devices`. */
  private queueRows(base: number): Pick<DeviceRow, 'queues'> {
    const statistics = this.host.registers(base)?.statistics;
    return statistics ? { queues: new QueueStatistics(statistics).read() } : {};
  }

  private deviceRows(): DeviceRow[] {
    const rows = this.nodes.map((node): DeviceRow => {
      const process = node.process;
      return {
        path: node.device.path,
        compatible: node.device.compatible,
        base: node.device.base,
        size: node.device.size,
        ...(node.device.interrupt !== undefined ? { interrupt: node.device.interrupt } : {}),
        ...(node.virtioDeviceId !== undefined ? { virtioDeviceId: node.virtioDeviceId } : {}),
        ...(process ? { driver: process.name } : {}),
        state: process ? process.state : node.device.status === 'okay' ? 'unbound' : `disabled (${node.device.status})`,
        generation: process?.generation ?? 0,
        serves: process ? [...process.spec.serves] : [],
        ...(node.device.interrupt !== undefined && this.host.interruptsRaised ? { interrupts: this.host.interruptsRaised(node.device.interrupt) } : {}),
        ...this.queueRows(node.device.base),
      };
    });
    return [...this.kernelDeviceRows(), ...rows];
  }

  /** The interrupt controller, timer and power device: driven by the kernel itself. */
  private kernelDeviceRows(): DeviceRow[] {
    const soc = findNode(this.host.tree.root, '/soc');
    const { interruptController, timer, power } = this.host.board;
    const core = [interruptController, timer, power].filter((entry) => entry !== undefined);
    const rows: DeviceRow[] = [];
    for (const child of soc?.children ?? []) {
      const base = Number.parseInt(unitAddress(child.name) ?? '', 16);
      const entry = core.find((candidate) => candidate.base === base);
      if (!entry) continue;
      const path = `/soc/${child.name}`;
      rows.push({
        path, compatible: stringsProperty(child, 'compatible', path), base, size: entry.size,
        ...('interrupt' in entry && typeof entry.interrupt === 'number' ? { interrupt: entry.interrupt } : {}),
        driver: 'kernel', state: 'running', generation: 1, serves: [],
      });
    }
    return rows;
  }

  /** Checks the board's answer and the spec in it; throws the typed error the client sees. */
  private checkLoaded(answer: Record<string, unknown>, path: string): ProgramSpec {
    if (typeof answer.error === 'string') {
      if (answer.code === 'INVALID_MANIFEST') {
        throw new InvalidManifestError(`${answer.error}; nothing was loaded`, {
          ...(typeof answer.field === 'string' ? { field: answer.field } : {}),
          ...(typeof answer.reason === 'string' ? { reason: answer.reason } : {}),
        });
      }
      throw new LoadFailedError(answer.error);
    }
    let spec: ProgramSpec;
    try {
      spec = validateProgram(answer.spec);
    } catch (error) {
      if (error instanceof ManifestError) throw new InvalidManifestError(`${path}: ${error.message}; nothing was loaded`, { ...(error.field ? { field: error.field } : {}), reason: error.reason });
      throw error;
    }
    const clash = this.host.supervisor.find(spec.name);
    if (RESERVED_NAMES.has(spec.name) || (clash && clash.kind === 'server')) {
      throw new InvalidManifestError(`${path}: field "name": "${spec.name}" is already the name of a server; nothing was loaded`, { field: 'name', reason: 'names a server' });
    }
    if (clash && clash.spec.name !== spec.name) {
      throw new InvalidManifestError(`${path}: field "name": "${spec.name}" is already an instance of ${clash.spec.name}; nothing was loaded`, { field: 'name', reason: 'names another driver instance' });
    }
    return spec;
  }

  private bind(node: DeviceNode, spec: ProgramSpec, name: string): Process {
    const registers = this.host.registers(node.device.base);
    if (!registers) throw new Error(`the device tree names ${node.device.path}, but nothing is on the bus at its address`);
    const process = new Process(name, spec, this.freeSlots.pop() ?? this.host.allocateSlot(), {
      path: node.device.path,
      compatible: node.device.compatible,
      registers,
      interrupt: node.device.interrupt ?? 0,
    });
    node.process = process;
    return process;
  }

  /** Takes a stopped instance out of the system: its device is reset and unbound, its slot reused. */
  private release(process: Process): void {
    this.host.supervisor.remove(process);
    const node = this.nodes.find((candidate) => candidate.process === process);
    if (node) {
      node.process = undefined;
      this.resetDevice(node);
    }
    this.freeSlots.push(process.slot);
  }

  /** A driver died: reset its device before its DMA pages go back to the allocator. */
  quiesce(process: Process): void {
    const node = this.nodes.find((candidate) => candidate.process === process);
    if (node) this.resetDevice(node);
  }

  /** Stops a released virtio device DMAing into memory that is no longer its driver's. */
  private resetDevice(node: DeviceNode): void {
    if (node.virtioDeviceId === undefined) return;
    const registers = this.host.registers(node.device.base);
    if (registers) new RegisterWindow(registers).write32(MmioRegister.Status, 0);
  }

  /** What `started` came to, waiting at most the driver's start timeout (plus a second). */
  private async settle(process: Process, started: Promise<boolean>): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), startTimeout(process) + 1000)));
    const outcome = await Promise.race([started, deadline]);
    clearTimeout(timer);
    if (outcome === true) return `generation ${process.generation} running`;
    if (outcome === 'late') return `not ready after ${startTimeout(process)} ms; the supervisor is handling it (see ps)`;
    return `${process.state}${process.lastExit ? ` (${process.lastExit})` : ''}; see dmesg`;
  }

  private instancesOf(driverName: string): Process[] {
    return this.host.supervisor.processes.filter((process) => process.kind === 'driver' && process.spec.name === driverName);
  }

  private candidate(node: DeviceNode) {
    return { path: node.device.path, compatible: node.device.compatible, virtioDeviceId: node.virtioDeviceId };
  }

  /** True if `node` is unbound, enabled, matched by `spec` and offers what it needs (and, with `skipSpares`, not a spare). */
  private canBind(spec: ProgramSpec, node: DeviceNode, skipSpares = false): boolean {
    return !node.process && !(skipSpares && node.device.spare) && node.device.status === 'okay' && this.fits(spec, node) && matchDriver(this.candidate(node), [spec]) !== undefined;
  }

  /** True if `node` offers what `spec` needs (an interrupt, enough registers). */
  private fits(spec: ProgramSpec, node: DeviceNode): boolean {
    if ((spec.needs?.interrupts ?? 1) > 0 && node.device.interrupt === undefined) return false;
    return node.device.size >= (spec.needs?.registerBytes ?? 0) && this.host.registers(node.device.base) !== undefined;
  }

  private readVirtioDeviceId(base: number): number | undefined {
    const block = this.host.registers(base);
    return block ? new RegisterWindow(block).read32(MmioRegister.DeviceID) : undefined;
  }
}

function startTimeout(process: Process): number {
  return process.spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
}

/** Compares dotted versions part by part (numerically where both are numbers): <0, 0, >0. */
export function compareVersions(left: string, right: string): number {
  const a = left.split(/[.+-]/);
  const b = right.split(/[.+-]/);
  for (let index = 0; index < Math.max(a.length, b.length); index++) {
    const x = a[index] ?? '0';
    const y = b[index] ?? '0';
    const difference = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}
