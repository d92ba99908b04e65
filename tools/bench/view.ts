// What the live view costs and how fast it follows, on one booted system (`npm run bench -- view`):
//
//   view.idle.closed    CPU time of the idle system with the live view on and no page open:
//                       the baseline (the view server asks nothing while no page looks)
//   view.idle.open      the same system with a page's two WebSockets open (panels and terminal,
//                       as a browser holds them; the client runs in the bench, so the browser's own
//                       drawing is not counted): what the view server's polling and the updates cost
//   view.restart.answer ms from a restart of the log server sent over the page's socket to its
//                       answer on that socket: the baseline
//   view.restart.shown  ms from the same request to the first panels that show the new
//                       generation: the answer plus the wait for the next round and its update
//
// CPU time is read as idle.ts reads it (per-thread schedstat), WINDOW_MS windows one after the
// other, medians; Linux only.

import { WebSocket } from 'ws';
import { BOOT_TIMEOUT_MS, bootSystem, cpuPerSecond } from './idle.js';
import { figure, summarize, type Benchmark, type Figure } from './measure.js';
import { within } from './startup.js';

const SETTLE_MS = 3000;
const RESTARTS = 9;

interface PageMessage {
  readonly t: string;
  readonly id?: number;
  readonly ok?: boolean;
  readonly panels?: { servers?: Array<{ name: string; generation: number }> };
}

/** A page's data socket: every message, and a way to wait for one. */
class PageSocket {
  private readonly socket: WebSocket;
  private readonly waiters: Array<(message: PageMessage) => void> = [];

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as PageMessage;
      for (const waiter of [...this.waiters]) waiter(message);
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  /** Resolves with performance.now() when a message satisfying `accept` arrives. */
  next(accept: (message: PageMessage) => boolean): Promise<number> {
    return new Promise((resolve) => {
      const waiter = (message: PageMessage) => {
        if (!accept(message)) return;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(performance.now());
      };
      this.waiters.push(waiter);
    });
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.socket.terminate();
  }
}

const logGeneration = (message: PageMessage) => message.panels?.servers?.find((row) => row.name === 'log')?.generation;

async function runView(): Promise<Figure[]> {
  const system = await bootSystem('view');
  const { child, closed } = system;
  const sockets: Array<{ close(): void }> = [];
  try {
    const output = system.output();
    const address = /live view at (http:\/\/\S+)/.exec(output)?.[1];
    if (!address) throw new Error(`baton start printed no live view URL:\n${output}`);
    const url = new URL(address);
    const socketUrl = (path: string) => `ws://${url.host}${path}?token=${url.searchParams.get('token')}`;

    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const closedPage = summarize(await cpuPerSecond(child.pid!));

    const page = new PageSocket(socketUrl('/ws/view'));
    sockets.push(page);
    let generation = 0;
    const firstPanels = page.next((message) => (generation = logGeneration(message) ?? generation) > 0);
    await within(page.opened(), 30_000, 'the page socket');
    const terminal = new WebSocket(socketUrl('/ws/terminal'));
    sockets.push({ close: () => terminal.terminate() });
    await within(firstPanels, 30_000, 'the first panels');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const openPage = summarize(await cpuPerSecond(child.pid!));

    const answers: number[] = [];
    const shown: number[] = [];
    for (let id = 1; id <= RESTARTS; id++) {
      const before = generation;
      const answered = page.next((message) => message.t === 'result' && message.id === id);
      const visible = page.next((message) => (logGeneration(message) ?? 0) > before);
      const sent = performance.now();
      page.send({ t: 'control', id, action: 'restart', name: 'log' });
      answers.push((await within(answered, 30_000, 'the restart\'s answer')) - sent);
      shown.push((await within(visible, 30_000, 'the new generation on the page')) - sent);
      generation = before + 1;
    }
    const answer = { name: 'view.restart.answer', samples: summarize(answers) };
    child.stdin.write('shutdown\n');
    await within(closed, BOOT_TIMEOUT_MS, 'baton shutdown');
    const idle = { name: 'view.idle.closed', samples: closedPage };
    return [
      figure(idle.name, 'ms CPU/s', idle.samples),
      figure('view.idle.open', 'ms CPU/s', openPage, idle),
      figure(answer.name, 'ms', answer.samples),
      figure('view.restart.shown', 'ms', summarize(shown), answer),
    ];
  } finally {
    for (const socket of sockets) socket.close();
    await system.remove();
  }
}

export const benchmarks: Benchmark[] = [{ name: 'view', run: runView }];
