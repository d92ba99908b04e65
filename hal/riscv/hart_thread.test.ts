// A hart on its own thread (the compiled hart_thread_main.js): runs a context the kernel
// wrote into the shared state, returns its traps, is preempted by its timer and by a kick,
// parks between requests, and stops. Waits are on the thread's answers, never on time.

import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../clock.js';
import { Ram } from '../ram.js';
import { MachineTimer } from '../timer.js';
import { HartThread } from './hart_thread.js';
import { asm, program, reg } from './testing/assembler.js';
import { Exception, Interrupt } from './trap.js';

const entry = new URL('../../build/hal/riscv/hart_thread_main.js', import.meta.url);
const { a0, a1, a7 } = reg;
let started: HartThread[] = [];

afterEach(async () => {
  await Promise.all(started.map((thread) => thread.stop()));
  started = [];
});

function setUp(code: number[]) {
  const ram = Ram.allocate(1 << 20);
  ram.write(ram.base, program(code));
  const timer = new MachineTimer(new Clock(), 2);
  const thread = new HartThread({ hartId: 1, ram: ram.descriptor, timer: timer.descriptor, entry });
  started.push(thread);
  thread.state.pc = ram.base;
  return { ram, timer, thread };
}

describe('HartThread', () => {
  it('HartThread runs the shared context to its ecalls; the kernel answers and resumes it', async () => {
    // Three ecalls, each with a7 = 64 and a0 = the number of ecalls so far; then ebreak. The kernel adds 100 to a2 per call.
    const { thread } = setUp([asm.addi(a7, 0, 64), asm.addi(a1, 0, 3), asm.ecall(), asm.addi(a0, a0, 1), asm.blt(a0, a1, -8), asm.ebreak()]);
    const calls: number[] = [];
    for (;;) {
      const trap = await thread.run(1_000_000);
      if (trap.cause !== Exception.EcallFromUser) {
        expect(trap.cause).toBe(Exception.Breakpoint);
        break;
      }
      expect(thread.state.register(a7)).toBe(64);
      calls.push(thread.state.register(a0));
      thread.state.setRegister(reg.a2, thread.state.register(reg.a2) + 100); // the "system call" result
      thread.state.pc = trap.epc + 4;
    }
    expect(calls).toEqual([0, 1, 2]);
    expect(thread.state.register(reg.a2)).toBe(300);
    expect(thread.state.instret).toBe(8); // the ecalls do not retire
  });

  it('HartThread is preempted by its timer and by a kick while spinning, and serves fence and code invalidation in between', async () => {
    const { timer, thread } = setUp([asm.jal(0, 0)]);
    timer.setAlarm(1, 2000);
    const timed = await thread.run(Number.MAX_SAFE_INTEGER);
    expect({ kind: timed.kind, cause: timed.cause }).toEqual({ kind: 'interrupt', cause: Interrupt.SupervisorTimer });
    timer.setCompare(1, Number.POSITIVE_INFINITY);
    const running = thread.run(Number.MAX_SAFE_INTEGER);
    thread.kick();
    const kicked = await running;
    expect({ kind: kicked.kind, cause: kicked.cause }).toEqual({ kind: 'interrupt', cause: Interrupt.SupervisorSoftware });
    timer.setSoftware(1, false);
    await thread.fence();
    await thread.invalidateCode(0x8000_0000, 4096);
    expect((await thread.run(1000)).kind).toBe('budget');
  });

  it('HartThread refuses a second request while one runs', async () => {
    const { thread } = setUp([asm.jal(0, 0)]);
    const running = thread.run(Number.MAX_SAFE_INTEGER);
    await expect(thread.run(10)).rejects.toThrow(/busy/);
    thread.kick();
    expect((await running).cause).toBe(Interrupt.SupervisorSoftware);
  });
});
