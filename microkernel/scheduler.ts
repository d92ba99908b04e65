// The scheduler of user processes on the harts. Policy: round robin over one run queue that
// every hart takes from, a fixed time slice measured on the CLINT (each dispatch arms the
// hart's mtimecmp `sliceTicks` ahead; the timer interrupt preempts), and no priorities. A
// process that traps with ecall is blocked while its system call travels as a message to the
// server that owns it (the port); the reply puts it at the tail of the queue. A page fault
// blocks it the same way while the memory server is asked to fix it. A hart that finds the
// queue empty parks (the caller's loop waits, as WFI) and is woken when a process becomes
// runnable. microkernel/README.md says why this policy.
//
// The scheduler is the kernel's: it runs wherever the hart loops run and touches a hart only
// through step(): load a context, run a slice, save it, handle the trap.

import type { Hart } from '../hal/riscv/hart.js';
import { Exception, INTERRUPT_FLAG, Interrupt, type TrapRecord } from '../hal/riscv/trap.js';
import { Word, type HartState } from '../hal/riscv/state.js';
import type { UserProcess, UserProcessTable } from './user_processes.js';

/** What the scheduler needs of the board's timer (MachineTimer has it). */
export interface SliceTimer {
  mtime(): number;
  setCompare(hart: number, ticks: number): void;
  setSoftware(hart: number, pending: boolean): void;
  wake(hart: number): void;
}

/** A system call as it leaves the hart: a7 and a0..a5, unsigned. */
export interface SystemCall {
  readonly number: number;
  readonly args: readonly [number, number, number, number, number, number];
}

export type FaultAccess = 'load' | 'store' | 'fetch';

/**
 * Where traps go: the servers that own them. Each call is answered later through
 * Scheduler.reply / faultHandled / exit; the process stays blocked until then.
 */
export interface TrapPort {
  systemCall(process: UserProcess, call: SystemCall): void;
  pageFault(process: UserProcess, address: number, access: FaultAccess): void;
  /** The process ended (exit, or killed with `signal`); its status is process.exitStatus. */
  exited(process: UserProcess, signal: number | undefined): void;
}

export const Signal = { SIGILL: 4, SIGTRAP: 5, SIGBUS: 7, SIGKILL: 9, SIGSEGV: 11 } as const;

export interface SchedulerOptions {
  readonly sliceTicks: number;
  /** Instructions per run() call at most (a bound even if the timer never fires). */
  readonly budget?: number;
}

export type StepResult = 'ran' | 'idle';

/** What stepThread needs of a hart on its own thread (HartThread has it). */
export interface ThreadedHart {
  readonly hartId: number;
  readonly state: HartState;
  run(budget: number): Promise<TrapRecord>;
  /** sfence.vma (undefined: x0). */
  fence(va?: number, asid?: number): Promise<void>;
  /** Drops decoded code of a physical range written by another thread (a loaded program). */
  invalidateCode(address: number, length: number): Promise<void>;
}

const FAULT_ACCESS: Readonly<Record<number, FaultAccess>> = {
  [Exception.LoadPageFault]: 'load', [Exception.StorePageFault]: 'store', [Exception.InstructionPageFault]: 'fetch',
};
const SIGNAL_OF_EXCEPTION: Readonly<Record<number, number>> = {
  [Exception.IllegalInstruction]: Signal.SIGILL, [Exception.Breakpoint]: Signal.SIGTRAP,
  [Exception.InstructionMisaligned]: Signal.SIGBUS, [Exception.LoadMisaligned]: Signal.SIGBUS, [Exception.StoreMisaligned]: Signal.SIGBUS,
  [Exception.InstructionAccessFault]: Signal.SIGSEGV, [Exception.LoadAccessFault]: Signal.SIGSEGV, [Exception.StoreAccessFault]: Signal.SIGSEGV,
};

export class Scheduler {
  readonly table: UserProcessTable;
  private readonly timer: SliceTimer;
  private readonly port: TrapPort;
  private readonly sliceTicks: number;
  private readonly budget: number;
  private readonly queue: UserProcess[] = [];
  private readonly idle = new Set<number>();
  private readonly waiters: Array<() => void> = [];
  /** Preemptions by the timer, for tests and ps. */
  preemptions = 0;

  constructor(table: UserProcessTable, timer: SliceTimer, port: TrapPort, options: SchedulerOptions) {
    if (!(options.sliceTicks > 0)) throw new RangeError(`a time slice is a positive number of ticks, not ${options.sliceTicks}`);
    this.table = table;
    this.timer = timer;
    this.port = port;
    this.sliceTicks = options.sliceTicks;
    this.budget = options.budget ?? 1 << 30;
  }

  /** Puts a new process (from the table) on the run queue. */
  admit(process: UserProcess): void {
    if (process.state !== 'runnable') throw new Error(`process ${process.pid} is ${process.state}, not runnable`);
    this.enqueue(process);
  }

  /** Processes waiting for a hart, in order. */
  get runnable(): readonly UserProcess[] {
    return this.queue;
  }

  /** Resolves once a process is runnable (at once if one is): a parked hart loop awaits it. */
  whenRunnable(): Promise<void> {
    if (this.queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * One turn of `hart`'s loop: takes the next runnable process, runs it until it traps or
   * its slice ends, and handles the trap. 'idle' when nothing is runnable (the hart should
   * park until whenRunnable() resolves or the timer wakes it).
   */
  step(hart: Hart): StepResult {
    const process = this.dispatch(hart.hartId);
    if (!process) return 'idle';
    hart.restoreContext(process.context);
    const started = this.armSlice(hart.hartId);
    const trap = hart.run(this.budget);
    process.context.set(hart.state.words);
    this.complete(hart.hartId, process, started, trap);
    return 'ran';
  }

  /**
   * step() for a hart on its own thread (hal/riscv/hart_thread.ts): the same turn, the slice
   * run on the thread while the kernel's thread serves messages. One turn at a time per hart.
   */
  async stepThread(hart: ThreadedHart): Promise<StepResult> {
    const process = this.dispatch(hart.hartId);
    if (!process) return 'idle';
    hart.state.restore(process.context);
    const started = this.armSlice(hart.hartId);
    const trap = await hart.run(this.budget);
    process.context.set(hart.state.words);
    this.complete(hart.hartId, process, started, trap);
    return 'ran';
  }

  private dispatch(hartId: number): UserProcess | undefined {
    const process = this.queue.shift();
    if (!process) {
      this.idle.add(hartId);
      this.timer.setCompare(hartId, Number.POSITIVE_INFINITY);
      return undefined;
    }
    this.idle.delete(hartId);
    process.state = 'running';
    process.hart = hartId;
    return process;
  }

  private armSlice(hartId: number): number {
    const started = this.timer.mtime();
    this.timer.setCompare(hartId, started + this.sliceTicks);
    return started;
  }

  private complete(hartId: number, process: UserProcess, started: number, trap: TrapRecord): void {
    process.cpuTicks += Math.max(0, this.timer.mtime() - started);
    process.hart = undefined;
    this.handle(hartId, process, trap);
  }

  /** The answer to a system call: a0 = result (a -errno is an error), the process resumes after the ecall. */
  reply(pid: number, result: number): void {
    const process = this.blocked(pid, 'system-call');
    if (!process) return;
    process.context[10] = result | 0;
    process.context[Word.Pc] = (process.context[Word.Sepc]! + 4) | 0;
    this.wake(process);
  }

  /** The memory server's answer to a page fault: fixed (the instruction runs again) or not (SIGSEGV). */
  faultHandled(pid: number, fixed: boolean): void {
    const process = this.blocked(pid, 'fault');
    if (!process) return;
    if (fixed) this.wake(process);
    else this.terminate(process, 128 + Signal.SIGSEGV, Signal.SIGSEGV);
  }

  /** exit / exit_group as the process server decided it: the process ends with `status` (0..255). */
  exit(pid: number, status: number): void {
    const process = this.table.get(pid);
    if (!process || process.state === 'exited') return;
    this.terminate(process, status & 0xff, undefined);
  }

  /** Ends a process with signal N (status 128 + N); a running one ends at its hart's next trap, which this forces. */
  kill(pid: number, signal: number): void {
    const process = this.table.get(pid);
    if (!process || process.state === 'exited') return;
    if (process.state === 'running') {
      process.pendingKill = signal;
      this.timer.setSoftware(process.hart!, true);
      return;
    }
    this.terminate(process, 128 + signal, signal);
  }

  private handle(hart: number, process: UserProcess, trap: TrapRecord): void {
    if (trap.kind === 'interrupt' && trap.scause === ((INTERRUPT_FLAG | Interrupt.SupervisorSoftware) >>> 0)) this.timer.setSoftware(hart, false);
    if (process.pendingKill !== undefined) {
      this.terminate(process, 128 + process.pendingKill, process.pendingKill);
      return;
    }
    if (trap.kind === 'interrupt' || trap.kind === 'budget') {
      if (trap.cause === Interrupt.SupervisorTimer || trap.kind === 'budget') this.preemptions++;
      process.state = 'runnable';
      this.enqueue(process);
      return;
    }
    if (trap.cause === Exception.EcallFromUser) {
      const x = process.context;
      const number = x[17]! >>> 0;
      process.state = 'blocked';
      process.blockedOn = { kind: 'system-call', number };
      this.port.systemCall(process, { number, args: [x[10]! >>> 0, x[11]! >>> 0, x[12]! >>> 0, x[13]! >>> 0, x[14]! >>> 0, x[15]! >>> 0] });
      return;
    }
    const access = FAULT_ACCESS[trap.cause];
    if (access !== undefined) {
      process.state = 'blocked';
      process.blockedOn = { kind: 'fault', address: trap.tval };
      this.port.pageFault(process, trap.tval, access);
      return;
    }
    const signal = SIGNAL_OF_EXCEPTION[trap.cause] ?? Signal.SIGSEGV;
    this.terminate(process, 128 + signal, signal);
  }

  /** The process waiting for a `kind` answer; undefined if it ended meanwhile (killed), whose late answer is dropped. */
  private blocked(pid: number, kind: 'system-call' | 'fault'): UserProcess | undefined {
    const process = this.table.get(pid);
    if (!process) throw new Error(`no process ${pid}`);
    if (process.state === 'exited') return undefined;
    if (process.state !== 'blocked' || process.blockedOn?.kind !== kind) throw new Error(`process ${pid} is not waiting for a ${kind} answer (${process.state})`);
    return process;
  }

  private wake(process: UserProcess): void {
    process.blockedOn = undefined;
    process.state = 'runnable';
    this.enqueue(process);
  }

  private enqueue(process: UserProcess): void {
    this.queue.push(process);
    for (const waiter of this.waiters.splice(0)) waiter();
    const parked = this.idle.values().next();
    if (!parked.done) {
      this.idle.delete(parked.value);
      this.timer.wake(parked.value);
    }
  }

  private terminate(process: UserProcess, status: number, signal: number | undefined): void {
    const queued = this.queue.indexOf(process);
    if (queued >= 0) this.queue.splice(queued, 1);
    process.state = 'exited';
    process.blockedOn = undefined;
    process.pendingKill = undefined;
    process.exitStatus = status;
    this.port.exited(process, signal);
  }
}
