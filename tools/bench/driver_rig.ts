// A kernel stand-in for driver benchmarks: one driver in its own thread (the real server
// shell, build/microkernel/userlib/thread_main.js), bound to one virtio device model run
// in this thread, with RAM, a DMA pool, interrupts, and clients on channels made here —
// the path a request takes in the running system, minus the name service.

import { HardwareThread } from '../../hal/cpu.js';
import { Clock } from '../../hal/clock.js';
import { DoorbellPage, DOORBELL_SLOTS } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { Ram } from '../../hal/ram.js';
import type { VirtioBackend } from '../../hal/virtio/backend.js';
import { VirtioMmioTransport } from '../../hal/virtio/transport.js';
import { createChannel } from '../../ipc/channel.js';
import type { ClientOf, InterfaceDefinition } from '../../ipc/define.js';
import { Endpoint } from '../../ipc/endpoint.js';
import { errorToWire } from '../../ipc/errors.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { DmaPool } from '../../microkernel/dma_pool.js';
import { DEFAULT_SYSTEM, HEARTBEAT_WORDS, parseThreadMessage, type BootInfo } from '../../microkernel/protocol.js';

const RIG_SLOT = 1;
const DRIVER_SLOT = 2;
const BASE = 0x1000_1000;
const INTERRUPT = 1;
/** Client buffers live in the top quarter of RAM; the DMA pool has the rest above 1 MiB. */
const shell = new URL('../../microkernel/userlib/thread_main.js', import.meta.url);

export interface RigOptions {
  /** URL of the compiled driver module. */
  readonly module: string;
  readonly name: string;
  readonly backend: VirtioBackend;
  readonly ramBytes?: number;
}

export class DriverRig {
  readonly ram: Ram;
  private readonly doorbells = new DoorbellPage();
  private readonly interrupts: InterruptController;
  private readonly endpoint: Endpoint;
  private readonly transport: VirtioMmioTransport;
  private readonly dma: DmaPool;
  private readonly thread: HardwareThread;
  private nextChannel = 1;
  private nextBuffer: number;

  private constructor(options: RigOptions, ready: (error?: Error) => void) {
    this.ram = Ram.allocate(options.ramBytes ?? 64 * 1024 * 1024);
    this.interrupts = new InterruptController(this.doorbells);
    this.dma = new DmaPool(this.ram, [{ start: this.ram.base + 1024 * 1024, end: this.ram.base + (this.ram.size * 3) / 4 }]);
    this.nextBuffer = this.ram.base + (this.ram.size * 3) / 4;
    this.transport = new VirtioMmioTransport({ ram: this.ram, irq: this.interrupts, interrupt: INTERRUPT, base: BASE, backend: options.backend });
    this.endpoint = new Endpoint({ doorbells: this.doorbells, slot: RIG_SLOT, name: 'rig' });
    this.endpoint.serve(logInterface, { write: () => undefined });
    this.endpoint.start();
    const heartbeats = new Int32Array(new SharedArrayBuffer(DOORBELL_SLOTS * HEARTBEAT_WORDS * 4));
    const boot: BootInfo = {
      name: options.name, kind: 'driver', module: options.module, generation: 1, start: 'fresh', slot: DRIVER_SLOT, kernelSlot: RIG_SLOT,
      doorbells: this.doorbells.buffer, interrupts: this.interrupts.buffer, clock: new Clock().buffer, ram: this.ram.descriptor,
      heartbeat: { buffer: heartbeats.buffer as SharedArrayBuffer, index: DRIVER_SLOT, periodMs: 500 },
      device: { path: `/soc/virtio_mmio@${BASE.toString(16)}`, compatible: ['virtio,mmio'], registers: this.transport.descriptor, interrupt: INTERRUPT },
      config: {}, system: DEFAULT_SYSTEM, remembered: 0,
    };
    this.thread = new HardwareThread(shell, { name: options.name });
    this.thread.on('error', (error) => ready(error));
    this.thread.on('exit', (code) => ready(new Error(`${options.name} exited with code ${code}`)));
    this.thread.on('message', (raw) => {
      if ((raw as { type?: string })?.type === 'shell-ready') return this.thread.post({ type: 'start', boot });
      const message = parseThreadMessage(raw);
      if (message?.type === 'ready') ready();
      else if (message?.type === 'init-failed') ready(new Error(message.error.message));
      else if (message?.type === 'allocate') {
        try {
          this.thread.post({ type: 'allocate-reply', id: message.id, address: this.dma.allocate(options.name, message.bytes, message.alignment) });
        } catch (error) {
          this.thread.post({ type: 'allocate-reply', id: message.id, error: errorToWire(error) });
        }
      } else if (message?.type === 'lookup') {
        const channel = createChannel({ id: this.nextChannel++, interfaceName: message.interfaceName, clientSlot: DRIVER_SLOT, serverSlot: RIG_SLOT, serverGeneration: 1 });
        this.endpoint.attachServer(channel, options.name);
        this.thread.post({ type: 'lookup-reply', id: message.id, channel });
      }
    });
  }

  /** Starts the driver; resolves once its init finished. */
  static start(options: RigOptions): Promise<DriverRig> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const rig: DriverRig = new DriverRig(options, (error) => {
        if (settled) return;
        settled = true;
        if (error) void rig.stop().finally(() => reject(error));
        else resolve(rig);
      });
    });
  }

  /** A client of the driver, on a channel of its own. */
  client<const D extends InterfaceDefinition>(definition: D): ClientOf<D> {
    const connect = async () => {
      const channel = createChannel({ id: this.nextChannel++, interfaceName: definition.name, clientSlot: RIG_SLOT, serverSlot: DRIVER_SLOT, serverGeneration: 1 });
      this.thread.post({ type: 'attach', channel, clientName: 'bench' });
      return channel;
    };
    return this.endpoint.client(definition, { connect, reconnect: connect });
  }

  /** Physical address of `bytes` of RAM for client buffers (never freed; the rig is short-lived). */
  buffer(bytes: number): number {
    const address = this.nextBuffer;
    this.nextBuffer += Math.ceil(bytes / 4096) * 4096;
    if (this.nextBuffer > this.ram.end) throw new RangeError('the rig is out of client buffer space');
    return address;
  }

  async stop(): Promise<void> {
    await this.thread.terminate();
    await this.endpoint.stop();
    this.transport.close();
  }
}
