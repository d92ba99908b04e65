// Host requests answered later (request go 2): the kernel's thread sends one and goes on,
// the board answers when its handler's promise settles, and the waiting side wakes.
import { afterEach, describe, expect, it } from 'vitest';
import { HardwareThread } from './cpu.js';
import { FirmwareDevice } from './firmware.js';
import { Ram } from './ram.js';

const CALLER = new URL('./test_fixtures/firmware_caller.mjs', import.meta.url);
const CAPACITY = 4096;

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** The board's firmware here, whose handler answers each request when the test says; the caller in a worker. */
function start(requests: Array<Record<string, unknown>>) {
  const ram = Ram.allocate(1024 * 1024);
  const served: Array<{ request: Record<string, unknown>; answer(value: Record<string, unknown>): void }> = [];
  const waiters: Array<() => void> = [];
  const device = new FirmwareDevice(ram, {
    powerOff: () => undefined, reset: () => undefined, kexec: () => undefined, consoleWrite: () => undefined,
    hostRequest: (request) => new Promise((resolve) => {
      served.push({ request, answer: resolve });
      for (const waiter of waiters.splice(0)) waiter();
    }),
  });
  device.start();
  cleanups.push(() => device.stop());
  const messages: Array<Record<string, unknown>> = [];
  const arrivals: Array<() => void> = [];
  const thread = new HardwareThread(CALLER, { name: 'firmware-caller', data: { firmware: device.descriptor, ram: ram.descriptor, buffer: ram.base, capacity: CAPACITY, requests } });
  thread.on('message', (message) => {
    messages.push(message as Record<string, unknown>);
    for (const arrival of arrivals.splice(0)) arrival();
  });
  cleanups.push(() => thread.terminate());
  /** The first message of `type` at index `from` or later; fails after 20 s naming what came. */
  const next = async (type: string, from = 0): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = messages.slice(from).find((message) => message.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} message from the caller; it sent ${JSON.stringify(messages)}`);
      await new Promise<void>((resolve) => {
        arrivals.push(resolve);
        setTimeout(resolve, 1000);
      });
    }
  };
  const handled = async (count: number): Promise<void> => {
    while (served.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { thread, served, messages, next, handled };
}

describe('FirmwareCalls.hostRequestLater', () => {
  it('returns at once, keeps its thread running while the board works, and resolves with the answer', async () => {
    const caller = start([{ op: 'load-driver', path: '/somewhere' }]);
    await caller.next('sent');
    await caller.handled(1);
    expect(caller.served[0]!.request).toEqual({ op: 'load-driver', path: '/somewhere' });
    // The request is pending and the caller still answers: its thread is not blocked.
    caller.thread.post('ping');
    await caller.next('pong');
    expect(caller.messages.some((message) => message.type === 'answer')).toBe(false);
    caller.served[0]!.answer({ spec: { name: 'my-rng' } });
    expect(await caller.next('answer')).toEqual({ type: 'answer', index: 0, answer: { spec: { name: 'my-rng' } } });
  });

  it('sends requests one at a time, in order, each answered in its own buffer', async () => {
    const caller = start([{ op: 'first' }, { op: 'second' }]);
    await caller.handled(1);
    expect(caller.served.map(({ request }) => request.op)).toEqual(['first']);
    caller.served[0]!.answer({ answer: 1 });
    await caller.handled(2);
    expect(caller.served.map(({ request }) => request.op)).toEqual(['first', 'second']);
    caller.served[1]!.answer({ answer: 2 });
    const first = await caller.next('answer');
    const second = caller.messages.indexOf(first) + 1;
    expect([first, await caller.next('answer', second)]).toEqual([
      { type: 'answer', index: 0, answer: { answer: 1 } },
      { type: 'answer', index: 1, answer: { answer: 2 } },
    ]);
  });
});
