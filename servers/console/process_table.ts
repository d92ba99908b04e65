// The `ps` table.

import { formatTable } from '../../hal/text_table.js';

export interface ProcessTableRow {
  readonly name: string;
  readonly kind: string;
  readonly generation: number;
  readonly state: string;
  readonly restarts: number;
  readonly uptimeMs: number;
  readonly messages: number;
  readonly bulk: number;
  /** Bytes of JavaScript heap its thread uses (0: not measured, or no thread). */
  readonly heapBytes: number;
  readonly device?: string;
}

const HEADINGS = ['NAME', 'KIND', 'GEN', 'STATE', 'RESTARTS', 'UPTIME', 'MSGS', 'BULK', 'HEAP', 'DEVICE'];

export function formatProcessTable(rows: readonly ProcessTableRow[]): string {
  const cells = rows.map((row) => [
    row.name, row.kind, String(row.generation), row.state, String(row.restarts),
    row.state === 'running' ? formatUptime(row.uptimeMs) : '-', String(row.messages), String(row.bulk),
    row.heapBytes > 0 ? formatHeap(row.heapBytes) : '-', row.device ?? '',
  ]);
  return formatTable(HEADINGS, cells);
}

/** A heap size in MiB, one decimal, without a space so the table stays one word per column: 23.4MiB. */
export function formatHeap(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)}MiB`;
}

export function formatUptime(milliseconds: number): string {
  const seconds = milliseconds / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
