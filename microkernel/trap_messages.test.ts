// The TrapPort as messages, on real hart threads: ecalls become process.systemCall calls whose
// replies resume the process or end it, a page fault becomes memory.translate on behalf of the
// space's owner (no page: SIGSEGV, status 139, reported with process.exited), and a refused
// system call ends the process with SIGSYS. The two services are answered by handler objects
// shaped as the clients (the IPC itself is tested in ipc/).

import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../hal/clock.js';
import { Ram } from '../hal/ram.js';
import { HartThread } from '../hal/riscv/hart_thread.js';
import { asm, program, reg } from '../hal/riscv/testing/assembler.js';
import { makeSatp } from '../hal/riscv/sv32.js';
import { MachineTimer } from '../hal/timer.js';
import { HartLoops } from './hart_loops.js';
import { Scheduler } from './scheduler.js';
import { SIGSYS, trapMessages, type MemoryMessages, type ProcessMessages } from './trap_messages.js';
import { UserProcessTable } from './user_processes.js';

const entry = new URL('../build/hal/riscv/hart_thread_main.js', import.meta.url);
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

// getpid (172) three times into s1, then exit_group(s1) (94).
const CALLER = [asm.addi(reg.s0, 0, 3), asm.addi(reg.a7, 0, 172), asm.ecall(), asm.add(reg.s1, reg.s1, reg.a0), asm.addi(reg.s0, reg.s0, -1),
  asm.bne(reg.s0, 0, -12), asm.addi(reg.a0, reg.s1, 0), asm.addi(reg.a7, 0, 94), asm.ecall()];
const UNSERVED = [asm.addi(reg.a7, 0, 999), asm.ecall()];

describe('trapMessages', () => {
  it('sends system calls to the process server and faults to the memory server, resuming or ending each process by the reply', async () => {
    const ram = Ram.allocate(1 << 20);
    const timer = new MachineTimer(new Clock(), 1);
    const table = new UserProcessTable(8);
    const calls: Array<{ pid: number; number: number }> = [], translations: unknown[] = [], exited: unknown[] = [], warnings: string[] = [];
    const processes: ProcessMessages = {
      systemCall: async ({ pid, number }) => {
        calls.push({ pid, number });
        if (number === 999) throw Object.assign(new Error('no such call here'), { code: 'EPERM' });
        return number === 94 ? { outcome: 'exit', status: 42 } : { outcome: 'reply', value: 7 };
      },
      exited: async (ending) => { exited.push(ending); return {}; },
    };
    const memory: MemoryMessages = { translate: async (args) => { translations.push(args); return { fault: { cause: 13, reason: 'unmapped', description: 'no page' } }; } };
    const scheduler: Scheduler = new Scheduler(table, timer, trapMessages(() => scheduler, processes, memory, (pid) => ({ space: 100 + pid, owner: 'process' }), { warn: (message: string) => warnings.push(message) } as never), { sliceTicks: 10_000 });
    const thread = new HartThread({ hartId: 0, ram: ram.descriptor, timer: timer.descriptor, entry });
    const loops = new HartLoops(scheduler, [thread]);
    cleanup.push(async () => { await loops.stop(); await thread.stop(); });
    // The second runs in an Sv32 space whose root table (a zeroed page) maps nothing: its first fetch faults.
    const emptyRoot = ram.base + 8 * 4096;
    const started = [CALLER, [], UNSERVED].map((code, slot) => {
      ram.write(ram.base + slot * 4096, program(code));
      const satp = slot === 1 ? makeSatp(emptyRoot, 1) : 0;
      const process = table.create({ ppid: 0, commandLine: [`p${slot}`], entry: slot === 1 ? 0x1_0000 : ram.base + slot * 4096, stackPointer: 0, satp }, 0)!;
      scheduler.admit(process);
      return process;
    });
    loops.start();
    await loops.whenIdle();
    const [caller, faulting, unserved] = started;
    expect(caller!.exitStatus).toBe(42);
    expect(caller!.register(reg.s1)).toBe(21);
    expect(calls.filter(({ pid }) => pid === caller!.pid).map(({ number }) => number)).toEqual([172, 172, 172, 94]);
    expect(faulting!.exitStatus).toBe(139);
    expect(translations).toEqual([{ space: 100 + faulting!.pid, va: 0x1_0000, access: 'execute', resolve: true, onBehalfOf: 'process' }]);
    expect(unserved!.exitStatus).toBe(128 + SIGSYS);
    expect(exited).toEqual([{ pid: faulting!.pid, status: 139, signal: 11 }, { pid: unserved!.pid, status: 128 + SIGSYS, signal: SIGSYS }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('system call 999');
  });
});
