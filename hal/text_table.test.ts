import { describe, expect, it } from 'vitest';
import { formatTable, tableLines } from './text_table.js';

describe('formatTable', () => {
  it('formatTable makes each column as wide as its widest cell, two spaces apart, with no trailing spaces', () => {
    expect(formatTable(['NAME', 'GEN', 'STATE'], [['log', '1', 'running'], ['virtio-console.0', '12', '']])).toBe([
      'NAME              GEN  STATE',
      'log               1    running',
      'virtio-console.0  12',
    ].join('\n'));
  });

  it('formatTable right-aligns the columns asked for and indents every line', () => {
    expect(formatTable([], [['0x1000', '4 KiB', 'free'], ['0x2000', '1536 KiB', 'kernel image']], { align: ['left', 'right'], indent: '  ' })).toBe([
      '  0x1000     4 KiB  free',
      '  0x2000  1536 KiB  kernel image',
    ].join('\n'));
  });

  it('tableLines keeps columns at their minimum width when every cell is narrower', () => {
    expect(tableLines([], [['0x1000', '4 KiB', 'free', 'available']], { align: ['left', 'right'], minimumWidths: [0, 9, 8] })).toEqual([
      '0x1000      4 KiB  free      available',
    ]);
  });

  it('tableLines gives the heading alone for no rows, and fills short rows', () => {
    expect(tableLines(['A', 'B'], [])).toEqual(['A  B']);
    expect(tableLines(['A', 'B', 'C'], [['x']])).toEqual(['A  B  C', 'x']);
  });
});
