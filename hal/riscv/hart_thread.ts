// A hart on a thread of its own: the kernel's side. The thread (hart_thread_main.ts) keeps
// one Hart, with its decoded code and translation cache, whose architectural state is a
// slot of a SharedArrayBuffer the kernel reads and writes between runs (`state`). Requests
// go through a small control block of Int32 words, answered in order, one at a time:
//
//   0 request sequence (kernel)   1 done sequence (thread)   2 command   3 budget (fence: 1 va given | 2 asid given)
//   4..5 arguments (va/address, asid/length)                 6 1 while the thread is parked
//   8 trap kind (0 exception, 1 interrupt, 2 budget)  9 cause  10 tval  11 epc  12..13 retired
//
// Between requests the thread parks in Atomics.wait and costs no CPU. A running hart is
// preempted by its timer (MachineTimer.setAlarm) or by its software interrupt (kick()).

import { HardwareThread } from '../cpu.js';
import type { RamDescriptor } from '../ram.js';
import { MachineTimer, type TimerDescriptor } from '../timer.js';
import type { CompileMode } from './block_compiler.js';
import { HartState, STATE_BYTES } from './state.js';
import { INTERRUPT_FLAG, type TrapKind, type TrapRecord } from './trap.js';

export const Control = {
  Request: 0, Done: 1, Command: 2, Budget: 3, First: 4, Second: 5, Parked: 6,
  TrapKind: 8, Cause: 9, Tval: 10, Epc: 11, RetiredLow: 12, RetiredHigh: 13,
} as const;
export const CONTROL_WORDS = 16;
export const Command = { Run: 1, Fence: 2, InvalidateCode: 3, Stop: 4 } as const;
export const TRAP_KINDS: readonly TrapKind[] = ['exception', 'interrupt', 'budget'];

/** What the thread is started with (its workerData). */
export interface HartThreadData {
  readonly hartId: number;
  readonly ram: RamDescriptor;
  readonly timer: TimerDescriptor;
  readonly control: SharedArrayBuffer;
  readonly state: SharedArrayBuffer;
  readonly mode: CompileMode;
}

export interface HartThreadOptions {
  readonly hartId: number;
  readonly ram: RamDescriptor;
  readonly timer: TimerDescriptor;
  readonly mode?: CompileMode;
  /** The compiled thread entry; by default hart_thread_main.js beside this module. */
  readonly entry?: URL;
}

export class HartThread {
  readonly hartId: number;
  /** The hart's architectural state, shared with the thread: change it only between requests. */
  readonly state: HartState;
  private readonly control: Int32Array;
  private readonly thread: HardwareThread;
  private readonly timer: MachineTimer;
  private busy = false;

  constructor(options: HartThreadOptions) {
    this.hartId = options.hartId;
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4), state = new SharedArrayBuffer(STATE_BYTES);
    this.control = new Int32Array(control);
    this.state = new HartState(state, 0, true);
    this.timer = MachineTimer.attach(options.timer);
    const data: HartThreadData = { hartId: options.hartId, ram: options.ram, timer: options.timer, control, state, mode: options.mode ?? 'compile' };
    this.thread = new HardwareThread(options.entry ?? new URL('./hart_thread_main.js', import.meta.url), { name: `hart${options.hartId}`, data });
  }

  /** Runs the hart on `state` until a trap or `budget` instructions (at most 2^31 - 1). */
  async run(budget: number): Promise<TrapRecord> {
    await this.request(Command.Run, Math.min(budget, 0x7fff_ffff), 0, 0);
    const words = this.control, kind = TRAP_KINDS[words[Control.TrapKind]!]!, cause = words[Control.Cause]!;
    return {
      kind, cause, scause: kind === 'interrupt' ? (INTERRUPT_FLAG | cause) >>> 0 : cause, tval: words[Control.Tval]! >>> 0, epc: words[Control.Epc]! >>> 0,
      retired: (words[Control.RetiredHigh]! >>> 0) * 2 ** 32 + (words[Control.RetiredLow]! >>> 0),
    };
  }

  /** sfence.vma on the hart (undefined: x0). */
  fence(va?: number, asid?: number): Promise<void> {
    return this.request(Command.Fence, (va === undefined ? 0 : 1) | (asid === undefined ? 0 : 2), va ?? 0, asid ?? 0);
  }

  /** Drops decoded code of a physical range the kernel wrote (a loaded program). */
  invalidateCode(address: number, length: number): Promise<void> {
    return this.request(Command.InvalidateCode, address | 0, length | 0, 0);
  }

  /** Preempts a running hart with its software interrupt (the kernel clears it with timer.setSoftware(hart, false)). */
  kick(): void {
    this.timer.setSoftware(this.hartId, true);
  }

  /** Whether the thread is parked, waiting for a request. */
  get parked(): boolean {
    return Atomics.load(this.control, Control.Parked) === 1;
  }

  async stop(): Promise<void> {
    if (!this.thread.hasExited) {
      const exited = new Promise<void>((resolve) => this.thread.on('exit', () => resolve()));
      if (!this.busy) this.post(Command.Stop, 0, 0, 0);
      else await this.thread.terminate();
      await exited;
    }
  }

  private post(command: number, budget: number, first: number, second: number): number {
    const words = this.control;
    words[Control.Command] = command;
    words[Control.Budget] = budget;
    words[Control.First] = first;
    words[Control.Second] = second;
    const sequence = (Atomics.load(words, Control.Request) + 1) | 0;
    Atomics.store(words, Control.Request, sequence);
    Atomics.notify(words, Control.Request);
    return sequence;
  }

  private async request(command: number, budget: number, first: number, second: number): Promise<void> {
    if (this.busy) throw new Error(`hart ${this.hartId} is busy with another request`);
    if (this.thread.hasExited) throw new Error(`hart ${this.hartId}'s thread has exited`);
    this.busy = true;
    try {
      const sequence = this.post(command, budget, first, second);
      for (;;) {
        const done = Atomics.load(this.control, Control.Done);
        if (done === sequence) return;
        if (this.thread.hasExited) throw new Error(`hart ${this.hartId}'s thread exited during a request`);
        const waited = Atomics.waitAsync(this.control, Control.Done, done, 1000);
        if (waited.async) await waited.value;
      }
    } finally {
      this.busy = false;
    }
  }
}
