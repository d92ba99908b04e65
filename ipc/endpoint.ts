// The one IPC loop of a thread.
//
//   doorbell (one per thread) ──rings──▶ Endpoint loop ──▶ for each attached channel:
//                                                           server end: dispatch requests
//                                                           client end: settle calls, notifications
//                                                           both: flush frames queued on a full ring
//
// Every peer that writes a frame, and the kernel when it closes a channel, rings this thread's
// doorbell. The loop passes over all channels, then waits: it spins (cooperatively, in slices,
// letting this thread's microtasks run between them) only while it expects something — a
// reply to an outstanding call, or the next request right after serving one — for a budget
// that adapts (waiter.ts), and otherwise parks in Atomics.waitAsync. While started, the loop
// holds a ref'd timer so a worker whose only work is IPC stays alive; stop() releases it.
// Under continuous traffic the loop still yields to the event loop at least every millisecond,
// so timers and postMessage (the kernel's control path) keep running.

import type { BulkCarrier } from './bulk.js';
import type { DoorbellPage } from '../hal/doorbells.js';
import { checkDescriptor, type ChannelDescriptor } from './channel.js';
import { ClientChannel, type ClientHost, type MutableStats } from './client_channel.js';
import { createConnectedClient, type Connector } from './connected_client.js';
import {
  compileInterface, explainMismatch,
  type ClientOf, type CompiledNotification, type HandlersOf, type InterfaceDefinition, type NotificationArgs, type NotificationName,
} from './define.js';
import { EndpointStoppedError, InvalidArgumentError, NotSupportedError, PeerRestartedError, type IpcError } from './errors.js';
import { PendingCalls } from './pending_calls.js';
import { ServerChannel, type AnyHandler, type ServerHost, type Service } from './server_channel.js';
import { SpinPolicy, Waiter, type SpinPolicyOptions } from './waiter.js';

export type { Connector } from './connected_client.js';
export { ClientChannel } from './client_channel.js';

/** Counters of one Endpoint (frames, not bytes). */
export interface EndpointStats {
  /** Frames read from any channel. */
  readonly received: number;
  /** REPLY and ERROR frames written by this thread's server ends. */
  readonly replied: number;
  /** Error replies sent, plus frames dropped as undecodable, malformed or unanswerable. */
  readonly errors: number;
  /** CALL, SEND and NOTIFICATION frames written. */
  readonly sent: number;
  /** Messages too large for a ring that went through lent RAM pages (BULK_CALL, BULK_REPLY), sent or received. */
  readonly bulk: number;
}

/** How an Endpoint's loop waited (for benchmarks and diagnostics; counts since construction). */
export interface EndpointWaitStats {
  /** Spins that ended because the doorbell rang. */
  readonly spinHits: number;
  /** Spins whose budget ran out, so the loop parked. */
  readonly spinsExpired: number;
  /** Times the loop parked in Atomics.waitAsync. */
  readonly parks: number;
  /** Frames written to a peer that was parked (each costs that peer a wake-up). */
  readonly peersWoken: number;
  /** Microseconds spent spinning. */
  readonly spinMicros: number;
}

export interface EndpointOptions {
  readonly doorbells: DoorbellPage;
  /** This thread's doorbell slot; the Endpoint must be its only waiter. */
  readonly slot: number;
  /** Thread name, for messages. */
  readonly name: string;
  /** Timeout of calls that do not set one (default 10 000 ms). */
  readonly defaultTimeoutMs?: number;
  /** Told about failures no caller will hear of (handler bugs, corrupt rings). Default: console.error. */
  readonly onFault?: (error: unknown, where: string) => void;
  /** Carries calls too large for a ring through lent RAM pages (bulk.ts); without it they are refused. */
  readonly bulk?: BulkCarrier;
  /** Spin budgets while awaiting replies / the next request. `maxMicros: 0` never spins. */
  readonly spin?: { readonly replies?: SpinPolicyOptions; readonly requests?: SpinPolicyOptions };
}

/** What a notification handler is told. */
export interface NotificationContext {
  readonly channelId: number;
}

type NotificationHandler = (args: unknown, context: NotificationContext) => void;

/** Longest stretch of back-to-back work or spinning before the loop lets the event loop run. */
const MAX_BUSY_MS = 1;
/** Length of one spin slice; microtasks run between slices. */
const SPIN_SLICE_MS = 0.002;
const KEEP_ALIVE_MS = 0x3fff_ffff;

const yieldToEventLoop: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * A thread's IPC endpoint: serves interfaces on server channels, calls through client
 * channels, and runs the loop that drives both.
 *
 * @example
 * const endpoint = new Endpoint({ doorbells, slot, name: 'vfs' });
 * endpoint.serve(vfsInterface, { open: async ({ path }, context) => ... });
 * endpoint.start();
 * port.on('message', (m) => { if (m.type === 'attach') endpoint.attachServer(m.channel, m.clientName); });
 * const block = endpoint.client(blockInterface, { connect: () => lookup('block'), reconnect: (old) => lookup('block') });
 * const sector = await block.read({ sector: 0 });
 */
export class Endpoint {
  readonly name: string;
  readonly slot: number;
  readonly stats: EndpointStats;
  private readonly doorbells: DoorbellPage;
  private readonly waiter: Waiter;
  private readonly counters: MutableStats = { received: 0, replied: 0, errors: 0, sent: 0, bulk: 0 };
  private readonly waitCounters = { spinHits: 0, spinsExpired: 0, parks: 0, peersWoken: 0, spinMicros: 0 };
  private readonly calls = new PendingCalls<ClientChannel>();
  private readonly services = new Map<string, Service>();
  private readonly serverChannels = new Map<number, ServerChannel>();
  private readonly clientChannels = new Map<number, ClientChannel>();
  private readonly notificationHandlers = new Map<string, Map<number, { notification: CompiledNotification; handler: NotificationHandler }>>();
  private readonly wakeSources = new Set<() => boolean | void>();
  private readonly restartListeners = new Set<(descriptor: ChannelDescriptor, generation: number) => void>();
  private readonly replySpin: SpinPolicy;
  private readonly requestSpin: SpinPolicy;
  private readonly onFault: (error: unknown, where: string) => void;
  private readonly defaultTimeoutMs: number;
  private readonly clientHost: ClientHost;
  private readonly serverHost: ServerHost;
  private loop: Promise<void> | undefined;
  private running = false;
  private servedSinceParked = false;
  /** A frame written since the last wait began woke its parked reader (see waiter.ts). */
  private wokePeer = false;

  constructor(options: EndpointOptions) {
    this.doorbells = options.doorbells;
    this.slot = options.slot;
    this.name = options.name;
    this.waiter = new Waiter(options.doorbells, options.slot);
    this.stats = this.counters;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
    this.onFault = options.onFault ?? ((error, where) => console.error(`[${this.name}] ipc fault in ${where}:`, error));
    this.replySpin = new SpinPolicy(options.spin?.replies);
    this.requestSpin = new SpinPolicy(options.spin?.requests);
    this.clientHost = {
      bulk: options.bulk,
      doorbells: this.doorbells,
      calls: this.calls,
      stats: this.counters,
      defaultTimeoutMs: this.defaultTimeoutMs,
      expectReply: () => this.waiter.kick(),
      peerWoken: () => this.peerWoken(),
      deliverNotification: (channel, id, args) => this.deliverNotification(channel, id, args),
      forget: (channel, why) => this.forgetClient(channel, why),
      fault: (error, where) => this.fault(error, where),
    };
    this.serverHost = {
      bulk: options.bulk,
      doorbells: this.doorbells,
      stats: this.counters,
      peerWoken: () => this.peerWoken(),
      forget: (channel) => this.forgetServer(channel),
      fault: (error, where) => this.fault(error, where),
    };
  }

  /**
   * Serves interface `definition` with `handlers` on every server channel of that interface
   * (attached before or after). Operations without a handler answer NOT_SUPPORTED.
   */
  serve<const D extends InterfaceDefinition>(definition: D, handlers: HandlersOf<D>): void {
    const compiled = compileInterface(definition);
    if (typeof handlers !== 'object' || handlers === null) throw new InvalidArgumentError(`handlers for ${compiled.name} must be an object`);
    for (const key of Object.keys(handlers)) {
      if (!compiled.operationsByName.has(key)) throw new InvalidArgumentError(`${compiled.name} has no operation ${key} to handle`);
    }
    this.services.set(compiled.name, { compiled, handlers: handlers as Record<string, AnyHandler | undefined> });
  }

  /** Attaches the server end of a new client's channel. Throws NotSupportedError if its interface is not served. */
  attachServer(descriptor: ChannelDescriptor, clientName?: string): void {
    checkDescriptor(descriptor);
    if (descriptor.serverSlot !== this.slot) {
      throw new InvalidArgumentError(`channel ${descriptor.id} is for server slot ${descriptor.serverSlot}, not ${this.name}'s slot ${this.slot}`);
    }
    const service = this.services.get(descriptor.interfaceName);
    if (!service) throw new NotSupportedError(`${this.name} does not serve ${descriptor.interfaceName}; call serve() before attaching`);
    if (this.serverChannels.has(descriptor.id)) throw new InvalidArgumentError(`channel ${descriptor.id} is already attached`);
    this.serverChannels.set(descriptor.id, new ServerChannel(descriptor, service, this.serverHost, clientName));
    this.doorbells.ring(this.slot); // look at it now: requests may already be waiting
  }

  /** Attaches the client end of a channel; returns it for calls by name or a typed `bind`. */
  attachClient(descriptor: ChannelDescriptor): ClientChannel {
    checkDescriptor(descriptor);
    if (descriptor.clientSlot !== this.slot) {
      throw new InvalidArgumentError(`channel ${descriptor.id} is for client slot ${descriptor.clientSlot}, not ${this.name}'s slot ${this.slot}`);
    }
    if (this.clientChannels.has(descriptor.id)) throw new InvalidArgumentError(`channel ${descriptor.id} is already attached`);
    const channel = new ClientChannel(descriptor, this.clientHost);
    this.clientChannels.set(descriptor.id, channel);
    return channel;
  }

  /**
   * A typed client of `definition` that connects on first use and reconnects after the
   * server restarts, retrying idempotent operations once (see connected_client.ts).
   */
  client<const D extends InterfaceDefinition>(definition: D, connector: Connector): ClientOf<D> {
    return createConnectedClient(
      { attachClient: (descriptor) => this.attachClient(descriptor), fault: (error, where) => this.fault(error, where) },
      definition,
      connector,
    );
  }

  /**
   * Sends notification `notificationName` to the client of server channel `descriptorId`.
   * Dropped silently if this thread serves no open channel with that id (it closed, or was
   * detached). Throws InvalidArgumentError for an unknown notification, invalid arguments,
   * or a channel of another interface; MessageTooLargeError if it cannot fit the ring.
   */
  notify<const D extends InterfaceDefinition, N extends NotificationName<D>>(
    descriptorId: number, definition: D, notificationName: N, args: NotificationArgs<D, N>,
  ): void {
    const compiled = compileInterface(definition);
    const notification = compiled.notificationsByName.get(notificationName);
    if (!notification) throw new InvalidArgumentError(`${compiled.name} has no notification ${notificationName}`);
    const channel = this.serverChannels.get(descriptorId);
    if (!channel) return;
    if (channel.descriptor.interfaceName !== compiled.name) {
      throw new InvalidArgumentError(`channel ${descriptorId} speaks ${channel.descriptor.interfaceName}, not ${compiled.name}`);
    }
    const mismatch = explainMismatch(notification.args, args);
    if (mismatch !== undefined) throw new InvalidArgumentError(`invalid arguments for notification ${compiled.name}.${notificationName}: ${mismatch}`);
    channel.notify(notification.id, args, `${compiled.name}.${notificationName}`);
  }

  /** Handles notification `name` on every client channel of `definition`'s interface (replaces an earlier handler). */
  onNotification<const D extends InterfaceDefinition, N extends NotificationName<D>>(
    definition: D, name: N, handler: (args: NotificationArgs<D, N>, context: NotificationContext) => void,
  ): void {
    const compiled = compileInterface(definition);
    const notification = compiled.notificationsByName.get(name);
    if (!notification) throw new InvalidArgumentError(`${compiled.name} has no notification ${name}`);
    if (typeof handler !== 'function') throw new InvalidArgumentError('notification handler must be a function');
    let handlers = this.notificationHandlers.get(compiled.name);
    if (!handlers) this.notificationHandlers.set(compiled.name, (handlers = new Map()));
    handlers.set(notification.id, { notification, handler: handler as NotificationHandler });
  }

  /**
   * Adds something else to look at on every pass of the loop, i.e. whenever the doorbell
   * rings (e.g. interrupt delivery: the interrupt controller rings the thread's doorbell).
   * `poll` may return true to say it did work (the loop then looks again before waiting).
   * Exceptions are reported to onFault. Returns a function that removes it.
   */
  onWake(poll: () => boolean | void): () => void {
    if (typeof poll !== 'function') throw new InvalidArgumentError('onWake needs a function');
    this.wakeSources.add(poll);
    return () => this.wakeSources.delete(poll);
  }

  /**
   * Calls `listener` whenever the kernel closes a client channel of this thread because its
   * server restarted (PEER_RESTARTED), with the new generation — whether or not a call was
   * pending. What the old generation held for this client (a follow, a subscription) is
   * gone: ask the new one again (the next call on the same client reconnects). Returns a
   * function that removes the listener.
   */
  onPeerRestarted(listener: (descriptor: ChannelDescriptor, generation: number) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('onPeerRestarted needs a function');
    this.restartListeners.add(listener);
    return () => this.restartListeners.delete(listener);
  }

  /** True while this thread serves channel `descriptorId` and its client has not gone (closed, detached). */
  serving(descriptorId: number): boolean {
    return this.serverChannels.get(descriptorId)?.open === true;
  }

  /** Stops serving or using channel `descriptorId` (both ends, if this thread holds both). */
  detach(descriptorId: number): void {
    this.serverChannels.get(descriptorId)?.detach();
    this.clientChannels.get(descriptorId)?.detach();
  }

  /** Starts the loop (no effect if running). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the loop; resolves once it has exited. Pending calls reject with ENDPOINT_STOPPED. */
  async stop(): Promise<void> {
    this.running = false;
    this.waiter.dispose();
    await this.loop;
    this.loop = undefined;
    this.calls.rejectAll(() => new EndpointStoppedError(`endpoint ${this.name} stopped`));
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Number of calls awaiting replies. */
  get pendingCalls(): number {
    return this.calls.size;
  }

  /** How the loop has waited so far (a copy). */
  get waitStats(): EndpointWaitStats {
    return { ...this.waitCounters };
  }

  /**
   * Current spin budgets in µs, and the expired spins left in each one's cooling after a futile
   * spin (`cooling`, in waits; 0 when not cooling), for benchmarks and diagnostics.
   */
  get spinBudgets(): {
    replies: number;
    requests: number;
    repliesAfterWake: number;
    requestsAfterWake: number;
    cooling: { replies: number; requests: number; repliesAfterWake: number; requestsAfterWake: number };
  } {
    const replies = this.replySpin.coolingWaitsLeft;
    const requests = this.requestSpin.coolingWaitsLeft;
    return {
      replies: this.replySpin.budgetMicros,
      requests: this.requestSpin.budgetMicros,
      repliesAfterWake: this.replySpin.wakeBudgetMicros,
      requestsAfterWake: this.requestSpin.wakeBudgetMicros,
      cooling: { replies: replies.ordinary, requests: requests.ordinary, repliesAfterWake: replies.wake, requestsAfterWake: requests.wake },
    };
  }

  /** One pass over every channel and wake source. Returns true if anything was done. */
  private pass(): boolean {
    let worked = false;
    for (const channel of this.serverChannels.values()) {
      if (channel.pump() > 0) {
        worked = true;
        this.servedSinceParked = true;
      }
    }
    for (const channel of this.clientChannels.values()) if (channel.pump() > 0) worked = true;
    for (const poll of this.wakeSources) {
      try {
        if (poll() === true) worked = true;
      } catch (error) {
        this.fault(error, 'wake source');
      }
    }
    return worked;
  }

  private async run(): Promise<void> {
    const keepAlive = setInterval(() => {}, KEEP_ALIVE_MS);
    let busySince = performance.now();
    // The wait in progress (no object per wait): the policy that planned it, when it began
    // and when its spin ends (ms); `spinPolicy` undefined when none is.
    let spinPolicy: SpinPolicy | undefined;
    let spinStartedAt = 0;
    let spinEnd = 0;
    try {
      while (this.running) {
        const seen = this.waiter.sequence();
        if (this.pass()) {
          if (spinPolicy) {
            // What the spin waited for arrived between two slices: a hit all the same.
            this.waitCounters.spinHits++;
            spinPolicy.spinSucceeded((performance.now() - spinStartedAt) * 1000);
            spinPolicy = undefined;
          }
          // Let this thread's other work run: microtasks always (a settled call's caller
          // goes on here), the whole event loop once the loop has been busy for MAX_BUSY_MS.
          if (performance.now() - busySince < MAX_BUSY_MS) {
            await undefined;
          } else {
            await yieldToEventLoop();
            busySince = performance.now();
          }
          continue;
        }
        const policy = this.calls.size > 0 ? this.replySpin : this.servedSinceParked ? this.requestSpin : undefined;
        let waitStartedAt = -1;
        if (policy) {
          const now = performance.now();
          if (spinPolicy !== policy) {
            const wokePeer = this.wokePeer;
            this.wokePeer = false;
            spinPolicy = policy;
            spinStartedAt = now;
            spinEnd = now + policy.beginWait(wokePeer) / 1000;
          }
          if (now < spinEnd) {
            const rang = this.waiter.spin(seen, Math.min(spinEnd, now + SPIN_SLICE_MS));
            const after = performance.now();
            this.waitCounters.spinMicros += (after - now) * 1000;
            if (rang) {
              this.waitCounters.spinHits++;
              policy.spinSucceeded((after - spinStartedAt) * 1000);
              spinPolicy = undefined;
            } else if (after - busySince < MAX_BUSY_MS) {
              await undefined;
            } else {
              await yieldToEventLoop();
              busySince = performance.now();
            }
            continue;
          }
          if (spinEnd > spinStartedAt) {
            this.waitCounters.spinsExpired++;
            policy.spinExpired();
          }
          waitStartedAt = spinStartedAt;
          spinPolicy = undefined;
        }
        this.servedSinceParked = false;
        this.wokePeer = false;
        this.waitCounters.parks++;
        const parkedAt = performance.now();
        const outcome = await this.waiter.park(seen);
        busySince = performance.now();
        if (outcome === 'rung' && policy) policy.parkedWokenAfter((busySince - waitStartedAt) * 1000, (busySince - parkedAt) * 1000);
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  private peerWoken(): void {
    this.waitCounters.peersWoken++;
    this.wokePeer = true;
  }

  private deliverNotification(channel: ClientChannel, notificationId: number, args: unknown): void {
    const entry = this.notificationHandlers.get(channel.descriptor.interfaceName)?.get(notificationId);
    if (!entry) return; // nobody listens: not an error
    if (!entry.notification.args.Check(args)) {
      this.counters.errors++;
      return;
    }
    try {
      entry.handler(args, { channelId: channel.id });
    } catch (error) {
      this.counters.errors++;
      this.fault(error, `notification handler ${channel.descriptor.interfaceName}.${entry.notification.name}`);
    }
  }

  private forgetClient(channel: ClientChannel, why: IpcError): void {
    if (this.clientChannels.get(channel.id) === channel) this.clientChannels.delete(channel.id);
    if (!(why instanceof PeerRestartedError)) return;
    for (const listener of this.restartListeners) {
      try {
        listener(channel.descriptor, why.generation ?? 0);
      } catch (error) {
        this.fault(error, `peer-restarted listener for ${channel.descriptor.interfaceName}`);
      }
    }
  }

  private forgetServer(channel: ServerChannel): void {
    if (this.serverChannels.get(channel.id) === channel) this.serverChannels.delete(channel.id);
  }

  private fault(error: unknown, where: string): void {
    try {
      this.onFault(error, where);
    } catch {
      // The fault hook must not take the loop down.
    }
  }
}
