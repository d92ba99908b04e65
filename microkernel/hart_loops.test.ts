// The kernel's hart loops on real hart threads (HartThread) and the board's MachineTimer:
// processes' ecalls come back to the kernel's thread and are answered, a spinning process is
// preempted by the timer and killed while running, and once nothing is runnable every hart
// parks. Waits are on events (the loops' whenIdle, the port's exits), never on time.

import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../hal/clock.js';
import { Ram } from '../hal/ram.js';
import { HartThread } from '../hal/riscv/hart_thread.js';
import { asm, program, reg } from '../hal/riscv/testing/assembler.js';
import { MachineTimer } from '../hal/timer.js';
import { HartLoops } from './hart_loops.js';
import { Scheduler, Signal, type TrapPort } from './scheduler.js';
import { UserProcessTable, type UserProcess } from './user_processes.js';

const entry = new URL('../build/hal/riscv/hart_thread_main.js', import.meta.url);
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

// Ten ecalls with a7 = 172 (getpid) adding each answer into s1, then exit(s1 & 0xff) (a7 = 93):
// 34 instructions retire (an ecall does not).
const CALLER = [
  asm.addi(reg.s0, 0, 10), asm.addi(reg.a7, 0, 172), asm.ecall(), asm.add(reg.s1, reg.s1, reg.a0), asm.addi(reg.s0, reg.s0, -1),
  asm.bne(reg.s0, 0, -12), asm.addi(reg.a0, reg.s1, 0), asm.addi(reg.a7, 0, 93), asm.ecall(),
];
const SPIN = [asm.jal(0, 0)];

function rig(harts: number) {
  const ram = Ram.allocate(1 << 20);
  const timer = new MachineTimer(new Clock(), harts);
  const table = new UserProcessTable(8);
  const exits = new Map<number, (status: number) => void>();
  const ended = new Map<number, Promise<number>>();
  const port: TrapPort = {
    systemCall: (process, call) => {
      // Answered later, from the event loop, as an IPC reply would be.
      queueMicrotask(() => (call.number === 93 ? scheduler.exit(process.pid, call.args[0]) : scheduler.reply(process.pid, process.pid)));
    },
    pageFault: (process) => scheduler.faultHandled(process.pid, false),
    exited: (process) => exits.get(process.pid)?.(process.exitStatus!),
  };
  // A slice of 1 ms of the board's timer.
  const scheduler = new Scheduler(table, timer, port, { sliceTicks: 10_000 });
  const threads = Array.from({ length: harts }, (_, hartId) => new HartThread({ hartId, ram: ram.descriptor, timer: timer.descriptor, entry }));
  const loops = new HartLoops(scheduler, threads);
  cleanup.push(async () => { await loops.stop(); await Promise.all(threads.map((thread) => thread.stop())); });
  const admit = (code: number[], slot: number): UserProcess => {
    const at = ram.base + slot * 4096;
    ram.write(at, program(code));
    const process = table.create({ ppid: 0, commandLine: [`p${slot}`], entry: at, stackPointer: 0, satp: 0 }, timer.mtime())!;
    ended.set(process.pid, new Promise((resolve) => exits.set(process.pid, resolve)));
    scheduler.admit(process);
    return process;
  };
  return { scheduler, loops, threads, admit, ended };
}

describe('HartLoops', () => {
  it('runs processes on hart threads, answers their ecalls, kills a spinning one, and parks every hart when nothing is left', async () => {
    const { scheduler, loops, admit, ended } = rig(2);
    const callers = [admit(CALLER, 0), admit(CALLER, 1)];
    const spinner = admit(SPIN, 2);
    loops.start();
    const statuses = await Promise.all(callers.map((process) => ended.get(process.pid)!));
    expect(statuses).toEqual(callers.map((process) => (process.pid * 10) & 0xff));
    expect(callers.map((process) => process.instructions)).toEqual([34, 34]);
    scheduler.kill(spinner.pid, Signal.SIGKILL);
    expect(await ended.get(spinner.pid)!).toBe(128 + Signal.SIGKILL);
    await loops.whenIdle();
    expect(loops.failure).toBeUndefined();
    // Every loop awaits whenRunnable; each thread has answered its last request and waits in Atomics.wait for the next.
    expect(loops.idle).toBe(true);
  });

  it('wakes a parked hart for a process admitted later', async () => {
    const { loops, admit, ended } = rig(1);
    loops.start();
    await loops.whenIdle();
    const late = admit(CALLER, 0);
    expect(await ended.get(late.pid)!).toBe((late.pid * 10) & 0xff);
    await loops.whenIdle();
  });
});
