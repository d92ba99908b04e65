// One RISC-V hart (RV32IMAC, Zicsr, Zifencei) running U-mode code for a kernel written in
// TypeScript, which plays S-mode: run(budget) executes until a trap (ecall, ebreak, a page
// or access fault, an illegal instruction, an enabled pending interrupt) or the budget of
// instructions is spent, and returns a TrapRecord. On a trap the hart writes sepc, scause
// and stval into its state, clears its LR/SC reservation and leaves the pc at the trapping
// instruction (an interrupt: at the next one to run); the kernel handles it, sets the pc
// (after an ecall: epc + 4) and calls run() again.
//
// Execution is by basic blocks (code_cache.ts), each checked against RAM the first time it
// runs in a run() call, so code the kernel rewrote while the hart was stopped is seen. A block is interpreted (execute.ts) until
// it has run HOT_BLOCK times, then compiled to a JavaScript function (block_compiler.ts).
// Interrupts are checked between blocks, every INTERRUPT_CHECK_INTERVAL retired
// instructions at most, so a timer preempts within a bounded number of instructions.

import type { Ram } from '../ram.js';
import { compileBlock, type CompileMode } from './block_compiler.js';
import { CodeCache, type Block } from './code_cache.js';
import { decode } from './decode.js';
import { execute } from './execute.js';
import { HartMemory, L1_MASK } from './memory.js';
import { HartState, SSTATUS_MXR, Word } from './state.js';
import { Access } from './sv32.js';
import { INTERRUPT_FLAG, Interrupt, interruptBit, type TrapKind, type TrapRecord } from './trap.js';

export const HOT_BLOCK = 16;
export const INTERRUPT_CHECK_INTERVAL = 4096;

/** What raises the hart's interrupts: the timer device (and later, interrupt controllers). */
export interface InterruptSource {
  /** sip bits pending for `hart` (bit 1 software, 5 timer, 9 external). */
  pendingInterrupts(hart: number): number;
  /** The board's mtime, for the time CSR. */
  mtime(): number;
}

export interface HartOptions {
  readonly hartId?: number;
  /** The state to run on (e.g. a view of a SharedArrayBuffer); fresh by default. */
  readonly state?: HartState;
  readonly interrupts?: InterruptSource;
  /** 'compile' (default): hot blocks become JavaScript functions; 'interpret': never. */
  readonly mode?: CompileMode;
  /** Executions after which a block is compiled (default HOT_BLOCK; tests use 1 to compile everything). */
  readonly hotBlock?: number;
}

/** Interrupt codes in the order the spec takes them when several are pending. */
const PRIORITY = [Interrupt.SupervisorExternal, Interrupt.SupervisorSoftware, Interrupt.SupervisorTimer];

export class Hart {
  readonly hartId: number;
  readonly state: HartState;
  readonly x: Int32Array;
  readonly memory: HartMemory;
  readonly code: CodeCache;
  readonly mode: CompileMode;
  readonly hotBlock: number;
  /** The pc while running; state.pc between runs. */
  pc = 0;
  /** Instructions retired, 64-bit as a number (exact to 2^53); state's instret between runs. */
  retired = 0;
  /** Blocks compiled so far. */
  compiledBlocks = 0;
  private readonly interrupts: InterruptSource | undefined;
  private reservationIndex = -1;
  private reservationValue = 0;
  private nextInterruptCheck = 0;
  /** Counts run() calls: a block is checked against RAM once per call (code_cache.ts). */
  private runs = 0;

  constructor(ram: Ram, options: HartOptions = {}) {
    this.hartId = options.hartId ?? 0;
    this.state = options.state ?? new HartState();
    this.x = this.state.x;
    this.memory = new HartMemory(ram);
    this.code = new CodeCache(this.memory);
    this.interrupts = options.interrupts;
    this.mode = options.mode ?? 'compile';
    this.hotBlock = options.hotBlock ?? HOT_BLOCK;
    this.memory.setSatp(this.state.satp);
  }

  /** Writes satp (switching address space); the pc and registers are the caller's to set. */
  setSatp(satp: number): void {
    this.state.words[Word.Satp] = satp | 0;
    this.memory.setSatp(satp);
  }

  /** sfence.vma: `va` undefined flushes every address, `asid` undefined every address space. */
  fenceTranslations(va?: number, asid?: number): void {
    this.memory.fence(va, asid);
  }

  /** Loads a saved context (HartState.save) and its address space. */
  restoreContext(context: Int32Array): void {
    this.state.restore(context);
    this.memory.setSatp(this.state.satp);
    this.reservationIndex = -1;
  }

  /** The time CSR's source: the board's mtime, or 0 without a timer. */
  readonly time = (): number => this.interrupts?.mtime() ?? 0;

  /** Runs until a trap or until `budget` more instructions have retired. */
  run(budget: number): TrapRecord {
    const words = this.state.words;
    this.pc = words[Word.Pc]! >>> 0;
    this.retired = this.state.instret;
    this.memory.makeExecutableReadable = (words[Word.Sstatus]! & SSTATUS_MXR) !== 0;
    if (this.memory.currentSatp !== words[Word.Satp]! >>> 0) this.memory.setSatp(words[Word.Satp]!);
    this.memory.cause = -1;
    const started = this.retired, limit = this.retired + budget, run = ++this.runs;
    this.nextInterruptCheck = this.retired;
    const compiling = this.mode === 'compile';
    let previous: Block | undefined;
    for (;;) {
      if (this.retired >= this.nextInterruptCheck) {
        const interrupt = this.pendingInterrupt();
        if (interrupt >= 0) return this.trapOut('interrupt', interrupt, 0, started);
        this.nextInterruptCheck = this.retired + INTERRUPT_CHECK_INTERVAL;
      }
      if (this.retired >= limit) return this.trapOut('budget', 0, 0, started);
      let block = previous === undefined ? this.blockAt(this.pc) : this.successorOf(previous);
      if (block !== undefined && block.checkedInRun !== run) {
        if (!this.code.stillMatches(block)) {
          this.code.invalidatePage(block.pageOffset >>> 12); // rewritten behind this hart's back: decode again
          block = this.blockAt(this.pc);
        }
        if (block !== undefined) block.checkedInRun = run;
      }
      previous = block;
      if (block === undefined) {
        if (this.memory.cause >= 0 || this.stepStraddling() < 0) return this.trapOut('exception', this.memory.cause, this.memory.tval, started);
        continue;
      }
      if (!block.compiled && compiling && ++block.hits >= this.hotBlock) {
        block.compiled = compileBlock(this, block);
        this.compiledBlocks++;
      }
      if (block.compiled) (block.compiled as (hart: Hart) => void)(this);
      else this.interpret(block);
      if (this.memory.cause >= 0) return this.trapOut('exception', this.memory.cause, this.memory.tval, started);
    }
  }

  /** Records an exception for the instruction being executed; returns -1 for execute() to return. */
  raise(cause: number, tval: number): -1 {
    return this.memory.fault(cause, tval);
  }

  reserve(index: number, value: number): void {
    this.reservationIndex = index;
    this.reservationValue = value;
  }

  /** The reservation (word index in RAM and the value LR read), now cleared. */
  takeReservation(): { index: number; value: number } | undefined {
    const index = this.reservationIndex;
    this.reservationIndex = -1;
    return index < 0 ? undefined : { index, value: this.reservationValue };
  }

  /** Interprets `block` from its start; stops early (pc at the trapping instruction) on a trap. */
  private interpret(block: Block): void {
    const ops = block.ops, pcs = block.pcs;
    let pc = block.va;
    for (let index = 0; index < ops.length; index++) {
      const next = execute(this, ops[index]!, pcs[index]!);
      if (next < 0) {
        this.pc = pcs[index]!;
        return;
      }
      pc = next;
    }
    this.pc = pc;
  }

  /** The block after `block` at the pc: a chained successor if still valid, else looked up (and chained). */
  private successorOf(block: Block): Block | undefined {
    const pc = this.pc, epoch = this.memory.epoch;
    const way: number = block.successorVa[0] === pc ? 0 : block.successorVa[1] === pc ? 1 : -1;
    if (way >= 0) {
      const next = block.successor[way];
      if (next !== undefined && next.alive && block.successorEpoch[way] === epoch) return next;
    }
    const next = this.blockAt(pc);
    if (next !== undefined) {
      const slot = way >= 0 ? way : block.successor[0] === undefined ? 0 : 1;
      block.successorVa[slot] = pc;
      block.successor[slot] = next;
      block.successorEpoch[slot] = epoch;
    }
    return next;
  }

  /** The block at `va`, or undefined: a fetch fault (memory.cause set) or an instruction straddling a page end. */
  private blockAt(va: number): Block | undefined {
    const memory = this.memory, vpn = va >>> 12, index = vpn & L1_MASK;
    const page = memory.fetchTag[index] === vpn ? memory.fetchBase[index]! : memory.translate(va, Access.Fetch);
    if (page < 0) return undefined;
    return this.code.block(va, page);
  }

  /** Executes the 32-bit instruction at a page's last halfword, fetching its halves through both pages. */
  private stepStraddling(): number {
    const pc = this.pc, memory = this.memory;
    const first = memory.translate(pc, Access.Fetch);
    if (first < 0) return -1;
    const second = memory.translate((pc + 2) >>> 0, Access.Fetch);
    if (second < 0) return -1;
    const bits = memory.u16[(first + 0xffe) >> 1]! | (memory.u16[second >> 1]! << 16);
    const next = execute(this, decode(bits), pc);
    if (next >= 0) this.pc = next;
    return next;
  }

  private pendingInterrupt(): number {
    if (!this.interrupts) return -1;
    const pending = this.interrupts.pendingInterrupts(this.hartId) & this.state.words[Word.Sie]!;
    if (pending === 0) return -1;
    for (const code of PRIORITY) if (pending & interruptBit(code)) return code;
    return -1;
  }

  private trapOut(kind: TrapKind, cause: number, tval: number, started: number): TrapRecord {
    const words = this.state.words;
    const scause = kind === 'interrupt' ? (INTERRUPT_FLAG | cause) >>> 0 : cause;
    words[Word.Pc] = this.pc | 0;
    this.state.instret = this.retired;
    if (kind !== 'budget') {
      words[Word.Sepc] = this.pc | 0;
      words[Word.Scause] = scause | 0;
      words[Word.Stval] = tval | 0;
      this.reservationIndex = -1;
    }
    this.memory.cause = -1;
    return { kind, cause, scause, tval: tval >>> 0, epc: this.pc >>> 0, retired: this.retired - started };
  }
}
