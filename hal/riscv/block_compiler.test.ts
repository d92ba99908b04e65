// The block compiler against the interpreter: random programs of ALU, M, load/store
// (aligned, misaligned, across a page end, faulting outside RAM), AMO, CSR and forward
// branch instructions end in the same registers, memory, retired count and trap, compiled
// (every block on its first execution) and interpreted. And the hart runs on state that
// lives in a SharedArrayBuffer.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AMO, asm } from './testing/assembler.js';
import { DATA, bare } from './testing/bare.js';
import { Csr } from './csr.js';
import { HartState, STATE_BYTES } from './state.js';
import { Hart } from './hart.js';
import { Ram } from '../ram.js';

const register = fc.integer({ min: 1, max: 15 });
const anyRegister = fc.integer({ min: 0, max: 15 });
const immediate = fc.integer({ min: -2048, max: 2047 });
const R_TYPES = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu'] as const;
const I_TYPES = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi'] as const;
const LOADS = ['lb', 'lh', 'lw', 'lbu', 'lhu'] as const;
const STORES = ['sb', 'sh', 'sw'] as const;

/** x15 holds the data address; offsets around it reach a page end (DATA + 0xffe.. is misaligned across it). */
const instruction = fc.oneof(
  fc.tuple(fc.constantFrom(...R_TYPES), register, anyRegister, anyRegister).map(([op, rd, a, b]) => asm[op](rd === 15 ? 14 : rd, a, b)),
  fc.tuple(fc.constantFrom(...I_TYPES), register, anyRegister, immediate).map(([op, rd, a, imm]) => asm[op](rd === 15 ? 14 : rd, a, imm)),
  fc.tuple(fc.constantFrom('slli', 'srli', 'srai'), register, anyRegister, fc.integer({ min: 0, max: 31 })).map(([op, rd, a, s]) => asm[op](rd === 15 ? 14 : rd, a, s)),
  fc.tuple(register, fc.integer({ min: 0, max: 0xfffff })).map(([rd, imm]) => asm.lui(rd === 15 ? 14 : rd, imm)),
  fc.tuple(fc.constantFrom(...LOADS), register, fc.integer({ min: -8, max: 2047 })).map(([op, rd, imm]) => asm[op](rd === 15 ? 14 : rd, 15, imm)),
  fc.tuple(fc.constantFrom(...STORES), anyRegister, fc.integer({ min: -8, max: 2047 })).map(([op, rs, imm]) => asm[op](rs, 15, imm)),
  fc.tuple(fc.constantFrom(...Object.values(AMO)), register, anyRegister).map(([funct5, rd, rs]) => asm.amo(funct5, rd === 15 ? 14 : rd, 15, rs)),
  fc.tuple(register, fc.constantFrom(Csr.Instret, Csr.Cycle, Csr.InstretHigh)).map(([rd, csr]) => asm.csrrs(rd === 15 ? 14 : rd, csr, 0)),
  fc.tuple(fc.constantFrom('beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu'), anyRegister, anyRegister, fc.integer({ min: 1, max: 4 })).map(([op, a, b, skip]) => asm[op](a, b, skip * 4)),
  fc.constant(asm.lw(1, 0, 0)), // a load from address 0: an access fault (no RAM there)
);

function runBoth(code: number[], dataAddress: number, seed: number, values: number[]) {
  const registers: Record<number, number> = { 15: dataAddress };
  values.forEach((value, index) => (registers[index + 1] = value));
  const results = (['interpret', 'compile'] as const).map((mode) => {
    const machine = bare([...code, asm.ebreak()], { mode, hotBlock: 1 }, registers);
    for (let index = 0; index < 64; index++) machine.ram.writeU32(DATA + 0xfe0 + index * 4, Math.imul(seed, index + 1));
    const trap = machine.run(10_000);
    return { trap, registers: Array.from(machine.hart.state.x.subarray(0, 32)), data: Array.from(machine.ram.read(DATA + 0xfe0, 256)), instret: machine.hart.state.instret };
  });
  return results;
}

describe('compileBlock', () => {
  it('compiled blocks end in the interpreter\'s registers, memory, instret and trap on random programs', () => {
    fc.assert(fc.property(fc.array(instruction, { minLength: 1, maxLength: 80 }), fc.integer({ min: 0, max: 40 }), fc.integer(),
      fc.array(fc.oneof(fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }), fc.constantFrom(0, 1, -1, -0x8000_0000, 0x7fff_ffff, 31, 32, 33)), { minLength: 14, maxLength: 14 }),
      (code, offset, seed, values) => {
        const [interpreted, compiled] = runBoth(code, DATA + 0xfe0 + offset, seed, values);
        expect(compiled).toEqual(interpreted);
      }), { numRuns: 300, seed: 20261204 });
  });
});

describe('HartState', () => {
  it('a hart runs on state kept in a SharedArrayBuffer slot, where another view sees it', () => {
    const shared = new SharedArrayBuffer(STATE_BYTES * 2);
    const state = new HartState(shared, STATE_BYTES, true);
    const ram = Ram.allocate(1 << 20);
    ram.write(ram.base, Uint8Array.from([asm.addi(10, 0, 42), asm.ebreak()].flatMap((word) => [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24])));
    state.pc = ram.base;
    const hart = new Hart(ram, { state });
    expect(hart.run(100).cause).toBe(3);
    const view = new HartState(shared, STATE_BYTES);
    expect([view.register(10), view.instret, view.pc]).toEqual([42, 1, ram.base + 4]);
    expect(new HartState(shared, 0).register(10)).toBe(0);
  });
});
