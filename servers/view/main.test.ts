import { afterEach, describe, expect, it } from 'vitest';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { driversInterface } from '../../ipc/interfaces/drivers.js';
import { kernelInterface } from '../../ipc/interfaces/kernel.js';
import { khoInterface } from '../../ipc/interfaces/kho.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { NotFoundError } from '../../microkernel/name_service.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** The view server against a fake kernel, memory, drivers, KHO, log and view console; `board` plays the board's end of the console. */
async function startView(slowIntervalMs = 100) {
  const written: string[] = [];
  const toRead: Uint8Array[] = [];
  let position = 0;
  let wakeReader: (() => void) | undefined;
  const generations = new Map([['log', 1], ['console', 1]]);
  const asked: string[] = [];
  // The kernel's change count and the kernel.changes calls waiting on it.
  let epoch = 0;
  const waiting: Array<() => void> = [];
  const changed = () => {
    epoch++;
    for (const wake of waiting.splice(0)) wake();
  };
  /** A program's next generation, as the supervisor would start it on its own (a crash, say). */
  const nextGeneration = (name: string) => {
    generations.set(name, generations.get(name)! + 1);
    changed();
  };
  const notFound = (name: string) => new NotFoundError(`no server or driver named "${name}" (see ps)`);
  const row = (name: string) => ({ name, kind: 'server' as const, generation: generations.get(name)!, state: 'running', restarts: generations.get(name)! - 1, uptimeMs: 5, messages: 1, bulk: 0, heapBytes: 1 << 20 });
  harness = await ServerHarness.start({
    module: 'servers/view/main',
    name: 'view',
    config: { device: 'virtio-console.3', intervalMs: 50, slowIntervalMs },
    peers: [
      fakePeer('kernel', kernelInterface, {
        list: () => (asked.push('list'), { rows: [...generations.keys()].map(row) }),
        changes: ({ after, waitMs }: { after: number; waitMs: number }) => epoch > after ? { epoch }
          : new Promise((resolve) => {
            const timer = setTimeout(() => resolve({ epoch }), waitMs);
            waiting.push(() => (clearTimeout(timer), resolve({ epoch })));
          }),
        traffic: () => ({ rows: [{ client: 'console', server: 'kernel', interface: 'kernel', calls: 3, replies: 3 }] }),
        restart: ({ name }: { name: string }) => {
          if (!generations.has(name)) throw notFound(name);
          nextGeneration(name);
          return { message: `${name}: generation ${generations.get(name)} running` };
        },
      } as never),
      fakePeer('memory', memoryInterface, {
        usage: () => (asked.push('usage'), { totalPages: 64, freePages: 40, usedPages: 24, reservedPages: 0, freeBlocks: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], owners: [{ name: 'log', pages: 9 }], grants: 0, spaces: 0 }),
        pageMap: () => ({ base: 0x8000_0000, pages: 64, cellPages: 8, owners: ['free', 'unavailable', 'log'], cells: new Uint8Array([2, 0, 0, 0, 0, 0, 0, 1]) }),
      } as never),
      fakePeer('drivers', driversInterface, { devices: () => ({ rows: [] }) } as never),
      fakePeer('kho', khoInterface, {
        state: () => ({ scratch: [], outgoing: { fdtPa: 0x8010_0000, treePages: 1, arenaUsedPages: 0, arenaPages: 16, blocksByOrder: [2], subtrees: [{ name: 'log', pa: 0x8020_0000 }] } }),
      } as never),
      fakePeer('log', logInterface, { follow: () => ({ sequence: 0 }) } as never),
      fakePeer('virtio-console.3', chardevInterface, {
        write: ({ data }) => (written.push(...new TextDecoder().decode(data).split('\n').filter(Boolean)), { written: data.length }),
        read: async ({ waitMs }) => {
          if (toRead.length === 0) await new Promise<void>((resolve) => { wakeReader = resolve; setTimeout(resolve, waitMs); });
          wakeReader = undefined;
          const data = toRead.shift() ?? new Uint8Array();
          const at = position;
          position += data.length;
          return { data, ended: false, stream: 1, at, next: position };
        },
      }),
    ],
  });
  await harness.ready;
  const messages = () => written.map((line) => JSON.parse(line) as { t: string; [key: string]: unknown });
  const board = (message: unknown) => {
    toRead.push(new TextEncoder().encode(JSON.stringify(message) + '\n'));
    wakeReader?.();
  };
  return { messages, board, asked, nextGeneration };
}

describe('view server', () => {
  it('says hello, asks nothing while no page looks, then publishes the panels from the interfaces', async () => {
    const { messages, board, asked } = await startView();
    await expect.poll(() => messages()[0]).toEqual({ t: 'hello', generation: 1, start: 'fresh' });
    expect(asked).toEqual([]);
    board({ t: 'watch', viewers: 1 });
    await expect.poll(() => messages().find((message) => message.t === 'panels')).toBeDefined();
    const first = messages().find((message) => message.t === 'panels') as unknown as { panels: Record<string, unknown> };
    expect(Object.keys(first.panels).sort()).toEqual(['devices', 'ipc', 'kho', 'memory', 'servers']);
    expect(first.panels.servers).toEqual([
      { name: 'log', kind: 'server', generation: 1, state: 'running', restarts: 0, uptimeMs: 5, messages: 1, pages: 9 },
      { name: 'console', kind: 'server', generation: 1, state: 'running', restarts: 0, uptimeMs: 5, messages: 1, pages: 0 },
    ]);
    expect(first.panels.kho).toMatchObject({ outgoing: { blocksByOrder: [2], subtrees: ['log at 0x80200000'] } });
    expect(first.panels.memory).toMatchObject({ freePages: 40, map: { cellPages: 8, owners: ['free', 'unavailable', 'log'], cells: [2, 0, 0, 0, 0, 0, 0, 1] } });
    expect(first.panels.ipc).toMatchObject({ edges: [{ client: 'console', server: 'kernel', messages: 3 }] });
  });

  it('asks ps when the kernel says the program list changed, not on a timer', async () => {
    // Every panel is asked once in ten minutes here: what comes after the first round is pushed by kernel.changes.
    const { messages, board, asked, nextGeneration } = await startView(600_000);
    board({ t: 'watch', viewers: 1 });
    const servers = () => messages().filter((message) => message.t === 'panels' && (message.panels as Record<string, unknown>).servers);
    await expect.poll(() => servers().length).toBe(1);
    expect(asked.filter((call) => call === 'list')).toEqual(['list']);
    nextGeneration('log');
    await expect.poll(() => servers().length).toBe(2);
    const second = servers()[1]!.panels as { servers: Array<{ name: string; generation: number }> };
    expect(second.servers.find((row) => row.name === 'log')?.generation).toBe(2);
    // Only ps was asked again: the slow panels wait their ten minutes.
    expect(asked).toEqual(['usage', 'list', 'list']);
  });

  it('turns a control into a kernel call and answers with its result; a refusal is a result too', async () => {
    const { messages, board } = await startView();
    board({ t: 'watch', viewers: 1 });
    board({ t: 'control', id: 41, action: 'restart', name: 'log' });
    board({ t: 'control', id: 42, action: 'restart', name: 'nosuch' });
    board({ t: 'control', id: 43, action: 'format', name: 'log' });
    await expect.poll(() => messages().filter((message) => message.t === 'result')).toEqual([
      { t: 'result', id: 41, ok: true, message: 'log: generation 2 running' },
      { t: 'result', id: 42, ok: false, message: 'no server or driver named "nosuch" (see ps)' },
    ]);
    // The restart shows in the next servers panel published.
    await expect.poll(() => messages().some((message) => message.t === 'panels'
      && ((message.panels as { servers?: Array<{ name: string; generation: number }> }).servers ?? []).some((row) => row.name === 'log' && row.generation === 2))).toBe(true);
  });

  it('stops asking when the last page closes', async () => {
    const { messages, board, asked } = await startView();
    board({ t: 'watch', viewers: 1 });
    await expect.poll(() => asked.filter((call) => call === 'list').length).toBeGreaterThanOrEqual(2);
    board({ t: 'watch', viewers: 0 });
    // The round in flight when the watch ended may finish; after a hello round trip nothing more is asked.
    await expect.poll(() => messages().length).toBeGreaterThan(0);
    const settled = asked.length;
    board({ t: 'control', id: 1, action: 'restart', name: 'console' });
    await expect.poll(() => messages().some((message) => message.t === 'result')).toBe(true);
    expect(asked.slice(settled).filter((call) => call === 'list').length).toBeLessThanOrEqual(1);
  });
});
