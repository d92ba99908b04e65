// The kernel's table of user processes: programs running on the harts in U-mode, each with
// its saved hart context (registers, pc, satp, instret), its place in the scheduler and the
// accounting `ps` shows. What a process owns beyond the CPU — its address space, its file
// descriptors, its parent's wait — is the process server's; the kernel keeps only what it
// needs to run, block and wake it (MINIX's split between the kernel's proc table and PM's
// mproc). Servers and drivers are not in this table: they are the supervisor's (process.ts).
//
// A pid is never reused while its entry exists; an exited process stays (state 'exited')
// until its parent has taken its status (reap), as a zombie does, so fork and wait can come
// next without changing the table.

import { HartState, STATE_WORDS, Word } from '../hal/riscv/state.js';

export type UserProcessState = 'runnable' | 'running' | 'blocked' | 'exited';

/** Why a blocked process waits: a system call being served, or a page fault being fixed. */
export type BlockReason = { readonly kind: 'system-call'; readonly number: number } | { readonly kind: 'fault'; readonly address: number };

export interface UserProcessStart {
  readonly ppid: number;
  readonly commandLine: readonly string[];
  readonly entry: number;
  readonly stackPointer: number;
  /** satp of the process's address space (the memory server's Sv32 root and ASID). */
  readonly satp: number;
}

export class UserProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly commandLine: readonly string[];
  /** The saved context while not running (HartState words). */
  readonly context: Int32Array;
  state: UserProcessState = 'runnable';
  blockedOn: BlockReason | undefined;
  /** The hart it runs on while 'running'. */
  hart: number | undefined;
  /** mtime ticks spent running. */
  cpuTicks = 0;
  /** Exit status as a shell reports it (128 + N when killed by signal N), once 'exited'. */
  exitStatus: number | undefined;
  /** Set when the process must not run again (killed while running or blocked); taken at its next trap. */
  pendingKill: number | undefined;
  readonly startedAtTicks: number;

  constructor(pid: number, start: UserProcessStart, nowTicks: number) {
    this.pid = pid;
    this.ppid = start.ppid;
    this.commandLine = [...start.commandLine];
    const state = new HartState();
    state.pc = start.entry;
    state.setRegister(2, start.stackPointer);
    state.words[Word.Satp] = start.satp | 0;
    this.context = state.words;
    this.startedAtTicks = nowTicks;
    if (this.context.length !== STATE_WORDS) throw new Error('a context is one HartState');
  }

  /** Instructions retired (the context's instret, exact to 2^53). */
  get instructions(): number {
    return (this.context[Word.InstretHigh]! >>> 0) * 2 ** 32 + (this.context[Word.InstretLow]! >>> 0);
  }

  /** Register `index` of the saved context, unsigned. */
  register(index: number): number {
    return this.context[index]! >>> 0;
  }
}

/** A row of `ps` for one user process. */
export interface UserProcessRow {
  readonly pid: number;
  readonly ppid: number;
  readonly state: UserProcessState;
  readonly cpuTicks: number;
  readonly instructions: number;
  readonly commandLine: string;
  readonly exitStatus?: number;
}

export class UserProcessTable {
  readonly maximum: number;
  private readonly processes = new Map<number, UserProcess>();
  private nextPid: number;

  /** At most `maximum` entries (exited ones count until reaped); pids from `firstPid` up. */
  constructor(maximum = 256, firstPid = 1) {
    if (!Number.isInteger(maximum) || maximum < 1) throw new RangeError(`a process table holds at least one process, not ${maximum}`);
    this.maximum = maximum;
    this.nextPid = firstPid;
  }

  /** A new runnable process, or undefined when the table is full. */
  create(start: UserProcessStart, nowTicks: number): UserProcess | undefined {
    if (this.processes.size >= this.maximum) return undefined;
    while (this.processes.has(this.nextPid)) this.nextPid = this.nextPid >= 0x3fff_ffff ? 1 : this.nextPid + 1;
    const process = new UserProcess(this.nextPid, start, nowTicks);
    this.nextPid = this.nextPid >= 0x3fff_ffff ? 1 : this.nextPid + 1;
    this.processes.set(process.pid, process);
    return process;
  }

  get(pid: number): UserProcess | undefined {
    return this.processes.get(pid);
  }

  /** Removes an exited process's entry (its status taken); returns it. */
  reap(pid: number): UserProcess | undefined {
    const process = this.processes.get(pid);
    if (process?.state !== 'exited') return undefined;
    this.processes.delete(pid);
    return process;
  }

  all(): UserProcess[] {
    return [...this.processes.values()];
  }

  rows(): UserProcessRow[] {
    return this.all().map((process) => ({
      pid: process.pid, ppid: process.ppid, state: process.state, cpuTicks: process.cpuTicks,
      instructions: process.instructions, commandLine: process.commandLine.join(' '),
      ...(process.exitStatus === undefined ? {} : { exitStatus: process.exitStatus }),
    }));
  }
}
