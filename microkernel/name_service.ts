// The name service: the only way a thread obtains a channel (a capability) to another.
//
// A lookup succeeds only if the caller's manifest entry lists the target (by instance
// name, driver name, or the name of the interface asked for) in talksTo, and the target
// serves that interface. A name no program has may be a service name: the kernel's host
// finds a program serving it (so "random" reaches whichever driver serves random).
// Everyone may reach "log" and "memory". Every refusal is logged. The kernel tracks each channel it
// made, so it can revoke them when either end dies: the client of a dead server sees
// PEER_RESTARTED (with the new generation) or PEER_STOPPED. A lookup of a program that is
// still starting waits for it at most its startTimeoutMs, then fails with TIMEOUT: a
// server that hangs at start never holds its callers (the console, the control socket).

import type { DoorbellPage } from '../hal/doorbells.js';
import { closeChannel, createChannel, type ChannelDescriptor } from '../ipc/channel.js';
import { CallTimeoutError, IpcError, PermissionDeniedError, PeerStoppedError } from '../ipc/errors.js';
import { framesWritten, Ring } from '../ipc/ring.js';
import type { TrafficRow } from '../ipc/interfaces/kernel.js';
import { DEFAULT_START_TIMEOUT_MS } from './manifest.js';
import type { Process } from './process.js';

/** Services any program may reach without listing them. */
const UNIVERSAL_SERVICES = new Set(['log', 'memory']);

function trafficKey(client: string, server: string, interfaceName: string): string {
  return `${client}\u0000${server}\u0000${interfaceName}`;
}
export const KERNEL_NAME = 'kernel';

export class NotFoundError extends IpcError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

interface ChannelRecord {
  readonly descriptor: ChannelDescriptor;
  readonly client: string;
  readonly server: string;
}

export interface NameServiceHost {
  readonly doorbells: DoorbellPage;
  readonly kernelSlot: number;
  find(name: string): Process | undefined;
  /** Services the kernel itself serves under their own name, besides "kernel" (e.g. "drivers"). */
  readonly kernelServices?: readonly string[];
  /** Data capacity of each ring of a new channel (a power of two); default 64 KiB. */
  readonly ringBytes?: number;
  /** Hands the server end of a channel to `server`'s thread (or to the kernel's endpoint). */
  attach(server: Process | 'kernel', channel: ChannelDescriptor, clientName: string): void;
  warn(message: string, fields: Record<string, unknown>): void;
}

export class NameService {
  private readonly host: NameServiceHost;
  private readonly channels = new Map<number, ChannelRecord>();
  /** Messages on channels closed since boot, by client, server and interface. */
  private readonly closedTraffic = new Map<string, TrafficRow>();
  private nextChannelId = 1;
  denied = 0;

  constructor(host: NameServiceHost) {
    this.host = host;
  }

  /** A channel from `caller` (a process, or the kernel itself) to `name`. Rejects with a typed IpcError. */
  async lookup(caller: Process | 'kernel', name: string, interfaceName: string): Promise<ChannelDescriptor> {
    const callerName = caller === 'kernel' ? KERNEL_NAME : caller.name;
    const callerSlot = caller === 'kernel' ? this.host.kernelSlot : caller.slot;
    if (name === KERNEL_NAME || this.host.kernelServices?.includes(name)) {
      this.authorize(caller, name, undefined, interfaceName);
      if (interfaceName !== name) throw new NotFoundError(`the kernel does not serve "${interfaceName}" as ${name}`);
      return this.connect(callerName, callerSlot, 'kernel', interfaceName);
    }
    const target = this.host.find(name);
    if (!target) {
      throw new NotFoundError(name === interfaceName ? `nothing serves "${name}" (no server or driver of that name or serving it)` : `no server or driver named "${name}"`);
    }
    this.authorize(caller, name, target, interfaceName);
    if (!target.spec.serves.includes(interfaceName)) {
      throw new NotFoundError(`${name} does not serve the "${interfaceName}" interface`);
    }
    const ready = await this.whenReady(target);
    if (ready === 'late') {
      const timeoutMs = target.spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
      throw new CallTimeoutError(`${target.name} is not ready (${target.state}, generation ${target.generation}) after ${timeoutMs} ms; see ps`, { timeoutMs });
    }
    if (!ready) throw new PeerStoppedError(`${target.name} is ${target.state}`, target.generation);
    return this.connect(callerName, callerSlot, target, interfaceName);
  }

  /** `target` became ready (true), stopped or failed first (false), or was not ready within its start timeout. */
  private async whenReady(target: Process): Promise<boolean | 'late'> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), target.spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    });
    try {
      return await Promise.race([target.whenReady(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Revokes every channel `process` is an end of; clients of it learn the new generation.
   * With `unread`, the frames still in the request rings of the channels it served are read
   * once those are closed (its thread has ended, so the kernel reads in its place) and handed over.
   */
  revoke(process: Process, reason: 'peer-restarted' | 'peer-stopped', newGeneration: number, unread?: (frames: Uint8Array[]) => void): number {
    let revoked = 0;
    const served: ChannelDescriptor[] = [];
    for (const [id, record] of this.channels) {
      if (record.server !== process.name && record.client !== process.name) continue;
      const key = trafficKey(record.client, record.server, record.descriptor.interfaceName);
      const sum = this.closedTraffic.get(key) ?? { client: record.client, server: record.server, interface: record.descriptor.interfaceName, calls: 0, replies: 0 };
      this.closedTraffic.set(key, { ...sum, calls: sum.calls + framesWritten(record.descriptor.requests), replies: sum.replies + framesWritten(record.descriptor.replies) });
      const why = record.server === process.name ? reason : 'peer-stopped';
      closeChannel(record.descriptor, why, newGeneration, this.host.doorbells);
      if (record.server === process.name) served.push(record.descriptor);
      this.channels.delete(id);
      revoked++;
    }
    if (unread) {
      const frames: Uint8Array[] = [];
      for (const descriptor of served) {
        const requests = new Ring(descriptor.requests);
        for (let frame = requests.tryRead(); frame; frame = requests.tryRead()) frames.push(frame);
      }
      unread(frames);
    }
    return revoked;
  }

  /**
   * Messages per client, server and interface since boot: frames the client sent (calls and
   * sends) and the server sent back (replies, errors, notifications), on the channels open now
   * and on those closed since (a restart's), summed.
   */
  traffic(): TrafficRow[] {
    const totals = new Map(this.closedTraffic);
    for (const record of this.channels.values()) {
      const key = trafficKey(record.client, record.server, record.descriptor.interfaceName);
      const sum = totals.get(key) ?? { client: record.client, server: record.server, interface: record.descriptor.interfaceName, calls: 0, replies: 0 };
      totals.set(key, { ...sum, calls: sum.calls + framesWritten(record.descriptor.requests), replies: sum.replies + framesWritten(record.descriptor.replies) });
    }
    return [...totals.values()];
  }

  get openChannels(): number {
    return this.channels.size;
  }

  private authorize(caller: Process | 'kernel', name: string, target: Process | undefined, interfaceName: string): void {
    if (caller === 'kernel' || UNIVERSAL_SERVICES.has(name)) return;
    const allowed = caller.spec.talksTo;
    if (allowed.includes(name) || (target && allowed.includes(target.spec.name))) return;
    // A service name in talksTo reaches every program that serves that interface (any disk for "block").
    if (target && allowed.includes(interfaceName) && target.spec.serves.includes(interfaceName)) return;
    this.denied++;
    this.host.warn(`permission denied: ${caller.name} may not talk to ${name}`, { caller: caller.name, target: name });
    throw new PermissionDeniedError(`${caller.name} may not talk to ${name} (not in its manifest's talksTo)`);
  }

  private connect(clientName: string, clientSlot: number, server: Process | 'kernel', interfaceName: string): ChannelDescriptor {
    const serverName = server === 'kernel' ? KERNEL_NAME : server.name;
    const descriptor = createChannel({
      id: this.nextChannelId++,
      interfaceName,
      clientSlot,
      serverSlot: server === 'kernel' ? this.host.kernelSlot : server.slot,
      serverGeneration: server === 'kernel' ? 0 : server.generation,
      serverName,
      ...(this.host.ringBytes ? { capacityBytes: this.host.ringBytes } : {}),
    });
    this.channels.set(descriptor.id, { descriptor, client: clientName, server: serverName });
    this.host.attach(server, descriptor, clientName);
    return descriptor;
  }
}
