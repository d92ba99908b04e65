// The `mem` command's text: the physical memory map, each region with its purpose.

import { hex } from '../hal/address.js';
import type { BoardTreeSummary } from '../hal/devicetree.js';
import type { Ram } from '../hal/ram.js';
import { formatSize } from '../hal/size_text.js';
import { tableLines } from '../hal/text_table.js';
import type { DmaPool } from './dma_pool.js';

export interface MemoryRegion {
  readonly base: number;
  readonly size: number;
  readonly purpose: string;
}

export function renderMemoryMap(ram: Ram, regions: readonly MemoryRegion[], board: BoardTreeSummary, dma: DmaPool): string {
  const lines: string[] = [];
  lines.push(`RAM ${hex(ram.base)}-${hex(ram.end - 1)} (${formatSize(ram.size)})`);
  const sorted = [...regions].sort((a, b) => a.base - b.base);
  let cursor = ram.base;
  const rows: [string, string, string][] = [];
  for (const region of sorted) {
    if (region.base > cursor) rows.push([range(cursor, region.base - cursor), formatSize(region.base - cursor), 'free']);
    rows.push([range(region.base, region.size), formatSize(region.size), region.purpose]);
    cursor = Math.max(cursor, region.base + region.size);
  }
  if (cursor < ram.end) rows.push([range(cursor, ram.end - cursor), formatSize(ram.end - cursor), 'free']);
  lines.push(...tableLines([], rows, { align: ['left', 'right'], indent: '  ' }));
  for (const reservation of board.memoryReservations) {
    lines.push(`  /memreserve/ ${range(reservation.address, reservation.size)}`);
  }
  for (const region of board.reservedMemory) {
    lines.push(`  reserved-memory ${region.name}: ${range(region.base, region.size)}${region.noMap ? ' no-map' : ''}`);
  }
  const usage = [...dma.usage()].map(([owner, pages]) => `${owner} ${pages} pages`);
  lines.push(`DMA pool: ${dma.pages} pages${usage.length ? '; in use: ' + usage.join(', ') : ', none in use'}`);
  lines.push(renderDeviceMap(board));
  return lines.join('\n');
}

/** The MMIO part of the map: each device's register range. */
export function renderDeviceMap(board: BoardTreeSummary): string {
  return ['MMIO:', ...board.devices.map((device) => `  ${range(device.base, device.size)}  ${device.path}`)].join('\n');
}

function range(base: number, size: number): string {
  return `${hex(base)}-${hex(base + size - 1)}`;
}
