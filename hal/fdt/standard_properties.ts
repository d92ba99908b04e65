// Reading the specification's standard properties (devicetree spec v0.4, chapter 2.3 and
// 2.4): #address-cells/#size-cells, reg, ranges, phandle, interrupt-parent, interrupts
// and interrupts-extended, status. Addresses come back as JS numbers; anything beyond
// 2^53 is an FdtError. Every error names the node path it concerns.

import { fdtRead } from './values.js';
import { FdtError, getProperty, type FdtNode } from './tree.js';

export interface CellCounts {
  address: number;
  size: number;
}

export interface Region {
  base: number;
  size: number;
}

/** Runs `read`; an FdtError it throws is rethrown with `what: ` in front of its message. */
export function inContext<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof FdtError) throw new FdtError(`${what}: ${error.message}`);
    throw error;
  }
}

/** `value` as a number; FdtError if it is beyond Number.MAX_SAFE_INTEGER. */
export function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FdtError(`${what}: value 0x${value.toString(16)} is beyond 2^53`);
  return Number(value);
}

/** Property `name` as one string, or undefined if absent. */
export function stringProperty(target: FdtNode, name: string, path: string): string | undefined {
  const value = getProperty(target, name);
  return value === undefined ? undefined : inContext(`${path}/${name}`, () => fdtRead.string(value));
}

/** Property `name` as a string list; [] if absent. */
export function stringsProperty(target: FdtNode, name: string, path: string): string[] {
  const value = getProperty(target, name);
  return value === undefined ? [] : inContext(`${path}/${name}`, () => fdtRead.strings(value));
}

/** Property `name` as one cell, or undefined if absent. */
export function cellProperty(target: FdtNode, name: string, path: string): number | undefined {
  const value = getProperty(target, name);
  return value === undefined ? undefined : inContext(`${path}/${name}`, () => fdtRead.u32(value));
}

/** The node's #address-cells/#size-cells for its children, with the spec's defaults 2 and 1. Supports 1..2 and 0..2. */
export function cellCounts(parent: FdtNode, path: string): CellCounts {
  const counts = { address: cellProperty(parent, '#address-cells', path) ?? 2, size: cellProperty(parent, '#size-cells', path) ?? 1 };
  if (counts.address < 1 || counts.address > 2 || counts.size > 2) {
    throw new FdtError(`${path} has unsupported #address-cells/#size-cells ${counts.address}/${counts.size}`);
  }
  return counts;
}

/** The node's reg entries, decoded with its parent's cell counts; [] without reg. */
export function regions(target: FdtNode, path: string, parentCells: CellCounts): Region[] {
  const reg = getProperty(target, 'reg');
  if (!reg) return [];
  const what = `${path}/reg`;
  return inContext(what, () => fdtRead.cells(reg, parentCells.address, parentCells.size)).map(({ address, size }) => ({
    base: toSafeNumber(address, what),
    size: toSafeNumber(size, what),
  }));
}

/**
 * A function mapping an address on `bus` to its parent's address space through the bus's
 * `ranges` (empty: identity). FdtError if the bus has no ranges or the address is outside them.
 */
export function busTranslation(bus: FdtNode, path: string, cells: CellCounts, parentCells: CellCounts): (address: number, child: string) => number {
  const ranges = getProperty(bus, 'ranges');
  if (!ranges) throw new FdtError(`${path} has no ranges, its children are not addressable`);
  if (ranges.length === 0) return (address) => address;
  const what = `${path}/ranges`;
  const words = inContext(what, () => fdtRead.u32Array(ranges));
  const entryCells = cells.address + parentCells.address + cells.size;
  if (words.length % entryCells !== 0) throw new FdtError(`${what} has ${words.length} cells, not a multiple of ${entryCells}`);
  const join = (from: number, count: number): number =>
    toSafeNumber(words.slice(from, from + count).reduce((sum, word) => (sum << 32n) | BigInt(word), 0n), what);
  const entries: { child: number; parent: number; size: number }[] = [];
  for (let at = 0; at < words.length; at += entryCells) {
    entries.push({
      child: join(at, cells.address),
      parent: join(at + cells.address, parentCells.address),
      size: join(at + cells.address + parentCells.address, cells.size),
    });
  }
  return (address, child) => {
    const entry = entries.find((range) => address >= range.child && address < range.child + range.size);
    if (!entry) throw new FdtError(`${child} lies outside ${what}`);
    return entry.parent + (address - entry.child);
  };
}

/** Every node with a phandle (or linux,phandle), by phandle. */
export function collectPhandles(root: FdtNode): Map<number, FdtNode> {
  const phandles = new Map<number, FdtNode>();
  const pending = [root];
  while (pending.length > 0) {
    const current = pending.pop()!;
    const value = getProperty(current, 'phandle') ?? getProperty(current, 'linux,phandle');
    if (value && value.length === 4) phandles.set(fdtRead.u32(value), current);
    pending.push(...current.children);
  }
  return phandles;
}

/**
 * First cell of the node's first interrupt specifier, from interrupts-extended or from
 * interrupts with the interrupt-parent of the node or its nearest ancestor (`ancestors`,
 * nearest first); undefined if the node has neither property.
 */
export function firstInterrupt(device: FdtNode, ancestors: FdtNode[], path: string, phandles: Map<number, FdtNode>): number | undefined {
  const extended = getProperty(device, 'interrupts-extended');
  if (extended) {
    const cells = inContext(`${path}/interrupts-extended`, () => fdtRead.u32Array(extended));
    if (cells.length < 2 || !phandles.has(cells[0]!)) throw new FdtError(`${path}/interrupts-extended does not name an interrupt controller`);
    return cells[1];
  }
  const interrupts = getProperty(device, 'interrupts');
  if (!interrupts) return undefined;
  const holder = [device, ...ancestors].find((candidate) => getProperty(candidate, 'interrupt-parent') !== undefined);
  if (!holder) throw new FdtError(`${path} has interrupts but no interrupt-parent`);
  const parent = phandles.get(cellProperty(holder, 'interrupt-parent', path)!);
  if (!parent) throw new FdtError(`${path}/interrupt-parent names no node`);
  const cells = inContext(`${path}/interrupts`, () => fdtRead.u32Array(interrupts));
  const interruptCells = cellProperty(parent, '#interrupt-cells', `interrupt parent of ${path}`);
  if (interruptCells === undefined || interruptCells < 1 || cells.length < interruptCells) {
    throw new FdtError(`${path}/interrupts does not match its interrupt parent's #interrupt-cells`);
  }
  return cells[0];
}
