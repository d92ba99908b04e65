// Text tables: the one table formatter of every command that prints rows (ps, drivers,
// devices, blk, mem). Columns are as wide as their widest cell, two spaces apart; a line
// has no trailing spaces.

export type ColumnAlignment = 'left' | 'right';

export interface TableOptions {
  /** How each column's cells line up (default left; numbers read best right-aligned). */
  readonly align?: readonly ColumnAlignment[];
  /** Each column at least this wide (default 0), so that lines printed apart still line up (`mem`'s memory map). */
  readonly minimumWidths?: readonly number[];
  /** Put before every line (default none; `mem` indents its tables by two spaces). */
  readonly indent?: string;
}

/**
 * The lines of a table: `headings` (none when empty) then one line per row. A row shorter
 * than the headings leaves its last cells empty.
 */
export function tableLines(headings: readonly string[], rows: readonly (readonly string[])[], options: TableOptions = {}): string[] {
  const columns = Math.max(headings.length, ...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(options.minimumWidths?.[column] ?? 0, headings[column]?.length ?? 0, ...rows.map((row) => row[column]?.length ?? 0)));
  const render = (row: readonly string[]): string => (options.indent ?? '') + widths.map((width, column) => {
    const text = row[column] ?? '';
    return options.align?.[column] === 'right' ? text.padStart(width) : text.padEnd(width);
  }).join('  ').trimEnd();
  return [...(headings.length > 0 ? [render(headings)] : []), ...rows.map(render)];
}

/** The table as one text, lines joined by newlines (see tableLines). */
export function formatTable(headings: readonly string[], rows: readonly (readonly string[])[], options: TableOptions = {}): string {
  return tableLines(headings, rows, options).join('\n');
}
