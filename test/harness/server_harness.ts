// Starts one server or driver alone in a worker, against fake peers served from the
// test's own thread — as Fuchsia's fdf_testing Environment does for a driver.
//
// The harness plays the kernel's part of the protocol (microkernel/protocol.ts): it
// sends `start`, answers `lookup` with channels to the fake peers it serves, answers
// `allocate` from a DMA pool, and lets the test call the server through a channel of
// its own. Crashes are caught and reported; stop() always ends the thread.

import { fileURLToPath } from 'node:url';
import { HardwareThread } from '../../hal/cpu.js';
import { Clock } from '../../hal/clock.js';
import { DoorbellPage, DOORBELL_SLOTS } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { Ram } from '../../hal/ram.js';
import { createChannel, type ChannelDescriptor } from '../../ipc/channel.js';
import type { ClientOf, HandlersOf, InterfaceDefinition } from '../../ipc/define.js';
import { Endpoint } from '../../ipc/endpoint.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { errorToWire, NotSupportedError, PermissionDeniedError } from '../../ipc/errors.js';
import { DmaPool } from '../../microkernel/dma_pool.js';
import { DEFAULT_SYSTEM, HEARTBEAT_WORDS, parseThreadMessage, type DeviceBinding, type StartKind, type SystemBootInfo } from '../../microkernel/protocol.js';

const HARNESS_SLOT = 1;
const SERVER_SLOT = 2;
const shellEntry = new URL('../../build/microkernel/userlib/thread_main.js', import.meta.url);

/** A fake peer: a name the server may look up, and the interface served under it. */
export interface FakePeer<D extends InterfaceDefinition = InterfaceDefinition> {
  readonly name: string;
  readonly definition: D;
  readonly handlers: HandlersOf<D>;
}

export function fakePeer<const D extends InterfaceDefinition>(name: string, definition: D, handlers: HandlersOf<D>): FakePeer {
  return { name, definition, handlers: handlers as HandlersOf<InterfaceDefinition> };
}

export interface HarnessOptions {
  /** Compiled module path below build/, without extension, e.g. "servers/log/main". */
  readonly module: string;
  readonly name: string;
  readonly config?: Record<string, unknown>;
  /** The boot arguments every program is told (default: neither verbose nor checked). */
  readonly system?: Partial<SystemBootInfo>;
  readonly peers?: readonly FakePeer[];
  readonly device?: DeviceBinding;
  readonly ram?: Ram;
  readonly start?: StartKind;
  readonly generation?: number;
  /** Shares these with a device model the test runs. */
  readonly doorbells?: DoorbellPage;
  readonly interrupts?: InterruptController;
}

export class ServerHarness {
  readonly ram: Ram;
  readonly doorbells: DoorbellPage;
  readonly interrupts: InterruptController;
  readonly endpoint: Endpoint;
  readonly heartbeats = new Int32Array(new SharedArrayBuffer(DOORBELL_SLOTS * HEARTBEAT_WORDS * 4));
  /** Errors the server thread died of. */
  readonly crashes: Error[] = [];
  /** What the server logged, when the test did not fake the log service. */
  readonly logRecords: Array<{ level: number; msg: string; fields?: Record<string, unknown> }> = [];
  private readonly logWaiters: Array<() => void> = [];

  /** Resolves with the first record the server logged that satisfies `predicate` (logging is asynchronous). */
  logged(predicate: (record: { level: number; msg: string; fields?: Record<string, unknown> }) => boolean): Promise<{ level: number; msg: string; fields?: Record<string, unknown> }> {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.logRecords.find(predicate);
        if (found) resolve(found);
        else this.logWaiters.push(check);
      };
      check();
    });
  }

  /** Names the server looked up, in order (granted or not). */
  readonly lookups: string[] = [];
  private readonly thread: HardwareThread;
  private readonly options: HarnessOptions;
  private readonly peers: Map<string, FakePeer>;
  private readonly dma: DmaPool;
  private nextChannel = 1;
  /** What the server asked the kernel to remember. */
  remembered = 0;
  private readonly channelPeers = new Map<number, FakePeer>();
  /** Resolves with the thread's exit code once it ended. */
  readonly exited: Promise<number>;
  private readyResolve!: () => void;
  private readyReject!: (error: Error) => void;
  readonly ready: Promise<void>;

  private constructor(options: HarnessOptions, thread: HardwareThread) {
    this.options = options;
    this.thread = thread;
    this.ram = options.ram ?? Ram.allocate(8 * 1024 * 1024);
    this.doorbells = options.doorbells ?? new DoorbellPage();
    this.interrupts = options.interrupts ?? new InterruptController(this.doorbells);
    this.dma = new DmaPool(this.ram, [{ start: this.ram.base + 1024 * 1024, end: this.ram.end }]);
    this.peers = new Map((options.peers ?? []).map((peer) => [peer.name, peer]));
    // Every program may log: unless the test fakes the log service itself, keep the records.
    if (!this.peers.has('log')) {
      this.peers.set('log', fakePeer('log', logInterface, {
        write: ({ records }) => {
          this.logRecords.push(...records);
          for (const waiter of this.logWaiters.splice(0)) waiter();
        },
      }));
    }
    this.endpoint = new Endpoint({ doorbells: this.doorbells, slot: HARNESS_SLOT, name: 'harness' });
    // Several fake peers may speak one interface (two terminals): serve each interface
    // once and route every call to the peer its channel was looked up for.
    const served = new Set<string>();
    for (const peer of this.peers.values()) {
      if (served.has(peer.definition.name)) continue;
      served.add(peer.definition.name);
      const routed: Record<string, unknown> = {};
      for (const operation of Object.keys(peer.definition.ops)) {
        routed[operation] = (args: unknown, call: { channelId: number }) => {
          const target = this.channelPeers.get(call.channelId);
          const handler = (target?.handlers as Record<string, ((args: unknown, call: unknown) => unknown) | undefined>)[operation];
          if (!handler) throw new NotSupportedError(`fake peer ${target?.name} does not handle ${operation}`);
          return handler(args, call);
        };
      }
      this.endpoint.serve(peer.definition, routed as HandlersOf<InterfaceDefinition>);
    }
    this.endpoint.start();
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => thread.on('exit', resolve));
    thread.on('error', (error) => {
      this.crashes.push(error);
      this.readyReject(error);
    });
    thread.on('exit', (code) => this.readyReject(new Error(`${options.name} exited with code ${code}`)));
    thread.on('message', (message) => this.receive(message));
  }

  /** Starts `options.module` alone; resolves once its init has finished (ready). */
  static async start(options: HarnessOptions): Promise<ServerHarness> {
    const thread = new HardwareThread(shellEntry, { name: options.name });
    const harness = new ServerHarness(options, thread);
    await harness.ready;
    return harness;
  }

  /** A client of the server under test, on a new channel. */
  client<const D extends InterfaceDefinition>(definition: D): ClientOf<D> {
    return this.endpoint.client(definition, { connect: async () => this.connectToServer(definition.name), reconnect: async () => this.connectToServer(definition.name) });
  }

  /** A channel to the server that the test drives by hand (raw frames, detach). */
  connectToServer(interfaceName: string): ChannelDescriptor {
    const channel = createChannel({ id: this.nextChannel++, interfaceName, clientSlot: HARNESS_SLOT, serverSlot: SERVER_SLOT, serverGeneration: this.options.generation ?? 1 });
    this.thread.post({ type: 'attach', channel, clientName: 'harness' });
    return channel;
  }

  /** Messages the server reported handled at its last heartbeat. */
  heartbeatCount(): number {
    return Atomics.load(this.heartbeats, SERVER_SLOT * HEARTBEAT_WORDS);
  }

  /** Makes the server crash, as `kill` does; resolves with its exit code. */
  async crash(): Promise<number> {
    this.thread.post({ type: 'crash', reason: 'killed by the test' });
    return this.exited;
  }

  get hasExited(): boolean {
    return this.thread.hasExited;
  }

  /** Ends the thread and the harness's loop. Safe to call twice. */
  async stop(): Promise<void> {
    await this.thread.terminate();
    await this.endpoint.stop();
  }

  private receive(raw: unknown): void {
    if ((raw as { type?: string })?.type === 'shell-ready') {
      this.thread.post({ type: 'start', boot: this.bootInfo() });
      return;
    }
    const message = parseThreadMessage(raw);
    if (!message) return;
    switch (message.type) {
      case 'ready':
        this.readyResolve();
        return;
      case 'remember':
        this.remembered = message.value;
        return;
      case 'log': {
        // Records the thread handed "the kernel" (its log channel was not open yet): the log peer gets them, as the kernel would forward them.
        const write = (this.peers.get('log')?.handlers as { write?: (args: { records: unknown[] }, call: never) => unknown } | undefined)?.write;
        write?.({ records: [...message.records] }, undefined as never);
        return;
      }
      case 'init-failed':
        this.readyReject(new Error(`${this.options.name} init failed: ${message.error.message}`));
        return;
      case 'lookup': {
        this.lookups.push(message.name);
        const peer = this.peers.get(message.name);
        if (!peer || peer.definition.name !== message.interfaceName) {
          const error = new PermissionDeniedError(`the harness has no fake peer "${message.name}" serving ${message.interfaceName}`);
          this.thread.post({ type: 'lookup-reply', id: message.id, error: errorToWire(error) });
          return;
        }
        const channel = createChannel({ id: this.nextChannel++, interfaceName: message.interfaceName, clientSlot: SERVER_SLOT, serverSlot: HARNESS_SLOT, serverGeneration: 1 });
        this.channelPeers.set(channel.id, peer);
        this.endpoint.attachServer(channel, this.options.name);
        this.thread.post({ type: 'lookup-reply', id: message.id, channel });
        return;
      }
      case 'allocate':
        try {
          this.thread.post({ type: 'allocate-reply', id: message.id, address: this.dma.allocate(this.options.name, message.bytes, message.alignment) });
        } catch (error) {
          this.thread.post({ type: 'allocate-reply', id: message.id, error: { code: 'OUT_OF_MEMORY', message: (error as Error).message } });
        }
        return;
      default:
        return;
    }
  }

  private bootInfo() {
    return {
      name: this.options.name,
      kind: this.options.device ? 'driver' : 'server',
      module: new URL(`../../build/${this.options.module}.js`, import.meta.url).href,
      generation: this.options.generation ?? 1,
      start: this.options.start ?? 'fresh',
      slot: SERVER_SLOT,
      kernelSlot: HARNESS_SLOT,
      doorbells: this.doorbells.buffer,
      interrupts: this.interrupts.buffer,
      clock: new Clock().buffer,
      ram: this.ram.descriptor,
      heartbeat: { buffer: this.heartbeats.buffer, index: SERVER_SLOT, periodMs: 100 },
      ...(this.options.device ? { device: this.options.device } : {}),
      config: this.options.config ?? {},
      system: { ...DEFAULT_SYSTEM, ...this.options.system },
      remembered: this.remembered,
    };
  }
}

export const harnessFiles = { shellEntry: fileURLToPath(shellEntry) };
