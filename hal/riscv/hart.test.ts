// The hart, instruction by instruction: the unprivileged spec's edge cases and each trap
// cause, run both interpreted and through the block compiler (every block compiled on its
// first execution), in bare mode. Address translation is in sv32.test.ts.

import { describe, expect, it } from 'vitest';
import { AMO, asm, reg } from './testing/assembler.js';
import { DATA, MODES, RAM_BASE, bare } from './testing/bare.js';
import { Csr } from './csr.js';
import { Exception, INTERRUPT_FLAG, Interrupt } from './trap.js';
import { Word } from './state.js';

const { a0, a1, a2, a3, a4, a5, t0, t1, t2 } = reg;
const EBREAK = asm.ebreak();
/** lui+addi pair loading a 32-bit constant. */
const li = (rd: number, value: number): number[] => {
  const low = (value << 20) >> 20, high = ((value - low) >>> 12) & 0xfffff;
  return [asm.lui(rd, high), asm.addi(rd, rd, low)];
};

for (const { name, options } of MODES) {
  describe(`Hart (${name})`, () => {
    const binary = (op: (rd: number, rs1: number, rs2: number) => number, a: number, b: number): number => {
      const machine = bare([op(a2, a0, a1), EBREAK], options, { [a0]: a, [a1]: b });
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      return machine.signed(a2);
    };

    it('div, divu, rem, remu give the spec results for division by zero and overflow', () => {
      const MIN = -0x8000_0000;
      expect(binary(asm.div, 7, 0)).toBe(-1);
      expect(binary(asm.divu, 7, 0)).toBe(-1);
      expect(binary(asm.rem, 7, 0)).toBe(7);
      expect(binary(asm.remu, -7, 0)).toBe(-7);
      expect(binary(asm.div, MIN, -1)).toBe(MIN);
      expect(binary(asm.rem, MIN, -1)).toBe(0);
      expect(binary(asm.div, -7, 2)).toBe(-3);
      expect(binary(asm.rem, -7, 2)).toBe(-1);
      expect(binary(asm.divu, -1, 2)).toBe(0x7fff_ffff);
      expect(binary(asm.remu, -1, 10)).toBe(5);
    });

    it('mul, mulh, mulhsu, mulhu give the low and high words of 64-bit products', () => {
      const cases: Array<[number, number]> = [[-1, -1], [-0x8000_0000, -0x8000_0000], [0x7fff_ffff, -1], [123456789, 987654321], [-5, 3], [0, -1]];
      for (const [a, b] of cases) {
        const product = BigInt(a) * BigInt(b);
        const unsigned = BigInt(a >>> 0) * BigInt(b >>> 0);
        const mixed = BigInt(a) * BigInt(b >>> 0);
        expect(binary(asm.mul, a, b)).toBe(Number(BigInt.asIntN(32, product)));
        expect(binary(asm.mulh, a, b)).toBe(Number(BigInt.asIntN(32, product >> 32n)));
        expect(binary(asm.mulhu, a, b)).toBe(Number(BigInt.asIntN(32, unsigned >> 32n)));
        expect(binary(asm.mulhsu, a, b)).toBe(Number(BigInt.asIntN(32, mixed >> 32n)));
      }
    });

    it('register shifts use the low 5 bits of rs2; srai and sra keep the sign', () => {
      expect(binary(asm.sll, 1, 33)).toBe(2);
      expect(binary(asm.srl, -1, 32 + 28)).toBe(15);
      expect(binary(asm.sra, -0x8000_0000, 63)).toBe(-1);
      const machine = bare([asm.srai(a1, a0, 4), asm.srli(a2, a0, 4), asm.slli(a3, a0, 31), EBREAK], options, { [a0]: -256 });
      machine.run();
      expect([machine.signed(a1), machine.reg(a2), machine.signed(a3)]).toEqual([-16, 0x0fff_fff0, 0]);
    });

    it('slt, sltu, slti, sltiu compare signed and unsigned; sltiu with 1 is seqz', () => {
      expect(binary(asm.slt, -1, 0)).toBe(1);
      expect(binary(asm.sltu, -1, 0)).toBe(0);
      const machine = bare([asm.slti(a1, a0, 0), asm.sltiu(a2, a0, -1), asm.sltiu(a3, 0, 1), asm.sltiu(a4, a0, 1), EBREAK], options, { [a0]: -5 });
      machine.run();
      expect([machine.reg(a1), machine.reg(a2), machine.reg(a3), machine.reg(a4)]).toEqual([1, 1, 1, 0]);
    });

    it('narrow loads sign- or zero-extend; lui and auipc place the upper immediate', () => {
      const machine = bare([...li(t0, DATA), asm.lb(a0, t0, 0), asm.lbu(a1, t0, 0), asm.lh(a2, t0, 0), asm.lhu(a3, t0, 0),
        asm.lui(a4, 0xfffff), asm.auipc(a5, 1), EBREAK], options);
      machine.ram.write(DATA, Uint8Array.of(0x80, 0xff));
      machine.run();
      expect([machine.signed(a0), machine.reg(a1), machine.signed(a2), machine.reg(a3)]).toEqual([-128, 0x80, -128, 0xff80]);
      expect(machine.reg(a4)).toBe(0xffff_f000);
      expect(machine.reg(a5)).toBe(RAM_BASE + 28 + 0x1000);
    });

    it('x0 stays zero whatever is written to it', () => {
      const machine = bare([asm.addi(0, 0, 5), asm.lui(0, 1), asm.add(a0, 0, 0), asm.jal(0, 4), EBREAK], options);
      machine.run();
      expect([machine.reg(0), machine.reg(a0)]).toEqual([0, 0]);
    });

    it('branches take and fall through by signed and unsigned order; jalr clears bit 0 and links', () => {
      // a2 counts taken branches: each taken branch skips the following addi a3.
      const taken = (branch: number) => [branch, asm.addi(a3, a3, 1), asm.addi(a2, a2, 1)];
      const code = [
        ...taken(asm.beq(a0, a0, 8)), ...taken(asm.bne(a0, a1, 8)), ...taken(asm.blt(a1, a0, 8)),
        ...taken(asm.bge(a0, a1, 8)), ...taken(asm.bltu(a0, a1, 8)), ...taken(asm.bgeu(a1, a0, 8)),
        ...taken(asm.blt(a0, a1, 8)), ...taken(asm.bltu(a1, a0, 8)),
        asm.auipc(t0, 0), asm.addi(t0, t0, 17), asm.jalr(t1, t0, 0), asm.addi(a4, a4, 1), EBREAK,
      ];
      const machine = bare(code, options, { [a0]: 1, [a1]: -1 });
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      expect(machine.reg(a2)).toBe(8);
      expect(machine.reg(a3)).toBe(2);
      expect(machine.reg(t1)).toBe(RAM_BASE + 8 * 12 + 12);
      expect(machine.reg(a4)).toBe(0); // jumped to auipc + 16 (17 with bit 0 cleared), past the addi
    });

    it('misaligned loads and stores are emulated, across a page boundary too', () => {
      const boundary = DATA + 0x1000 - 2;
      const machine = bare([...li(t0, boundary), ...li(a1, 0x11223344), asm.sw(a1, t0, 0), asm.lw(a0, t0, 0),
        asm.lh(a2, t0, 1), asm.lhu(a3, t0, -1), asm.sh(a1, t0, 1), EBREAK], options);
      machine.ram.writeU8(boundary - 1, 0xee);
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      expect(machine.reg(a0)).toBe(0x11223344);
      expect(machine.ram.readU32(boundary)).toBe(0x11334444);
      expect(machine.signed(a2)).toBe(0x2233);
      expect(machine.reg(a3)).toBe(0x44ee);
    });

    it('lr.w/sc.w: sc succeeds on the reserved word, fails without a reservation and after a trap', () => {
      const code = [...li(t0, DATA), ...li(a1, 77),
        asm.lrW(a0, t0), asm.scW(a2, t0, a1), // succeeds: a2 = 0
        asm.scW(a3, t0, a0), // no reservation: fails, a3 = 1
        asm.lrW(a4, t0), asm.ecall(), asm.scW(a5, t0, a0), // trap in between: fails
        EBREAK];
      const machine = bare(code, options);
      machine.ram.writeU32(DATA, 5);
      const ecall = machine.run();
      expect(ecall.cause).toBe(Exception.EcallFromUser);
      machine.hart.state.pc = ecall.epc + 4;
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      expect([machine.reg(a0), machine.reg(a2), machine.reg(a3), machine.reg(a4), machine.reg(a5)]).toEqual([5, 0, 1, 77, 1]);
      expect(machine.ram.readU32(DATA)).toBe(77);
    });

    it('AMOs return the old word and store the operation on it', () => {
      const results: Record<string, [number, number]> = {};
      for (const [operation, funct5] of Object.entries(AMO)) {
        const machine = bare([...li(t0, DATA), asm.amo(funct5, a0, t0, a1), EBREAK], options, { [a1]: -3 });
        machine.ram.writeU32(DATA, 10);
        machine.run();
        results[operation] = [machine.signed(a0), machine.ram.view.getInt32(DATA - RAM_BASE, true)];
      }
      expect(results).toEqual({
        swap: [10, -3], add: [10, 7], xor: [10, 10 ^ -3], and: [10, 10 & -3], or: [10, 10 | -3],
        min: [10, -3], max: [10, 10], minu: [10, 10], maxu: [10, -3],
      });
    });

    it('misaligned LR traps as a load, misaligned SC and AMOs as a store (cause 4, 6; tval the address)', () => {
      for (const [code, cause] of [[asm.lrW(a0, t0), Exception.LoadMisaligned], [asm.scW(a0, t0, a1), Exception.StoreMisaligned],
        [asm.amo(AMO.add, a0, t0, a1), Exception.StoreMisaligned]] as const) {
        const machine = bare([code], options, { [t0]: DATA + 2 });
        const trap = machine.run();
        expect({ cause: trap.cause, tval: trap.tval, epc: trap.epc }).toEqual({ cause, tval: DATA + 2, epc: RAM_BASE });
      }
    });

    it('ecall, ebreak, c.ebreak and illegal instructions trap with cause, epc and tval; sepc/scause/stval match', () => {
      const cases = [
        { code: [asm.addi(a0, 0, 1), asm.ecall()], cause: Exception.EcallFromUser, epc: RAM_BASE + 4, tval: 0 },
        { code: [EBREAK], cause: Exception.Breakpoint, epc: RAM_BASE, tval: RAM_BASE },
        { code: [{ c: 0x0001 }, { c: 0x9002 }], cause: Exception.Breakpoint, epc: RAM_BASE + 2, tval: RAM_BASE + 2 },
        { code: [asm.wfi()], cause: Exception.IllegalInstruction, epc: RAM_BASE, tval: asm.wfi() },
        { code: [{ c: 0x0000 }], cause: Exception.IllegalInstruction, epc: RAM_BASE, tval: 0 },
        { code: [{ c: 0x0001 }, { c: 0x2000 }], cause: Exception.IllegalInstruction, epc: RAM_BASE + 2, tval: 0x2000 },
        { code: [asm.csrrw(a0, Csr.Cycle, a1)], cause: Exception.IllegalInstruction, epc: RAM_BASE, tval: asm.csrrw(a0, Csr.Cycle, a1) },
        { code: [asm.csrrs(a0, 0x100, 0)], cause: Exception.IllegalInstruction, epc: RAM_BASE, tval: asm.csrrs(a0, 0x100, 0) },
      ];
      for (const { code, cause, epc, tval } of cases) {
        const machine = bare(code, options);
        const trap = machine.run();
        expect({ kind: trap.kind, cause: trap.cause, epc: trap.epc, tval: trap.tval }).toEqual({ kind: 'exception', cause, epc, tval });
        const words = machine.hart.state;
        expect([words.sepc, words.scause, words.stval, words.pc]).toEqual([epc, cause, tval, epc]);
      }
    });

    it('a load or store outside RAM (MMIO is not reachable from U-mode) is a load or store access fault', () => {
      for (const [code, cause] of [[asm.lw(a0, t0, 4), Exception.LoadAccessFault], [asm.sh(a0, t0, 4), Exception.StoreAccessFault]] as const) {
        const machine = bare([code], options, { [t0]: 0x1000_1000 });
        expect(machine.run()).toMatchObject({ kind: 'exception', cause, tval: 0x1000_1004, epc: RAM_BASE });
      }
    });

    it('the time CSR reads the interrupt source\'s mtime, both halves', () => {
      const interrupts = { pendingInterrupts: () => 0, mtime: () => 5 * 2 ** 32 + 1234 };
      const machine = bare([asm.csrrs(a0, Csr.Time, 0), asm.csrrs(a1, Csr.TimeHigh, 0), EBREAK], { ...options, interrupts });
      machine.run();
      expect([machine.reg(a0), machine.reg(a1)]).toEqual([1234, 5]);
    });

    it('an instruction fetch outside RAM is an instruction access fault', () => {
      const machine = bare([...li(t0, 0x1000_0000), asm.jalr(0, t0, 0)], options);
      const trap = machine.run();
      expect({ cause: trap.cause, epc: trap.epc, tval: trap.tval }).toEqual({ cause: Exception.InstructionAccessFault, epc: 0x1000_0000, tval: 0x1000_0000 });
    });

    it('instret and cycle count retired instructions; the trapping instruction does not retire', () => {
      const machine = bare([asm.addi(a1, 0, 1), asm.addi(a1, a1, 1), asm.csrrs(a0, Csr.Instret, 0), asm.csrrs(a2, Csr.InstretHigh, 0), asm.csrrsi(a3, Csr.Cycle, 0), EBREAK], options);
      const trap = machine.run();
      expect([machine.reg(a0), machine.reg(a2), machine.reg(a3)]).toEqual([2, 0, 4]);
      expect(trap.retired).toBe(5);
      expect(machine.hart.state.instret).toBe(5);
    });

    it('run(budget) stops after the budget (at a block boundary) and resumes where it stopped', () => {
      // a0 counts to 1000 in a loop of two instructions.
      const machine = bare([asm.addi(a0, a0, 1), asm.blt(a0, a1, -4), EBREAK], options, { [a1]: 1000 });
      const first = machine.run(100);
      expect(first.kind).toBe('budget');
      expect(first.retired).toBeGreaterThanOrEqual(100);
      expect(first.retired).toBeLessThan(100 + 64);
      let total = first.retired, trap = first;
      while (trap.kind === 'budget') total += (trap = machine.run(100)).retired;
      expect(trap.cause).toBe(Exception.Breakpoint);
      expect(machine.reg(a0)).toBe(1000);
      expect(total).toBe(2000);
    });

    it('a 32-bit instruction straddling a page end is fetched from both pages', () => {
      const page = RAM_BASE + 0x1000;
      const machine = bare([...li(t0, page - 2), asm.jalr(0, t0, 0)], options);
      const addi = asm.addi(a0, 0, 42);
      machine.ram.writeU16(page - 2, addi & 0xffff);
      machine.ram.writeU16(page, addi >>> 16);
      machine.ram.writeU32(page + 2, EBREAK);
      expect(machine.run().epc).toBe(page + 2);
      expect(machine.reg(a0)).toBe(42);
    });

    it('code rewritten by the program runs after fence.i, and its compiled block is dropped', () => {
      // A loop calls a function at `target` whose first instruction the program rewrites from
      // "addi a0, a0, 1" to "addi a0, a0, 100" after 20 calls.
      const target = RAM_BASE + 0x800;
      const code = [
        ...li(t0, target), ...li(t2, asm.addi(a0, a0, 100)), asm.addi(a2, 0, 20),
        asm.jalr(reg.ra, t0, 0), asm.addi(a1, a1, 1), asm.blt(a1, a2, -8), // 20 calls
        asm.sw(t2, t0, 0), asm.fenceI(), asm.jalr(reg.ra, t0, 0), EBREAK,
      ];
      const machine = bare(code, options);
      machine.ram.writeU32(target, asm.addi(a0, a0, 1));
      machine.ram.writeU32(target + 4, asm.jalr(0, reg.ra, 0));
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      expect(machine.reg(a0)).toBe(120);
    });

    it('code the kernel rewrites while the hart is stopped (no invalidation, no fence.i) runs when it resumes', () => {
      // Loop: addi a0 (the instruction rewritten), ecall, repeat.
      const machine = bare([asm.addi(a1, a1, 1), asm.addi(a0, a0, 1), asm.ecall(), asm.jal(0, -8)], options); // the loop starts mid-page
      for (let round = 0; round < 20; round++) {
        const trap = machine.run();
        expect(trap.cause).toBe(Exception.EcallFromUser);
        machine.hart.state.pc = trap.epc + 4;
      }
      expect(machine.reg(a0)).toBe(20);
      if (options.mode === 'compile') expect(machine.hart.compiledBlocks).toBeLessThanOrEqual(3); // unchanged code stays compiled across runs
      machine.ram.writeU32(RAM_BASE + 4, asm.addi(a0, a0, 1000)); // a write from outside the hart
      const trap = machine.run();
      expect(trap.cause).toBe(Exception.EcallFromUser);
      expect(machine.reg(a0)).toBe(1020);
    });

    it('a pending enabled interrupt traps between blocks with the interrupt bit in scause; a masked one waits', () => {
      let pending = 0;
      const interrupts = { pendingInterrupts: () => pending, mtime: () => 1234 };
      const machine = bare([asm.addi(a0, a0, 1), asm.jal(0, -4)], { ...options, interrupts });
      expect(machine.run(1000).kind).toBe('budget');
      pending = 1 << Interrupt.SupervisorTimer;
      const trap = machine.run(1000);
      expect({ kind: trap.kind, cause: trap.cause, scause: trap.scause }).toEqual({ kind: 'interrupt', cause: Interrupt.SupervisorTimer, scause: (INTERRUPT_FLAG | 5) >>> 0 });
      expect([RAM_BASE, RAM_BASE + 4]).toContain(trap.epc);
      expect(machine.hart.state.scause).toBe(0x8000_0005);
      machine.hart.state.words[Word.Sie] = 0;
      expect(machine.run(1000).kind).toBe('budget');
    });

    it('a saved context resumes exactly after another program ran on the hart', () => {
      const machine = bare([asm.addi(a0, a0, 3), asm.blt(a0, a1, -4), EBREAK], options, { [a1]: 3000 });
      machine.run(50);
      const saved = machine.hart.state.save();
      machine.hart.state.setRegister(a0, -100);
      machine.hart.state.pc = RAM_BASE + 8;
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      machine.hart.restoreContext(saved);
      expect(machine.run().cause).toBe(Exception.Breakpoint);
      expect(machine.reg(a0)).toBe(3000);
      expect(machine.hart.state.instret).toBe(2000); // the ebreak does not retire
    });
  });
}
