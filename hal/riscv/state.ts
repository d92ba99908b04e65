// A hart's architectural state as one Int32Array: what a scheduler saves and restores on a
// context switch, and what can live in a SharedArrayBuffer for a hart thread.
//
//   words 0..31  x0..x31 (x0 always 0)          32  discard slot (writes to x0 land here)
//   33 pc    34 satp    35 scause    36 stval    37 sepc
//   38 instret low    39 instret high            (retired instructions, 64-bit)
//   40 sie (enabled interrupts: bit 1 software, 5 timer, 9 external)
//   41 sstatus (only MXR, bit 19, changes what a U-mode access may do)
//
// The LR/SC reservation is not part of the context: it is cleared on every trap, so a
// context is always saved with none. The translation cache is per hart, tagged by ASID.

import { DISCARD } from './instructions.js';
import { interruptBit, Interrupt } from './trap.js';

export const Word = {
  Pc: 33, Satp: 34, Scause: 35, Stval: 36, Sepc: 37, InstretLow: 38, InstretHigh: 39, Sie: 40, Sstatus: 41,
} as const;
export const STATE_WORDS = 48;
export const STATE_BYTES = STATE_WORDS * 4;
export const SSTATUS_MXR = 1 << 19;
/** Interrupts a fresh hart takes: software and timer. */
export const DEFAULT_SIE = interruptBit(Interrupt.SupervisorSoftware) | interruptBit(Interrupt.SupervisorTimer);

/** Register names of the psABI, for messages and tests. */
export const ABI_NAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7',
  's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'] as const;

export class HartState {
  readonly words: Int32Array;
  /** The register file, x0..x31 plus the discard slot. */
  readonly x: Int32Array;

  /**
   * Fresh state, or a view of `buffer` (e.g. a SharedArrayBuffer slot of STATE_BYTES at
   * `byteOffset`) left as it is unless `initialize` (then: zeroed registers, sie = DEFAULT_SIE).
   */
  constructor(buffer?: ArrayBufferLike, byteOffset = 0, initialize = buffer === undefined) {
    const words = buffer ?? new ArrayBuffer(STATE_BYTES);
    this.words = new Int32Array(words, byteOffset, STATE_WORDS);
    this.x = new Int32Array(words, byteOffset, DISCARD + 1);
    if (initialize) {
      this.words.fill(0);
      this.words[Word.Sie] = DEFAULT_SIE;
    }
  }

  get pc(): number { return this.words[Word.Pc]! >>> 0; }
  set pc(value: number) { this.words[Word.Pc] = value | 0; }
  get satp(): number { return this.words[Word.Satp]! >>> 0; }
  get sepc(): number { return this.words[Word.Sepc]! >>> 0; }
  get scause(): number { return this.words[Word.Scause]! >>> 0; }
  get stval(): number { return this.words[Word.Stval]! >>> 0; }

  /** Register `index` as an unsigned 32-bit number. */
  register(index: number): number { return this.x[index]! >>> 0; }
  setRegister(index: number, value: number): void { if (index !== 0) this.x[index] = value | 0; }

  get instret(): number { return (this.words[Word.InstretHigh]! >>> 0) * 2 ** 32 + (this.words[Word.InstretLow]! >>> 0); }
  set instret(value: number) {
    this.words[Word.InstretLow] = value % 2 ** 32 | 0;
    this.words[Word.InstretHigh] = Math.floor(value / 2 ** 32) | 0;
  }

  /** A copy of the whole context, for a scheduler to keep. */
  save(): Int32Array { return this.words.slice(); }

  /** Loads a context saved by save(). The caller changes satp through Hart.setSatp if the address space differs. */
  restore(context: Int32Array): void {
    if (context.length !== STATE_WORDS) throw new RangeError(`a hart context is ${STATE_WORDS} words, not ${context.length}`);
    this.words.set(context);
    this.x[0] = 0;
  }
}
