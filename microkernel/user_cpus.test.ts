// The scheduling service on real hart threads: the process server admits a program in an Sv32
// space (a 4 MiB superpage here), its system calls come back as process.systemCall messages,
// list shows its instructions and state, reap removes it, and a caller that is not the process
// server is refused. Waits are on events (the process server's answers), never on time.

import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../hal/clock.js';
import { Ram } from '../hal/ram.js';
import { asm, program, reg } from '../hal/riscv/testing/assembler.js';
import { MachineTimer } from '../hal/timer.js';
import type { CallContext } from '../ipc/define.js';
import type { ProcessMessages } from './trap_messages.js';
import { UserCpus } from './user_cpus.js';

const hartEntry = new URL('../build/hal/riscv/hart_thread_main.js', import.meta.url);
let started: UserCpus[] = [];
afterEach(async () => {
  await Promise.all(started.map((cpus) => cpus.stop()));
  started = [];
});

// getpid (172) three times into s1, then exit_group(s1) (94).
const CALLER = [asm.addi(reg.s0, 0, 3), asm.addi(reg.a7, 0, 172), asm.ecall(), asm.add(reg.s1, reg.s1, reg.a0), asm.addi(reg.s0, reg.s0, -1),
  asm.bne(reg.s0, 0, -12), asm.addi(reg.a0, reg.s1, 0), asm.addi(reg.a7, 0, 94), asm.ecall()];
const VIRTUAL = 0x0040_0000;
const fromProcessServer: CallContext = { channelId: 1, clientSlot: 5, clientName: 'process' };

describe('UserCpus', () => {
  it('runs an admitted process on the hart threads, lists it, reaps it, and refuses other callers', async () => {
    const ram = Ram.allocate(8 << 20, 0x8000_0000);
    ram.write(ram.base, program(CALLER));
    const root = ram.base + (4 << 20);
    ram.fill(root, 4096, 0);
    // A user RWX superpage (V R W X U A D) mapping VIRTUAL to the start of RAM.
    ram.writeU32(root + 4 * (VIRTUAL >>> 22), (((ram.base >>> 12) << 10) | 0xdf) >>> 0);
    const ended = new Map<number, (status: number) => void>();
    const processes: ProcessMessages = {
      systemCall: async ({ pid, number, args }) => {
        if (number !== 94) return { outcome: 'reply', value: 7 };
        queueMicrotask(() => ended.get(pid)?.(args[0]!));
        return { outcome: 'exit', status: args[0]! & 0xff };
      },
      exited: async () => ({}),
    };
    const cpus = new UserCpus({
      ram: ram.descriptor, timer: new MachineTimer(new Clock(), 2), processes, memory: { translate: async () => ({}) },
      log: { warn: () => {} } as never, processServer: 'process', hartEntry,
    });
    started.push(cpus);
    const handlers = cpus.handlers();
    const request = { ppid: 0, commandLine: ['/bin/caller', 'x'], entry: VIRTUAL, stackPointer: 0, space: 3, root, asid: 1 };
    expect(() => handlers.admit!(request, { channelId: 2, clientSlot: 6, clientName: 'console' })).toThrow(/only process runs processes/);
    expect(cpus.idle).toBe(true);
    const done = new Promise<number>((resolve) => ended.set(1, resolve));
    const { pid } = await handlers.admit!(request, fromProcessServer);
    expect(pid).toBe(1);
    expect(await done).toBe(21);
    const [row] = (await handlers.list!({}, fromProcessServer)).rows;
    expect(row).toMatchObject({ pid: 1, ppid: 0, state: 'exited', instructions: 3 * 3 + 4, commandLine: '/bin/caller x', exitStatus: 21 });
    expect(row!.cpuMs).toBeGreaterThanOrEqual(0);
    await handlers.reap!({ pid }, fromProcessServer);
    expect((await handlers.list!({}, fromProcessServer)).rows).toEqual([]);
    expect(() => handlers.kill!({ pid, signal: 9 }, fromProcessServer)).toThrow(/no process 1/);
  });
});
