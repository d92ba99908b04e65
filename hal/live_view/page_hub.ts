// The board's side of the view console: it reads the view server's messages (JSON lines),
// keeps the latest of every panel and the recent log, and fans them out to the pages,
// coalesced to at most one message of each kind per page every `minimumIntervalMs`
// (100 ms: at most 10 updates a second, whatever the system sends). Control requests
// from pages go to the view server with an id of the board's own, and each result goes
// back only to the page that asked.
//
// The board also sees the system go down and come back (a kexec or a reset of the board):
// it tells the pages, and measures the downtime from the moment the system went down (a
// kexec the view server acknowledged, or the board's own kexec or reset, whichever came
// first) to the first panels of the view server's next generation.

import { parseFromSystem, type ControlRequest, type SystemStatus, type ToPage, type ToSystem } from './protocol.js';

export interface ViewConsoleSink {
  pushInput(bytes: Uint8Array): void;
}

/** One page's data socket, as the hub sees it. */
export interface PagePeer {
  send(message: ToPage): void;
}

export interface PageHubOptions {
  readonly minimumIntervalMs?: number;
  /** Log records kept for a page that connects (default 500). */
  readonly logRecords?: number;
  readonly nowMs?: () => number;
}

interface Page {
  readonly peer: PagePeer;
  readonly dirtyPanels: Set<string>;
  log: unknown[];
  results: ToPage[];
  system: boolean;
  lastSentMs: number;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_INTERVAL_MS = 100;
const DEFAULT_LOG_RECORDS = 500;

export class PageHub {
  private readonly minimumIntervalMs: number;
  private readonly logLimit: number;
  private readonly nowMs: () => number;
  private readonly pages = new Set<Page>();
  private readonly panels = new Map<string, unknown>();
  private log: unknown[] = [];
  private status: SystemStatus = { state: 'booting' };
  private downSinceMs: number | undefined;
  private downReason: 'kexec' | 'reboot' | undefined;
  /** The next panels message is the first of a new view server generation. */
  private awaitingFirstPanels = false;
  private nextId = 1;
  private readonly asked = new Map<number, { page: Page; id: number; action: string }>();
  private partialLine = '';
  private sink: ViewConsoleSink | undefined;
  /** Lines from the system that were not a message of the protocol (counted, dropped). */
  malformedLines = 0;

  constructor(options: PageHubOptions = {}) {
    this.minimumIntervalMs = options.minimumIntervalMs ?? DEFAULT_INTERVAL_MS;
    this.logLimit = options.logRecords ?? DEFAULT_LOG_RECORDS;
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  /** The view console device: what the hub writes goes to the view server's input. */
  connect(sink: ViewConsoleSink): void {
    this.sink = sink;
  }

  get pageCount(): number {
    return this.pages.size;
  }

  get systemStatus(): SystemStatus {
    return this.status;
  }

  /** A page connected: it gets everything at once, then updates. Returns what to call for its messages and its close. */
  attach(peer: PagePeer): { control(request: ControlRequest): void; detach(): void } {
    const page: Page = { peer, dirtyPanels: new Set(), log: [], results: [], system: false, lastSentMs: this.nowMs(), timer: undefined };
    this.pages.add(page);
    peer.send({ t: 'state', panels: Object.fromEntries(this.panels), log: this.log, system: this.status });
    this.sendToSystem({ t: 'watch', viewers: this.pages.size });
    return {
      control: (request) => {
        const id = this.nextId++;
        this.asked.set(id, { page, id: request.id, action: request.action });
        this.sendToSystem({ ...request, id });
      },
      detach: () => {
        clearTimeout(page.timer);
        this.pages.delete(page);
        for (const [id, asked] of this.asked) if (asked.page === page) this.asked.delete(id);
        this.sendToSystem({ t: 'watch', viewers: this.pages.size });
      },
    };
  }

  /** The board is about to kexec or reset: the system is going down. */
  systemGoingDown(reason: 'kexec' | 'reboot'): void {
    if (this.downSinceMs === undefined) this.downSinceMs = this.nowMs();
    this.downReason ??= reason;
    this.setStatus({ state: 'down', reason: this.downReason });
  }

  /** Bytes the view server wrote to the view console. */
  output(bytes: Uint8Array): void {
    const text = this.partialLine + Buffer.from(bytes).toString('utf8');
    const lines = text.split('\n');
    this.partialLine = lines.pop() ?? '';
    if (this.partialLine.length > 16 * 1024 * 1024) {
      this.partialLine = '';
      this.malformedLines++;
    }
    for (const line of lines) if (line.trim().length > 0) this.received(line);
  }

  close(): void {
    for (const page of this.pages) clearTimeout(page.timer);
    this.pages.clear();
  }

  private received(line: string): void {
    const message = parseFromSystem(line);
    if (!message) {
      this.malformedLines++;
      return;
    }
    switch (message.t) {
      case 'hello':
        // A new generation of the view server: it needs to know whether anyone looks.
        this.awaitingFirstPanels = true;
        this.status = { ...this.status, generation: message.generation, start: message.start };
        this.sendToSystem({ t: 'watch', viewers: this.pages.size });
        return;
      case 'panels':
        for (const [name, panel] of Object.entries(message.panels)) {
          this.panels.set(name, panel);
          for (const page of this.pages) page.dirtyPanels.add(name);
        }
        if (this.awaitingFirstPanels) {
          this.awaitingFirstPanels = false;
          const downtimeMs = this.downSinceMs === undefined ? undefined : Math.round(this.nowMs() - this.downSinceMs);
          const { generation, start } = this.status;
          this.setStatus({
            state: 'up',
            ...(this.downReason ? { reason: this.downReason } : {}),
            ...(downtimeMs !== undefined ? { downtimeMs } : {}),
            ...(generation !== undefined ? { generation } : {}),
            ...(start !== undefined ? { start } : {}),
          });
          this.downSinceMs = undefined;
          this.downReason = undefined;
        }
        this.scheduleAll();
        return;
      case 'log':
        this.log = [...this.log, ...message.records].slice(-this.logLimit);
        for (const page of this.pages) page.log = [...page.log, ...message.records].slice(-this.logLimit);
        this.scheduleAll();
        return;
      case 'result': {
        const asked = this.asked.get(message.id);
        if (!asked) return;
        this.asked.delete(message.id);
        if (asked.action === 'kexec' && message.ok) this.systemGoingDown('kexec');
        asked.page.results.push({ t: 'result', id: asked.id, ok: message.ok, message: message.message });
        this.schedule(asked.page);
        return;
      }
    }
  }

  private setStatus(status: SystemStatus): void {
    this.status = status;
    for (const page of this.pages) page.system = true;
    this.scheduleAll();
  }

  private sendToSystem(message: ToSystem): void {
    this.sink?.pushInput(Buffer.from(JSON.stringify(message) + '\n'));
  }

  private scheduleAll(): void {
    for (const page of this.pages) this.schedule(page);
  }

  /** Sends what is pending for `page` now, or once `minimumIntervalMs` has passed since its last send. */
  private schedule(page: Page): void {
    if (page.timer !== undefined) return;
    const wait = Math.max(0, page.lastSentMs + this.minimumIntervalMs - this.nowMs());
    page.timer = setTimeout(() => this.flush(page), wait);
  }

  private flush(page: Page): void {
    page.timer = undefined;
    if (!this.pages.has(page)) return;
    page.lastSentMs = this.nowMs();
    if (page.system) {
      page.system = false;
      page.peer.send({ t: 'system', system: this.status });
    }
    if (page.dirtyPanels.size > 0) {
      const panels: Record<string, unknown> = {};
      for (const name of page.dirtyPanels) panels[name] = this.panels.get(name);
      page.dirtyPanels.clear();
      page.peer.send({ t: 'panels', panels });
    }
    if (page.log.length > 0) {
      page.peer.send({ t: 'log', records: page.log });
      page.log = [];
    }
    for (const result of page.results.splice(0)) page.peer.send(result);
  }
}
