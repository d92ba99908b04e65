// What the view server asks the system while a page looks, and how often: `ps` (kernel
// list) every `intervalMs`; IPC traffic, devices, memory usage and page map, and KHO every
// `slowIntervalMs`. Each
// round's panels go through PublishedPanels, so only what changed is sent. Nothing is
// asked while no page looks: an idle system with no page open costs nothing here.

import type { ClientOf } from '../../ipc/define.js';
import type { driversInterface } from '../../ipc/interfaces/drivers.js';
import type { kernelInterface } from '../../ipc/interfaces/kernel.js';
import type { khoInterface } from '../../ipc/interfaces/kho.js';
import type { MemoryUsage, memoryInterface } from '../../ipc/interfaces/memory.js';
import { devicesPanel, IpcRates, khoPanel, memoryPanel, serversComparable, serversPanel } from './panels.js';
import { PublishedPanels } from './published_panels.js';

export interface CollectorPeers {
  readonly kernel: ClientOf<typeof kernelInterface>;
  readonly drivers: ClientOf<typeof driversInterface>;
  readonly memory: ClientOf<typeof memoryInterface>;
  readonly kho: ClientOf<typeof khoInterface>;
}

export interface CollectorOptions {
  readonly intervalMs: number;
  readonly slowIntervalMs: number;
  /** Sends the changed panels. */
  publish(panels: Record<string, unknown>): Promise<void>;
  /** A call failed (the peer restarting, say): the panel keeps its last value. */
  failed(what: string, error: Error): void;
}

export class Collector {
  private readonly peers: CollectorPeers;
  private readonly options: CollectorOptions;
  readonly published = new PublishedPanels({ servers: serversComparable });
  private viewers = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private lastSlowMs = -Infinity;
  private usage: MemoryUsage | undefined;
  private readonly ipc = new IpcRates();

  constructor(peers: CollectorPeers, options: CollectorOptions) {
    this.peers = peers;
    this.options = options;
  }

  /** How many pages look; collecting runs while at least one does. */
  watch(viewers: number): void {
    const before = this.viewers;
    this.viewers = viewers;
    if (viewers > 0 && before === 0) {
      // A page that starts looking gets everything (the board may have lost what was sent).
      this.published.forget();
      this.lastSlowMs = -Infinity;
      this.schedule(0);
    }
    if (viewers === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Collects a round now (after a control, so its effect shows at once). */
  soon(): void {
    if (this.viewers === 0) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  stop(): void {
    this.viewers = 0;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.round(), delayMs);
  }

  /** One round of calls; the next is scheduled when it ends, so rounds never pile up. */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.timer = undefined;
    try {
      const panels: Record<string, unknown> = {};
      const now = performance.now();
      if (now - this.lastSlowMs >= this.options.slowIntervalMs) {
        this.lastSlowMs = now;
        await Promise.all([
          this.ask('memory', async () => {
            const [usage, map] = await Promise.all([this.peers.memory.usage({}), this.peers.memory.pageMap({})]);
            this.usage = usage;
            panels.memory = memoryPanel(usage, map);
          }),
          this.ask('traffic', async () => (panels.ipc = this.ipc.sample((await this.peers.kernel.traffic({})).rows, performance.now()))),
          this.ask('devices', async () => (panels.devices = devicesPanel((await this.peers.drivers.devices({})).rows))),
          this.ask('kho', async () => (panels.kho = khoPanel(await this.peers.kho.state({})))),
        ]);
      }
      await this.ask('ps', async () => (panels.servers = serversPanel((await this.peers.kernel.list({})).rows, this.usage)));
      const changed = this.published.changed(panels);
      if (Object.keys(changed).length > 0) await this.options.publish(changed);
    } finally {
      this.running = false;
      if (this.viewers > 0 && this.timer === undefined) this.schedule(this.options.intervalMs);
    }
  }

  private async ask(what: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.options.failed(what, error as Error);
    }
  }
}
