import { describe, expect, it } from 'vitest';
import { devicesPanel, IpcRates, khoPanel, logLine, memoryPanel, serversComparable, serversPanel } from './panels.js';
import { PublishedPanels } from './published_panels.js';

const row = (name: string, generation = 1, uptimeMs = 1000) =>
  ({ name, kind: 'server' as const, generation, state: 'running', restarts: generation - 1, uptimeMs, messages: 5, bulk: 0, heapBytes: 0 });
const usage = {
  totalPages: 100, freePages: 60, usedPages: 40, reservedPages: 2, freeBlocks: [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3], grants: 0, spaces: 0,
  owners: [{ name: 'log', pages: 12 }, { name: 'kernel', pages: 20 }, { name: 'gone', pages: 0 }],
};

describe('serversPanel', () => {
  it('is ps with the pages the memory server says each program holds', () => {
    expect(serversPanel([row('log'), row('console')], usage)).toEqual([
      { name: 'log', kind: 'server', generation: 1, state: 'running', restarts: 0, uptimeMs: 1000, messages: 5, pages: 12 },
      { name: 'console', kind: 'server', generation: 1, state: 'running', restarts: 0, uptimeMs: 1000, messages: 5, pages: 0 },
    ]);
    expect(serversPanel([{ ...row('virtio-blk'), kind: 'driver', device: '/soc/virtio_mmio@10005000' }], undefined)[0])
      .toMatchObject({ kind: 'driver', device: '/soc/virtio_mmio@10005000', pages: 0 });
  });
});

describe('PublishedPanels', () => {
  it('sends a panel once, again only when it changed; uptime alone is no change of the servers panel', () => {
    const published = new PublishedPanels({ servers: serversComparable });
    const first = { servers: serversPanel([row('log')], usage), kho: { text: 'a' } };
    expect(Object.keys(published.changed(first))).toEqual(['servers', 'kho']);
    expect(published.changed({ servers: serversPanel([row('log', 1, 9000)], usage), kho: { text: 'a' } })).toEqual({});
    const restarted = serversPanel([row('log', 2, 10)], usage);
    expect(published.changed({ servers: restarted, kho: { text: 'a' } })).toEqual({ servers: restarted });
    published.forget();
    expect(Object.keys(published.changed({ servers: restarted }))).toEqual(['servers']);
  });
});

describe('devicesPanel and memoryPanel', () => {
  it('name the virtio kind and keep the owners that hold pages', () => {
    const devices = devicesPanel([{ path: '/soc/virtio_mmio@10004000', compatible: ['virtio,mmio'], base: 0x10004000, size: 0x200, interrupt: 4, virtioDeviceId: 4, driver: 'virtio-rng', state: 'running', generation: 1, serves: ['random'] }]);
    expect(devices).toEqual([{ path: '/soc/virtio_mmio@10004000', kind: 'virtio entropy', base: 0x10004000, interrupt: 4, driver: 'virtio-rng', state: 'running', generation: 1 }]);
    const counted = devicesPanel([{ path: '/soc/virtio_mmio@10001000', compatible: ['virtio,mmio'], base: 0x10001000, size: 0x200, interrupt: 1, virtioDeviceId: 3, state: 'running', generation: 1, serves: [],
      interrupts: 7, queues: [{ index: 0, size: 64, inUse: 64 }, { index: 1, size: 64, inUse: 0 }, { index: 2, size: 0, inUse: 0 }] }]);
    expect(counted[0]).toMatchObject({ kind: 'virtio console', interrupts: 7, queues: [{ index: 0, size: 64, inUse: 64 }, { index: 1, size: 64, inUse: 0 }] });
    expect(memoryPanel(usage)).toEqual({ totalPages: 100, freePages: 60, usedPages: 40, reservedPages: 2, freeBlocks: usage.freeBlocks, owners: [{ name: 'log', pages: 12 }, { name: 'kernel', pages: 20 }] });
  });
});

describe('logLine', () => {
  it('keeps what the page shows and filters on', () => {
    expect(logLine({ level: 40, time: 1, uptimeMs: 1500, server: 'kernel', generation: 0, msg: 'log: crashed', extra: 1 }, 9))
      .toEqual({ sequence: 9, level: 40, uptimeMs: 1500, server: 'kernel', generation: 0, msg: 'log: crashed' });
  });
});

describe('IpcRates', () => {
  it('rates each edge by its growth over the window, busiest first, and keeps the totals', () => {
    const rates = new IpcRates(2000);
    const traffic = (calls: Record<string, number>) => Object.entries(calls).map(([pair, count]) => {
      const [client, server] = pair.split('>') as [string, string];
      return { client, server, interface: server, calls: count, replies: count };
    });
    expect(rates.sample(traffic({ 'console>kernel': 10, 'view>memory': 0 }), 0).edges)
      .toEqual([{ client: 'console', server: 'kernel', interface: 'kernel', messages: 10, perSecond: 0 }]);
    rates.sample(traffic({ 'console>kernel': 12, 'view>memory': 4 }), 1000);
    const graph = rates.sample(traffic({ 'console>kernel': 14, 'view>memory': 20 }), 2000);
    expect(graph.windowMs).toBe(2000);
    expect(graph.edges.map((edge) => [edge.client, edge.perSecond, edge.messages])).toEqual([['view', 10, 20], ['console', 2, 14]]);
    // Past the window, the oldest sample no longer counts.
    expect(rates.sample(traffic({ 'console>kernel': 14, 'view>memory': 20 }), 4000).edges.map((edge) => edge.perSecond)).toEqual([0, 0]);
  });
});

describe('khoPanel', () => {
  it('shows both trees by order with their subtrees; no incoming tree on a boot that was no handover', () => {
    const outgoing = { fdtPa: 0x8010_0000, treePages: 3, arenaUsedPages: 2, arenaPages: 2048, blocksByOrder: [4, 0, 1], subtrees: [{ name: 'log', pa: 0x8020_0000 }, { name: 'bad', pa: null }] };
    const panel = khoPanel({ scratch: [{ addr: 0x8f00_0000, size: 4 * 1024 * 1024 }], outgoing });
    expect(panel).toEqual({
      scratch: ['0x8f000000 4096 KiB'],
      outgoing: { blocksByOrder: [4, 0, 1], subtrees: ['log at 0x80200000', 'bad at invalid'], summary: 'root FDT at 0x80100000, radix tree 3 pages, arena 2/2048 pages used' },
    });
    const handedOver = khoPanel({ scratch: [], outgoing, incoming: { fdtPa: 0x8030_0000, scratchPa: 0x8040_0000, blocks: 5, preservedBytes: 20480, blocksByOrder: [5], subtrees: ['log'] } });
    expect(handedOver.incoming).toEqual({ blocksByOrder: [5], subtrees: ['log'], summary: 'FDT at 0x80300000, scratch array at 0x80400000; 5 blocks, 20 KiB' });
  });
});
