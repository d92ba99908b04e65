// Tree → DTS source text, laid out as `dtc -I dtb -O dts` prints a blob.
//
// A blob does not say what type a value has, so the value is guessed with dtc's rule
// (treesource.c guess_value_type): printable bytes ending in NUL with no more NULs than
// other bytes are strings; otherwise a length that is a multiple of 4 is a cell list
// <0x..>; anything else is bytes [..]. One difference from dtc 1.6: a string list is
// printed as "a", "b" (which dtc reads back the same) rather than "a\0b".

import type { Fdt, FdtNode } from './tree.js';

const ESCAPES: Record<number, string> = {
  0x07: '\\a', 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0b: '\\v', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\',
};

/** The whole tree as DTS text: header, /memreserve/ lines, then the root node; ends with a newline. */
export function toDts(fdt: Fdt): string {
  const lines = ['/dts-v1/;', ''];
  for (const { address, size } of fdt.reservations) lines.push(`/memreserve/\t${hex64(address)} ${hex64(size)};`);
  writeNode(fdt.root, 0, lines);
  return lines.join('\n') + '\n';
}

/** One property value as DTS source (what follows `name = `), or '' for an empty value. */
export function formatValue(value: Uint8Array): string {
  if (value.length === 0) return '';
  if (looksLikeStrings(value)) return formatStrings(value);
  if (value.length % 4 === 0) {
    const data = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const cells: string[] = [];
    for (let offset = 0; offset < value.length; offset += 4) cells.push('0x' + data.getUint32(offset).toString(16).padStart(2, '0'));
    return `<${cells.join(' ')}>`;
  }
  return `[${Array.from(value, (byte) => byte.toString(16).padStart(2, '0')).join(' ')}]`;
}

function writeNode(current: FdtNode, depth: number, lines: string[]): void {
  const indent = '\t'.repeat(depth);
  lines.push(`${indent}${depth === 0 ? '/' : current.name} {`);
  for (const property of current.properties) {
    const value = formatValue(property.value);
    lines.push(value === '' ? `${indent}\t${property.name};` : `${indent}\t${property.name} = ${value};`);
  }
  for (const child of current.children) {
    lines.push('');
    writeNode(child, depth + 1, lines);
  }
  lines.push(`${indent}};`);
}

function isStringByte(byte: number): boolean {
  return (byte >= 0x20 && byte < 0x7f) || byte === 0 || (byte >= 0x07 && byte <= 0x0d);
}

function looksLikeStrings(value: Uint8Array): boolean {
  if (value[value.length - 1] !== 0) return false;
  let nuls = 0;
  for (const byte of value) {
    if (!isStringByte(byte)) return false;
    if (byte === 0) nuls++;
  }
  return nuls <= value.length - nuls;
}

function formatStrings(value: Uint8Array): string {
  const parts: string[] = [];
  let current = '';
  for (let index = 0; index < value.length - 1; index++) {
    const byte = value[index]!;
    if (byte === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ESCAPES[byte] ?? String.fromCharCode(byte);
    }
  }
  parts.push(current);
  return parts.map((part) => `"${part}"`).join(', ');
}

function hex64(value: bigint): string {
  return '0x' + value.toString(16).padStart(16, '0');
}
