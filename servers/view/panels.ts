// The panels of the live view, built from what the system's own interfaces answer: each
// function takes the replies of kernel, memory, drivers, kho and log calls and returns the
// plain data one panel of the page is drawn from. No I/O here (collector.ts makes the calls).

import type { Static } from '../../ipc/typebox.js';
import type { DeviceRow } from '../../ipc/interfaces/drivers.js';
import type { ProcessRow, TrafficRow } from '../../ipc/interfaces/kernel.js';
import type { MemoryUsage, PageMap } from '../../ipc/interfaces/memory.js';
import type { KhoState } from '../../ipc/interfaces/kho.js';

/** One row of the servers panel: `ps` and the pages the memory server says the program holds. */
export interface ServerPanelRow {
  readonly name: string;
  readonly kind: 'server' | 'driver';
  readonly generation: number;
  readonly state: string;
  readonly restarts: number;
  readonly uptimeMs: number;
  readonly messages: number;
  readonly pages: number;
  readonly device?: string;
}

export function serversPanel(rows: readonly Static<typeof ProcessRow>[], usage: MemoryUsage | undefined): ServerPanelRow[] {
  const pages = new Map((usage?.owners ?? []).map((owner) => [owner.name, owner.pages]));
  return rows.map((row) => ({
    name: row.name,
    kind: row.kind,
    generation: row.generation,
    state: row.state,
    restarts: row.restarts,
    uptimeMs: row.uptimeMs,
    messages: row.messages,
    pages: pages.get(row.name) ?? 0,
    ...(row.device !== undefined ? { device: row.device } : {}),
  }));
}

/** What counts as a change of the servers panel: everything but uptime, which the page advances. */
export function serversComparable(panel: unknown): unknown {
  return (panel as ServerPanelRow[]).map(({ uptimeMs: _uptime, ...rest }) => rest);
}

/** One row of the devices panel. */
export interface DevicePanelRow {
  readonly path: string;
  readonly kind: string;
  readonly base: number;
  readonly interrupt?: number;
  readonly driver?: string;
  readonly state: string;
  readonly generation: number;
  /** Times its interrupt was raised since power-on. */
  readonly interrupts?: number;
  /** virtio: per queue, its size and the buffers the device holds. */
  readonly queues?: readonly { readonly index: number; readonly size: number; readonly inUse: number }[];
}

/** virtio device ids (virtio 1.2 §5) by name, for the kind column. */
const VIRTIO_KINDS: Readonly<Record<number, string>> = { 0: 'empty slot', 1: 'network', 2: 'block', 3: 'console', 4: 'entropy' };

export function devicesPanel(rows: readonly DeviceRow[]): DevicePanelRow[] {
  return rows.map((row) => ({
    path: row.path,
    kind: row.virtioDeviceId !== undefined ? `virtio ${VIRTIO_KINDS[row.virtioDeviceId] ?? `device ${row.virtioDeviceId}`}` : row.compatible[0] ?? '?',
    base: row.base,
    ...(row.interrupt !== undefined ? { interrupt: row.interrupt } : {}),
    ...(row.driver !== undefined ? { driver: row.driver } : {}),
    state: row.state,
    generation: row.generation,
    ...(row.interrupts !== undefined ? { interrupts: row.interrupts } : {}),
    ...(row.queues !== undefined ? { queues: row.queues.filter((queue) => queue.size > 0) } : {}),
  }));
}

/** One edge of the IPC graph: who calls whom over which interface, how often lately and in all. */
export interface IpcEdge {
  readonly client: string;
  readonly server: string;
  readonly interface: string;
  /** Calls and sends since boot. */
  readonly messages: number;
  /** Calls and sends per second over the last `windowMs`. */
  readonly perSecond: number;
}

/**
 * The IPC graph from successive samples of the kernel's traffic counters: each edge's rate
 * is the growth of its count over the samples of the last `windowMs` (the graph shows "who
 * called whom in the last seconds").
 */
export class IpcRates {
  private readonly windowMs: number;
  private samples: { atMs: number; counts: Map<string, number> }[] = [];

  constructor(windowMs = 5000) {
    this.windowMs = windowMs;
  }

  /** Adds a sample taken at `atMs` and returns the graph's edges, busiest first. */
  sample(rows: readonly TrafficRow[], atMs: number): { windowMs: number; edges: IpcEdge[] } {
    const key = (row: TrafficRow) => `${row.client}→${row.server}:${row.interface}`;
    const counts = new Map(rows.map((row) => [key(row), row.calls]));
    this.samples.push({ atMs, counts });
    while (this.samples.length > 2 && atMs - this.samples[1]!.atMs >= this.windowMs) this.samples.shift();
    const oldest = this.samples[0]!;
    const seconds = (atMs - oldest.atMs) / 1000;
    const edges = rows.filter((row) => row.calls > 0).map((row) => ({
      client: row.client,
      server: row.server,
      interface: row.interface,
      messages: row.calls,
      perSecond: seconds > 0 ? Math.max(0, row.calls - (oldest.counts.get(key(row)) ?? 0)) / seconds : 0,
    }));
    edges.sort((a, b) => b.perSecond - a.perSecond || b.messages - a.messages);
    return { windowMs: this.windowMs, edges };
  }
}

/** The memory panel's numbers: totals, the buddy's free lists per order, pages per owner. */
export interface MemoryPanel {
  readonly totalPages: number;
  readonly freePages: number;
  readonly usedPages: number;
  readonly reservedPages: number;
  readonly freeBlocks: readonly number[];
  readonly owners: readonly { readonly name: string; readonly pages: number }[];
  /** The picture: cells of whole pages, each the index of its main owner in `owners` of the map. */
  readonly map?: { readonly base: number; readonly cellPages: number; readonly owners: readonly string[]; readonly cells: readonly number[] };
}

export function memoryPanel(usage: MemoryUsage, map?: PageMap): MemoryPanel {
  return {
    ...(map ? { map: { base: map.base, cellPages: map.cellPages, owners: map.owners, cells: [...map.cells] } } : {}),
    totalPages: usage.totalPages,
    freePages: usage.freePages,
    usedPages: usage.usedPages,
    reservedPages: usage.reservedPages,
    freeBlocks: [...usage.freeBlocks],
    owners: usage.owners.filter((owner) => owner.pages > 0).map((owner) => ({ name: owner.name, pages: owner.pages })),
  };
}

/** One log record as the page shows it (the record's own fields are in dmesg and baton.log). */
export interface LogLine {
  readonly sequence: number;
  readonly level: number;
  readonly uptimeMs: number;
  readonly server: string;
  readonly generation: number;
  readonly msg: string;
}

export function logLine(record: Readonly<Record<string, unknown>>, sequence: number): LogLine {
  return {
    sequence,
    level: typeof record.level === 'number' ? record.level : 30,
    uptimeMs: typeof record.uptimeMs === 'number' ? record.uptimeMs : 0,
    server: typeof record.server === 'string' ? record.server : '?',
    generation: typeof record.generation === 'number' ? record.generation : 0,
    msg: typeof record.msg === 'string' ? record.msg : String(record.msg),
  };
}

/** One KHO tree as the page draws it: preserved blocks by order and the subtrees. */
export interface KhoTree {
  readonly blocksByOrder: readonly number[];
  readonly subtrees: readonly string[];
  readonly summary: string;
}

/** The KHO panel: the outgoing tree (this boot's) and the incoming one (the handover this boot came from). */
export function khoPanel(state: Static<typeof KhoState>): { scratch: string[]; outgoing: KhoTree; incoming?: KhoTree } {
  const hex = (value: number) => `0x${value.toString(16)}`;
  const { outgoing, incoming } = state;
  return {
    scratch: state.scratch.map((area) => `${hex(area.addr)} ${area.size / 1024} KiB`),
    outgoing: {
      blocksByOrder: outgoing.blocksByOrder,
      subtrees: outgoing.subtrees.map((subtree) => `${subtree.name} at ${subtree.pa === null ? 'invalid' : hex(subtree.pa)}`),
      summary: `root FDT at ${hex(outgoing.fdtPa)}, radix tree ${outgoing.treePages} pages, arena ${outgoing.arenaUsedPages}/${outgoing.arenaPages} pages used`,
    },
    ...(incoming ? {
      incoming: {
        blocksByOrder: incoming.blocksByOrder,
        subtrees: incoming.subtrees,
        summary: `FDT at ${hex(incoming.fdtPa)}, scratch array at ${hex(incoming.scratchPa)}; ${incoming.blocks} blocks, ${Math.round(incoming.preservedBytes / 1024)} KiB`,
      },
    } : {}),
  };
}
