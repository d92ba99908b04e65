// What the view server asks the system while a page looks, and how often: everything
// (`ps`, IPC traffic, devices, memory usage and page map, KHO) every `slowIntervalMs`, and
// `ps` at once when the kernel says the program list changed (kernel.changes, a call that
// answers on change): a restart shows without waiting, and an idle system is asked once a
// second. Rounds are at least `intervalMs` apart (changes arriving in between are coalesced
// into the next round). Each round's panels go through PublishedPanels, so only what
// changed is sent. Nothing is asked while no page looks: an idle system with no page open
// costs nothing here.

import type { ClientOf } from '../../ipc/define.js';
import type { driversInterface } from '../../ipc/interfaces/drivers.js';
import type { kernelInterface } from '../../ipc/interfaces/kernel.js';
import type { khoInterface } from '../../ipc/interfaces/kho.js';
import type { MemoryUsage, memoryInterface } from '../../ipc/interfaces/memory.js';
import { devicesPanel, IpcRates, khoPanel, memoryPanel, serversComparable, serversPanel } from './panels.js';
import { PublishedPanels } from './published_panels.js';

/** How long one kernel.changes call waits for a change before answering anyway. */
const CHANGES_WAIT_MS = 20_000;

export interface CollectorPeers {
  readonly kernel: ClientOf<typeof kernelInterface>;
  readonly drivers: ClientOf<typeof driversInterface>;
  readonly memory: ClientOf<typeof memoryInterface>;
  readonly kho: ClientOf<typeof khoInterface>;
}

export interface CollectorOptions {
  /** Rounds are at least this far apart (100: at most 10 updates a second). */
  readonly intervalMs: number;
  /** Every panel is asked at least this often (message counts, memory, traffic). */
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
  /** The kernel's change count as of the last `ps` asked (-1: ask now). */
  private seenEpoch = -1;
  private epoch = 0;
  private lastRoundMs = -Infinity;
  private watching = false;

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
      void this.followChanges();
    }
    if (viewers === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Collects a round soon (after a control, so its effect shows at once): at once, or once `intervalMs` has passed since the last. */
  soon(): void {
    if (this.viewers === 0) return;
    clearTimeout(this.timer);
    this.schedule(Math.max(0, this.lastRoundMs + this.options.intervalMs - performance.now()));
  }

  /** While a page looks: waits on kernel.changes and asks for a round when the list changed. */
  private async followChanges(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    try {
      while (this.viewers > 0) {
        try {
          const { epoch } = await this.peers.kernel.changes({ after: this.epoch, waitMs: CHANGES_WAIT_MS }, { timeoutMs: CHANGES_WAIT_MS * 2 });
          if (epoch === this.epoch) continue;
          this.epoch = epoch;
          if (!this.running) this.soon();
        } catch (error) {
          this.options.failed('changes', error as Error);
          // The kernel answers at once unless nothing changed; an error means a round a second does the work.
          await new Promise((resolve) => setTimeout(resolve, this.options.slowIntervalMs));
        }
      }
    } finally {
      this.watching = false;
    }
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
      const slow = now - this.lastSlowMs >= this.options.slowIntervalMs;
      if (slow) {
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
      if (slow || this.epoch !== this.seenEpoch) {
        const epoch = this.epoch;
        await this.ask('ps', async () => {
          panels.servers = serversPanel((await this.peers.kernel.list({})).rows, this.usage);
          this.seenEpoch = epoch;
        });
      }
      this.lastRoundMs = performance.now();
      const changed = this.published.changed(panels);
      if (Object.keys(changed).length > 0) await this.options.publish(changed);
    } finally {
      this.running = false;
      if (this.viewers > 0 && this.timer === undefined) {
        // A change that came during the round gets a round of its own; otherwise the next slow one.
        const next = this.epoch !== this.seenEpoch ? this.options.intervalMs : Math.max(this.options.intervalMs, this.lastSlowMs + this.options.slowIntervalMs - performance.now());
        this.schedule(next);
      }
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
