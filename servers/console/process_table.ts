// The `ps` table.

export interface ProcessTableRow {
  readonly name: string;
  readonly kind: string;
  readonly generation: number;
  readonly state: string;
  readonly restarts: number;
  readonly uptimeMs: number;
  readonly messages: number;
  readonly bulk: number;
  readonly device?: string;
}

const HEADINGS = ['NAME', 'KIND', 'GEN', 'STATE', 'RESTARTS', 'UPTIME', 'MSGS', 'BULK', 'DEVICE'];

export function formatProcessTable(rows: readonly ProcessTableRow[]): string {
  const cells = rows.map((row) => [
    row.name, row.kind, String(row.generation), row.state, String(row.restarts),
    row.state === 'running' ? formatUptime(row.uptimeMs) : '-', String(row.messages), String(row.bulk), row.device ?? '',
  ]);
  const widths = HEADINGS.map((heading, column) => Math.max(heading.length, ...cells.map((cell) => cell[column]!.length)));
  const render = (cell: string[]) => cell.map((text, column) => text.padEnd(widths[column]!)).join('  ').trimEnd();
  return [render(HEADINGS), ...cells.map(render)].join('\n');
}

export function formatUptime(milliseconds: number): string {
  const seconds = milliseconds / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
