// The CLINT timer: its register model, pending bits, parking (Atomics.wait) until the timer
// fires, and preempting a running hart. Waits are on events (the timer firing), never on a
// measured time.

import { describe, expect, it } from 'vitest';
import { Clock } from './clock.js';
import { Hart } from './riscv/hart.js';
import { asm } from './riscv/testing/assembler.js';
import { bare } from './riscv/testing/bare.js';
import { Interrupt } from './riscv/trap.js';
import { MTIMECMP_OFFSET, MTIME_OFFSET, MachineTimer, SOFTWARE_PENDING, TIMER_PENDING } from './timer.js';

describe('MachineTimer', () => {
  it('MachineTimer resets mtimecmp to all ones, so no timer interrupt is pending', () => {
    const timer = new MachineTimer(new Clock(), 2);
    expect(timer.read32(MTIMECMP_OFFSET)).toBe(0xffff_ffff);
    expect(timer.read32(MTIMECMP_OFFSET + 12)).toBe(0xffff_ffff);
    expect(timer.pendingInterrupts(0)).toBe(0);
  });

  it('MachineTimer registers: mtimecmp halves per hart, msip bit 0, mtime counting and read-only', () => {
    const timer = new MachineTimer(new Clock(), 2);
    timer.write32(MTIMECMP_OFFSET + 8, 5);
    timer.write32(MTIMECMP_OFFSET + 12, 0);
    expect(timer.compare(1)).toBe(5);
    expect(timer.compare(0)).toBe(Number.POSITIVE_INFINITY);
    timer.write32(4, 0xffff_ffff);
    expect([timer.read32(0), timer.read32(4)]).toEqual([0, 1]);
    const before = timer.read32(MTIME_OFFSET);
    timer.write32(MTIME_OFFSET, 0);
    expect(timer.read32(MTIME_OFFSET)).toBeGreaterThanOrEqual(before);
    expect(timer.read32(MTIME_OFFSET + 4)).toBe(0);
    expect(timer.pendingInterrupts(1)).toBe(SOFTWARE_PENDING | TIMER_PENDING);
    expect(timer.pendingInterrupts(0)).toBe(0);
    expect(() => timer.pendingInterrupts(2)).toThrow(/no hart 2/);
  });

  it('MachineTimer.park returns at once when an enabled interrupt is pending, else when the timer fires', () => {
    const timer = new MachineTimer(new Clock(), 1);
    timer.setSoftware(0, true);
    expect(timer.park(0, SOFTWARE_PENDING)).toBe(SOFTWARE_PENDING);
    expect(timer.park(0, TIMER_PENDING, 1)).toBe(0); // software pending but not enabled: waits out the limit
    timer.setSoftware(0, false);
    timer.setAlarm(0, 2000);
    let pending = 0;
    while (pending === 0) pending = timer.park(0, TIMER_PENDING);
    expect(pending).toBe(TIMER_PENDING);
    expect(timer.mtime()).toBeGreaterThanOrEqual(timer.compare(0));
  });

  it('MachineTimer attached in another view shares the registers', () => {
    const timer = new MachineTimer(new Clock(), 2);
    const other = MachineTimer.attach(timer.descriptor);
    other.setCompare(1, 42);
    expect(timer.compare(1)).toBe(42);
  });

  it('the timer preempts a hart spinning in a loop with a supervisor timer interrupt', () => {
    const timer = new MachineTimer(new Clock(), 1);
    const machine = bare([asm.jal(0, 0)], { interrupts: timer });
    expect(machine.hart).toBeInstanceOf(Hart);
    timer.setAlarm(0, 1000);
    const trap = machine.run(Number.MAX_SAFE_INTEGER);
    expect({ kind: trap.kind, cause: trap.cause }).toEqual({ kind: 'interrupt', cause: Interrupt.SupervisorTimer });
    timer.setCompare(0, Number.POSITIVE_INFINITY); // the kernel's handler moves the deadline; the hart runs on
    expect(machine.run(10_000).kind).toBe('budget');
  });
});
