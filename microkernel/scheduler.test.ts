// The scheduler on real harts running hand-assembled U-mode code in bare mode (satp 0), with
// a timer whose mtime advances one tick each time a hart looks for interrupts (every 4096
// instructions), so preemption is deterministic on a loaded machine.

import { describe, expect, it } from 'vitest';
import { Ram } from '../hal/ram.js';
import { Hart, type InterruptSource } from '../hal/riscv/hart.js';
import { asm, program, reg } from '../hal/riscv/testing/assembler.js';
import { TIMER_PENDING, SOFTWARE_PENDING } from '../hal/timer.js';
import { Scheduler, Signal, type FaultAccess, type SliceTimer, type SystemCall, type TrapPort } from './scheduler.js';
import { UserProcessTable, type UserProcess } from './user_processes.js';

const RAM_BASE = 0x8000_0000;

/** mtime advances one tick per interrupt check; mtimecmp and msip per hart; wakes are counted. */
class SteppingTimer implements SliceTimer, InterruptSource {
  ticks = 0;
  readonly compare: number[];
  readonly software: boolean[];
  readonly wakes: number[] = [];
  constructor(harts: number) {
    this.compare = Array.from({ length: harts }, () => Number.POSITIVE_INFINITY);
    this.software = Array.from({ length: harts }, () => false);
  }
  mtime(): number { return this.ticks; }
  pendingInterrupts(hart: number): number {
    this.ticks++;
    return (this.ticks >= this.compare[hart]! ? TIMER_PENDING : 0) | (this.software[hart] ? SOFTWARE_PENDING : 0);
  }
  setCompare(hart: number, ticks: number): void { this.compare[hart] = ticks; }
  setSoftware(hart: number, pending: boolean): void { this.software[hart] = pending; }
  wake(hart: number): void { this.wakes.push(hart); }
}

/** Records what leaves the harts. */
class RecordingPort implements TrapPort {
  readonly calls: Array<{ pid: number; call: SystemCall }> = [];
  readonly faults: Array<{ pid: number; address: number; access: FaultAccess }> = [];
  readonly exits: Array<{ pid: number; status: number | undefined; signal: number | undefined }> = [];
  systemCall(process: UserProcess, call: SystemCall): void { this.calls.push({ pid: process.pid, call }); }
  pageFault(process: UserProcess, address: number, access: FaultAccess): void { this.faults.push({ pid: process.pid, address, access }); }
  exited(process: UserProcess, signal: number | undefined): void { this.exits.push({ pid: process.pid, status: process.exitStatus, signal }); }
}

// Each program at its own 4 KiB page of RAM.
const SPIN = [asm.addi(reg.s0, reg.s0, 1), asm.jal(0, -4)];
const GETPID_LOOP = [asm.addi(reg.a7, 0, 172), asm.ecall(), asm.addi(reg.s1, reg.s1, 1), asm.jal(0, -8)];
const LOAD_NULL = [asm.lw(reg.a0, 0, 0)];
const ILLEGAL = [0];

function rig(harts: number, programs: ReadonlyArray<readonly number[]>, sliceTicks = 4) {
  const ram = Ram.allocate(1 << 20, RAM_BASE);
  const timer = new SteppingTimer(harts);
  const port = new RecordingPort();
  const table = new UserProcessTable(16);
  const scheduler = new Scheduler(table, timer, port, { sliceTicks });
  const hartList = Array.from({ length: harts }, (_, hartId) => new Hart(ram, { hartId, interrupts: timer, mode: 'interpret' }));
  const processes = programs.map((code, index) => {
    const entry = RAM_BASE + index * 4096;
    ram.write(entry, program(code));
    const process = table.create({ ppid: 0, commandLine: [`p${index}`], entry, stackPointer: 0, satp: 0 }, timer.mtime())!;
    scheduler.admit(process);
    return process;
  });
  return { ram, timer, port, table, scheduler, harts: hartList, processes };
}

describe('Scheduler', () => {
  it('shares one hart between two spinning processes by the timer, round robin', () => {
    const { scheduler, harts, processes: [a, b] } = rig(1, [SPIN, SPIN]);
    const order: number[] = [];
    for (let turn = 0; turn < 6; turn++) {
      order.push(scheduler.runnable[0]!.pid);
      expect(scheduler.step(harts[0]!)).toBe('ran');
    }
    expect(order).toEqual([a!.pid, b!.pid, a!.pid, b!.pid, a!.pid, b!.pid]);
    expect(scheduler.preemptions).toBe(6);
    expect(a!.register(reg.s0)).toBeGreaterThan(4096);
    expect(a!.instructions).toBeGreaterThanOrEqual(2 * a!.register(reg.s0) - 1);
    expect(a!.instructions).toBeLessThanOrEqual(2 * a!.register(reg.s0));
    expect(a!.cpuTicks).toBeGreaterThanOrEqual(3 * 4);
    expect(b!.state).toBe('runnable');
  });

  it('blocks a process for its system call and resumes it after the ecall with the reply in a0', () => {
    const { scheduler, port, harts, processes: [caller, spinner] } = rig(1, [GETPID_LOOP, SPIN]);
    scheduler.step(harts[0]!);
    expect(caller!.state).toBe('blocked');
    expect(caller!.blockedOn).toEqual({ kind: 'system-call', number: 172 });
    expect(port.calls).toEqual([{ pid: caller!.pid, call: { number: 172, args: [0, 0, 0, 0, 0, 0] } }]);
    expect(scheduler.runnable).toEqual([spinner]);
    scheduler.step(harts[0]!); // the spinner's slice, while the call is served
    expect(scheduler.runnable).toEqual([spinner]);
    scheduler.reply(caller!.pid, 7);
    expect(scheduler.runnable).toEqual([spinner, caller]);
    scheduler.step(harts[0]!);
    scheduler.step(harts[0]!);
    expect(caller!.register(reg.s1)).toBe(1);
    expect(port.calls).toHaveLength(2);
    expect(caller!.register(reg.a0)).toBe(7);
    expect(() => scheduler.reply(spinner!.pid, 0)).toThrow(/not waiting for a system-call answer/);
  });

  it('parks a hart with nothing to run and wakes it when a reply makes a process runnable', () => {
    const { scheduler, timer, harts, processes: [caller] } = rig(2, [GETPID_LOOP]);
    expect(scheduler.step(harts[0]!)).toBe('ran');
    expect(scheduler.step(harts[1]!)).toBe('idle');
    expect(scheduler.step(harts[0]!)).toBe('idle');
    expect(timer.compare).toEqual([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
    let woken = false;
    void scheduler.whenRunnable().then(() => { woken = true; });
    scheduler.reply(caller!.pid, 0);
    expect(timer.wakes).toEqual([1]);
    return Promise.resolve().then(() => expect(woken).toBe(true));
  });

  it('runs two processes at once on two harts', () => {
    const { scheduler, harts, processes: [a, b] } = rig(2, [SPIN, SPIN]);
    scheduler.step(harts[0]!);
    expect(scheduler.runnable).toEqual([b, a]);
    scheduler.step(harts[1]!);
    expect([a!.register(reg.s0) > 0, b!.register(reg.s0) > 0]).toEqual([true, true]);
  });

  it('asks the fault handler about a page fault and kills the process with SIGSEGV when it is not fixed; the others run on', () => {
    const { scheduler, port, harts, processes: [faulter, spinner] } = rig(1, [LOAD_NULL, SPIN]);
    scheduler.step(harts[0]!);
    // In bare mode address 0 is outside RAM: an access fault, which is SIGSEGV at once.
    expect(port.exits).toEqual([{ pid: faulter!.pid, status: 139, signal: Signal.SIGSEGV }]);
    expect(faulter!.state).toBe('exited');
    expect(scheduler.step(harts[0]!)).toBe('ran');
    expect(spinner!.register(reg.s0)).toBeGreaterThan(0);
  });

  it('turns a page fault into a request and a refusal into SIGSEGV (status 139)', () => {
    const { scheduler, port, harts, processes: [faulter] } = rig(1, [LOAD_NULL]);
    // Sv32 with a root table of zeros: every access is a page fault.
    faulter!.context[34] = ((1 << 31) | ((RAM_BASE + 0x8000) >>> 12)) | 0;
    scheduler.step(harts[0]!);
    expect(port.faults).toEqual([{ pid: faulter!.pid, address: RAM_BASE, access: 'fetch' }]);
    expect(faulter!.blockedOn).toEqual({ kind: 'fault', address: RAM_BASE });
    scheduler.faultHandled(faulter!.pid, false);
    expect(port.exits).toEqual([{ pid: faulter!.pid, status: 139, signal: Signal.SIGSEGV }]);
  });

  it('kills an illegal instruction with SIGILL (132) and takes exit from the process server', () => {
    const { scheduler, port, harts, processes: [illegal, caller] } = rig(1, [ILLEGAL, GETPID_LOOP]);
    scheduler.step(harts[0]!);
    scheduler.step(harts[0]!);
    scheduler.exit(caller!.pid, 300);
    expect(port.exits).toEqual([
      { pid: illegal!.pid, status: 132, signal: Signal.SIGILL },
      { pid: caller!.pid, status: 300 & 0xff, signal: undefined },
    ]);
    expect(scheduler.step(harts[0]!)).toBe('idle');
  });

  it('kills a process blocked in a system call at once and drops the late reply', () => {
    const { scheduler, timer, port, harts, processes: [victim] } = rig(1, [GETPID_LOOP]);
    scheduler.step(harts[0]!);
    scheduler.kill(victim!.pid, Signal.SIGKILL);
    expect(port.exits).toEqual([{ pid: victim!.pid, status: 137, signal: Signal.SIGKILL }]);
    scheduler.reply(victim!.pid, 0);
    expect(scheduler.runnable).toEqual([]);
    expect(timer.software).toEqual([false]);
  });
});

describe('Scheduler kill of a running process', () => {
  it('ends it at its next trap, which the software interrupt forces, and clears the interrupt', () => {
    const { scheduler, timer, port, harts, processes: [victim, other] } = rig(1, [SPIN, SPIN], 1_000);
    // The kill comes while the hart runs, as from another thread: at the timer's third look.
    const look = timer.pendingInterrupts.bind(timer);
    let looks = 0;
    timer.pendingInterrupts = (hart: number) => {
      if (++looks === 3) scheduler.kill(victim!.pid, Signal.SIGKILL);
      return look(hart);
    };
    expect(scheduler.step(harts[0]!)).toBe('ran');
    expect(port.exits).toEqual([{ pid: victim!.pid, status: 137, signal: Signal.SIGKILL }]);
    expect(timer.software).toEqual([false]);
    expect(scheduler.runnable).toEqual([other]);
    expect(scheduler.preemptions).toBe(0);
  });
});

describe('UserProcessTable', () => {
  it('numbers processes from 1, refuses past its limit, keeps an exited process until reaped', () => {
    const table = new UserProcessTable(2);
    const start = { ppid: 0, commandLine: ['/bin/x', 'a'], entry: 0x1_0000, stackPointer: 0x7fff_fff0, satp: 0 };
    const first = table.create(start, 0)!, second = table.create(start, 0)!;
    expect([first.pid, second.pid]).toEqual([1, 2]);
    expect(table.create(start, 0)).toBeUndefined();
    expect(table.reap(first.pid)).toBeUndefined();
    first.state = 'exited';
    expect(table.reap(first.pid)).toBe(first);
    expect(table.create(start, 0)!.pid).toBe(3);
    expect(table.rows()[0]).toEqual({ pid: 2, ppid: 0, state: 'runnable', cpuTicks: 0, instructions: 0, commandLine: '/bin/x a' });
    expect(second.register(2)).toBe(0x7fff_fff0);
  });
});
