// Running hand-assembled code on a hart in bare mode (satp = 0: virtual = physical), for
// the per-instruction tests: code at the start of a small RAM, data DATA bytes in.

import { Ram } from '../../ram.js';
import { Hart, type HartOptions, type InterruptSource } from '../hart.js';
import type { TrapRecord } from '../trap.js';
import { program } from './assembler.js';

export const RAM_BASE = 0x8000_0000;
export const DATA = RAM_BASE + 0x10_0000;

/** Both ways a hart executes: the interpreter, and the block compiler on every block's first run. */
export const MODES: ReadonlyArray<{ readonly name: string; readonly options: HartOptions }> = [
  { name: 'interpreted', options: { mode: 'interpret' } },
  { name: 'compiled', options: { mode: 'compile', hotBlock: 1 } },
];

export interface Bare {
  readonly ram: Ram;
  readonly hart: Hart;
  /** Runs to the next trap (or `budget` instructions). */
  run(budget?: number): TrapRecord;
  reg(index: number): number;
  signed(index: number): number;
}

export function bare(code: readonly (number | { c: number })[], options: HartOptions & { interrupts?: InterruptSource } = {}, registers: Record<number, number> = {}): Bare {
  const ram = Ram.allocate(2 << 20, RAM_BASE);
  ram.write(RAM_BASE, program(code));
  const hart = new Hart(ram, options);
  hart.state.pc = RAM_BASE;
  for (const [index, value] of Object.entries(registers)) hart.state.setRegister(Number(index), value);
  return {
    ram, hart,
    run: (budget = 1_000_000) => hart.run(budget),
    reg: (index) => hart.state.register(index),
    signed: (index) => hart.state.x[index]!,
  };
}
