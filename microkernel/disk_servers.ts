// Servers started once per disk: a filesystem server for each disk that holds its format,
// as udev runs blkid on each block device and mounts what it recognises.
//
// A server whose manifest has `diskMatch` (ext2: the bytes 53 ef at offset 1080, s_magic)
// is not started at boot. Once the disks' drivers are running, the kernel reads the few
// sectors each match looks at through the disk's block service (into one page of its own)
// and starts an instance for every disk that matches, with config `disk` (the block
// service's name) and `access` (`read-only` when the disk is). The instance is named after
// the disk: the disk `virtio-blk` gets `ext2`, `virtio-blk.1` gets `ext2.1`.
//
// An instance that cannot serve its disk (a feature it does not support) refuses to start
// with START_REFUSED, which the supervisor takes as final; the boot log says why and the
// rest of the system runs.

import type { Logger } from './userlib/logger.js';
import type { ClientOf } from '../ipc/define.js';
import { blockInterface } from '../ipc/interfaces/block.js';
import type { DiskServerRow } from '../ipc/interfaces/drivers.js';
import { InvalidArgumentError } from '../ipc/errors.js';
import type { DiskMatch, ProgramSpec } from './manifest.js';
import { NotFoundError } from './name_service.js';
import { Process } from './process.js';
import type { StartKind } from './protocol.js';
import type { Supervisor } from './supervisor.js';

const SECTOR_BYTES = 512;
/** The probe page: every match looks within its first 64 KiB. */
const PROBE_BYTES = 64 * 1024;

export interface DiskServersHost {
  readonly supervisor: Supervisor;
  readonly log: Logger;
  /** A client of the block service `disk`, made by the kernel's endpoint. */
  blockClient(disk: string): ClientOf<typeof blockInterface>;
  /** Zeroed DMA memory the kernel owns; its physical address. */
  allocate(bytes: number): Promise<number>;
  /** The bytes of RAM at a physical address. */
  read(address: number, bytes: number): Uint8Array;
  allocateSlot(): number;
  print(line: string): void;
  /** The volume label the filesystem server `name` reports ("" when it has none). */
  label(name: string): Promise<string>;
}

/** One mount the VFS makes at its start (its config's `mounts`). */
export interface PlannedMount {
  readonly path: string;
  readonly service: string;
  readonly readOnly?: boolean;
}

/** Where the per-disk filesystems go in the VFS, and which (if any) is the root. */
export interface MountPlan {
  readonly root: string | undefined;
  readonly mounts: readonly PlannedMount[];
}

export class DiskServers {
  private readonly host: DiskServersHost;
  private readonly specs: ProgramSpec[] = [];
  private probeBuffer: Promise<number> | undefined;
  private probing: Promise<unknown> = Promise.resolve();

  constructor(host: DiskServersHost) {
    this.host = host;
  }

  /** Keeps the boot manifest's per-disk servers; true if `spec` is one (so it is not started at boot). */
  adopt(spec: ProgramSpec): boolean {
    if (!spec.diskMatch) return false;
    this.specs.push(spec);
    return true;
  }

  /** The running disks: driver instances serving the block interface. */
  private disks(): Process[] {
    return this.host.supervisor.processes.filter((process) => process.kind === 'driver' && process.spec.serves.includes('block') && process.state === 'running');
  }

  /** Probes every running disk and starts the server that matches it; resolves once each has started or failed. */
  async startAll(start: StartKind): Promise<void> {
    if (this.specs.length === 0) return;
    // One probe at a time: they share the probe page.
    const found: Array<{ disk: string; spec: ProgramSpec; readOnly: boolean }> = [];
    for (const disk of this.disks()) {
      try {
        const { spec, readOnly } = await this.probe(disk.name);
        if (spec) found.push({ disk: disk.name, spec, readOnly });
        else this.host.print(`disk ${disk.name}: holds no filesystem baton knows (it knows ${this.specs.map((known) => known.diskMatch!.holds).join(', ')}; mkfs ${disk.name} makes an ext2)`);
      } catch (error) {
        this.host.print(`disk ${disk.name}: could not be probed: ${(error as Error).message}`);
      }
    }
    await Promise.all(found.map(async ({ disk, spec, readOnly }) => {
      const process = this.create(spec, disk, readOnly);
      const ready = await this.host.supervisor.start(process, start);
      this.host.print(`disk ${disk}: ${spec.diskMatch!.holds} → ${process.name} (${readOnly ? 'read-only' : 'read-write'}): ` +
        (ready ? 'running' : `${process.state}: ${process.lastExit || 'see dmesg'}`));
    }));
  }

  /**
   * Starts the server `server` (a per-disk server's name, e.g. "ext2") for `disk`, whatever
   * the disk holds now (after mkfs); refuses a disk that already has one.
   */
  async startFor(disk: string, server: string): Promise<{ name: string; running: boolean; message: string }> {
    const spec = this.specs.find((candidate) => candidate.name === server);
    if (!spec) throw new NotFoundError(`no per-disk server named "${server}" (there are: ${this.specs.map((known) => known.name).join(', ') || 'none'})`);
    const driver = this.disks().find((process) => process.name === disk);
    if (!driver) throw new NotFoundError(`no running disk named "${disk}"`);
    const existing = this.rows().find((row) => row.disk === disk && row.state !== 'stopped' && row.state !== 'failed');
    if (existing) throw new InvalidArgumentError(`${disk} is served by ${existing.name} already (${existing.state})`);
    const stale = this.host.supervisor.processes.find((process) => process.disk === disk && process.spec.name === server);
    const { readOnly } = await this.probe(disk);
    const process = stale ?? this.create(spec, disk, readOnly);
    const running = await this.host.supervisor.start(process, 'fresh');
    return { name: process.name, running, message: running ? `${process.name}: serving ${disk}` : `${process.name}: ${process.state}: ${process.lastExit || 'see dmesg'}` };
  }

  /** Every per-disk server instance: its disk, state and access. */
  rows(): DiskServerRow[] {
    return this.host.supervisor.processes.filter((process) => process.disk !== undefined).map((process) => ({
      name: process.name,
      server: process.spec.name,
      disk: process.disk!,
      holds: process.spec.diskMatch?.holds ?? process.spec.name,
      access: process.spec.config.access === 'read-only' ? 'read-only' : 'read-write',
      state: process.state,
      ...(process.lastExit ? { lastExit: process.lastExit } : {}),
    }));
  }

  /**
   * Where each running per-disk filesystem is mounted when the VFS starts: the disk named by
   * `root=` at "/", the others at /mnt/LABEL (mountPoints). Says each on the boot console.
   */
  async mountPlan(rootDisk: string | undefined): Promise<MountPlan> {
    const entries = await Promise.all(this.running().map(async (process) => ({
      service: process.name,
      disk: process.disk!,
      readOnly: process.spec.config.access === 'read-only',
      label: await this.host.label(process.name).catch(() => ''),
    })));
    const plan = mountPoints(entries, rootDisk);
    if (rootDisk !== undefined && plan.root === undefined) this.host.print(`root=${rootDisk}: no filesystem server runs on that disk; / is the initramfs`);
    if (plan.root !== undefined) this.host.print(`root=${rootDisk}: ${plan.root} mounted at /`);
    for (const mount of plan.mounts) this.host.print(`${mount.service}: mounted at ${mount.path}${mount.readOnly ? ' (read-only)' : ''}`);
    return plan;
  }

  /** The servers running on disks: the filesystems to sync and stop before the disks go. */
  running(): Process[] {
    return this.host.supervisor.processes.filter((process) => process.disk !== undefined && process.state === 'running');
  }

  /** What `disk` holds (the first server whose match it meets), and whether it is read-only. */
  private probe(disk: string): Promise<{ spec: ProgramSpec | undefined; readOnly: boolean }> {
    const result = this.probing.then(() => this.probeAlone(disk));
    this.probing = result.catch(() => undefined);
    return result;
  }

  private async probeAlone(disk: string): Promise<{ spec: ProgramSpec | undefined; readOnly: boolean }> {
    const client = this.host.blockClient(disk);
    const info = await client.info({});
    const bytes = Math.min(PROBE_BYTES, info.sectors * info.sectorBytes, Math.floor(info.maxTransferBytes / SECTOR_BYTES) * SECTOR_BYTES);
    this.probeBuffer ??= this.host.allocate(PROBE_BYTES);
    const address = await this.probeBuffer;
    const wanted = Math.max(...this.specs.map((spec) => spec.diskMatch!.offset + spec.diskMatch!.magic.length / 2));
    const length = Math.min(bytes, Math.ceil(wanted / SECTOR_BYTES) * SECTOR_BYTES);
    if (length === 0) return { spec: undefined, readOnly: info.readOnly };
    await client.read({ sector: 0, bytes: length, buffer: { kind: 'physical', address } });
    const head = this.host.read(address, length).slice();
    return { spec: this.specs.find((spec) => matches(head, spec.diskMatch!)), readOnly: info.readOnly };
  }

  private create(spec: ProgramSpec, disk: string, readOnly: boolean): Process {
    const suffix = /\.(\d+)$/.exec(disk)?.[1];
    let name = suffix === undefined ? spec.name : `${spec.name}.${suffix}`;
    if (this.host.supervisor.find(name)) name = `${spec.name}.${disk}`;
    const instance: ProgramSpec = { ...spec, config: { ...spec.config, disk, access: readOnly ? 'read-only' : 'read-write' } };
    const process = new Process(name, instance, this.host.allocateSlot());
    process.disk = disk;
    this.host.supervisor.add(process);
    this.host.log.info({ disk, server: name, access: instance.config.access }, `${name}: started for disk ${disk}`);
    return process;
  }
}

/** True if `head` (the disk's first bytes) has the match's magic at its offset. */
export function matches(head: Uint8Array, match: DiskMatch): boolean {
  const magic = Uint8Array.from(match.magic.match(/../g)!.map((pair) => Number.parseInt(pair, 16)));
  if (match.offset + magic.length > head.length) return false;
  return magic.every((byte, index) => head[match.offset + index] === byte);
}

/**
 * Mount points for per-disk filesystems, as desktop systems mount under /media: the disk
 * `rootDisk` at "/", every other at /mnt/LABEL (its volume label, "/" made "_"), or
 * /mnt/DISK when it has no label or another disk took that label first.
 */
export function mountPoints(entries: readonly { service: string; disk: string; label: string; readOnly: boolean }[], rootDisk: string | undefined): MountPlan {
  let root: string | undefined;
  const taken = new Set<string>();
  const mounts: PlannedMount[] = [];
  for (const entry of entries) {
    if (entry.disk === rootDisk) { root = entry.service; continue; }
    const label = entry.label.replace(/\//g, '_').replace(/^\.+$/, '');
    let path = label && !taken.has(`/mnt/${label}`) ? `/mnt/${label}` : `/mnt/${entry.disk}`;
    if (taken.has(path)) path = `/mnt/${entry.service}`;
    taken.add(path);
    mounts.push({ path, service: entry.service, ...(entry.readOnly ? { readOnly: true } : {}) });
  }
  return { root, mounts };
}
