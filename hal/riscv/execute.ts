// The interpreter: executes one decoded instruction at `pc` on a hart and returns the next
// pc, or -1 if it trapped (the hart's memory holds cause and tval; nothing was written
// to rd). Used for blocks that are not (yet) compiled, and by compiled blocks for the
// instructions they do not inline (system instructions, LR/SC, AMOs).

import { div, divu, mulh, mulhsu, mulhu, rem, remu } from './arithmetic.js';
import { readUserCsr } from './csr.js';
import { Op, type Decoded } from './instructions.js';
import { Access } from './sv32.js';
import { Exception } from './trap.js';
import type { Hart } from './hart.js';

const TRAPPED = -1;

export function execute(hart: Hart, d: Decoded, pc: number): number {
  const x = hart.x, memory = hart.memory;
  const next = (pc + d.size) >>> 0;
  switch (d.op) {
    case Op.Lui: x[d.rd] = d.imm; break;
    case Op.Auipc: x[d.rd] = (pc + d.imm) | 0; break;
    case Op.Jal: x[d.rd] = next; hart.retired++; return (pc + d.imm) >>> 0;
    case Op.Jalr: { const target = ((x[d.rs1]! + d.imm) & ~1) >>> 0; x[d.rd] = next; hart.retired++; return target; }
    case Op.Beq: hart.retired++; return x[d.rs1] === x[d.rs2] ? (pc + d.imm) >>> 0 : next;
    case Op.Bne: hart.retired++; return x[d.rs1] !== x[d.rs2] ? (pc + d.imm) >>> 0 : next;
    case Op.Blt: hart.retired++; return x[d.rs1]! < x[d.rs2]! ? (pc + d.imm) >>> 0 : next;
    case Op.Bge: hart.retired++; return x[d.rs1]! >= x[d.rs2]! ? (pc + d.imm) >>> 0 : next;
    case Op.Bltu: hart.retired++; return x[d.rs1]! >>> 0 < x[d.rs2]! >>> 0 ? (pc + d.imm) >>> 0 : next;
    case Op.Bgeu: hart.retired++; return x[d.rs1]! >>> 0 >= x[d.rs2]! >>> 0 ? (pc + d.imm) >>> 0 : next;
    case Op.Lb: case Op.Lh: case Op.Lw: case Op.Lbu: case Op.Lhu: {
      const size = d.op === Op.Lw ? 4 : d.op === Op.Lh || d.op === Op.Lhu ? 2 : 1;
      const value = memory.load(x[d.rs1]! + d.imm, size, d.op !== Op.Lbu && d.op !== Op.Lhu);
      if (memory.cause >= 0) return TRAPPED;
      x[d.rd] = value;
      break;
    }
    case Op.Sb: case Op.Sh: case Op.Sw:
      if (!memory.store(x[d.rs1]! + d.imm, d.op === Op.Sw ? 4 : d.op === Op.Sh ? 2 : 1, x[d.rs2]!)) return TRAPPED;
      break;
    case Op.Addi: x[d.rd] = x[d.rs1]! + d.imm; break;
    case Op.Slti: x[d.rd] = x[d.rs1]! < d.imm ? 1 : 0; break;
    case Op.Sltiu: x[d.rd] = x[d.rs1]! >>> 0 < d.imm >>> 0 ? 1 : 0; break;
    case Op.Xori: x[d.rd] = x[d.rs1]! ^ d.imm; break;
    case Op.Ori: x[d.rd] = x[d.rs1]! | d.imm; break;
    case Op.Andi: x[d.rd] = x[d.rs1]! & d.imm; break;
    case Op.Slli: x[d.rd] = x[d.rs1]! << d.imm; break;
    case Op.Srli: x[d.rd] = x[d.rs1]! >>> d.imm; break;
    case Op.Srai: x[d.rd] = x[d.rs1]! >> d.imm; break;
    case Op.Add: x[d.rd] = x[d.rs1]! + x[d.rs2]!; break;
    case Op.Sub: x[d.rd] = x[d.rs1]! - x[d.rs2]!; break;
    case Op.Sll: x[d.rd] = x[d.rs1]! << x[d.rs2]!; break; // JavaScript shifts use the low 5 bits, as RV32 does
    case Op.Slt: x[d.rd] = x[d.rs1]! < x[d.rs2]! ? 1 : 0; break;
    case Op.Sltu: x[d.rd] = x[d.rs1]! >>> 0 < x[d.rs2]! >>> 0 ? 1 : 0; break;
    case Op.Xor: x[d.rd] = x[d.rs1]! ^ x[d.rs2]!; break;
    case Op.Srl: x[d.rd] = x[d.rs1]! >>> x[d.rs2]!; break;
    case Op.Sra: x[d.rd] = x[d.rs1]! >> x[d.rs2]!; break;
    case Op.Or: x[d.rd] = x[d.rs1]! | x[d.rs2]!; break;
    case Op.And: x[d.rd] = x[d.rs1]! & x[d.rs2]!; break;
    case Op.Mul: x[d.rd] = Math.imul(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Mulh: x[d.rd] = mulh(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Mulhsu: x[d.rd] = mulhsu(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Mulhu: x[d.rd] = mulhu(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Div: x[d.rd] = div(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Divu: x[d.rd] = divu(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Rem: x[d.rd] = rem(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Remu: x[d.rd] = remu(x[d.rs1]!, x[d.rs2]!); break;
    case Op.Fence: break; // one hart's accesses are in order; Atomics order them across harts
    case Op.FenceI: hart.code.flush(); break;
    case Op.Ecall: return hart.raise(Exception.EcallFromUser, 0);
    case Op.Ebreak: return hart.raise(Exception.Breakpoint, pc);
    case Op.Csrrw: case Op.Csrrs: case Op.Csrrc: case Op.Csrrwi: case Op.Csrrsi: case Op.Csrrci: {
      const writes = d.op === Op.Csrrw || d.op === Op.Csrrwi || d.rs1 !== 0;
      const value = writes ? undefined : readUserCsr(d.imm, hart.retired, hart.time);
      if (value === undefined) return hart.raise(Exception.IllegalInstruction, d.bits);
      x[d.rd] = value;
      break;
    }
    case Op.LrW: case Op.ScW: case Op.AmoswapW: case Op.AmoaddW: case Op.AmoxorW: case Op.AmoandW:
    case Op.AmoorW: case Op.AmominW: case Op.AmomaxW: case Op.AmominuW: case Op.AmomaxuW:
      if (!atomic(hart, d)) return TRAPPED;
      break;
    default:
      return hart.raise(Exception.IllegalInstruction, d.bits);
  }
  hart.retired++;
  return next;
}

/**
 * LR/SC and AMOs on an aligned word, with Atomics on the shared RAM so harts on other
 * threads see them whole. A misaligned address traps (LR: load misaligned; SC, AMO: store
 * misaligned). SC succeeds if this hart holds a reservation on the word and the word still
 * holds the value LR read (a compare-and-swap: an ABA change in between goes unseen).
 */
function atomic(hart: Hart, d: Decoded): boolean {
  const x = hart.x, memory = hart.memory;
  const va = x[d.rs1]! >>> 0;
  const isLoadReserved = d.op === Op.LrW;
  if (va & 3) {
    memory.fault(isLoadReserved ? Exception.LoadMisaligned : Exception.StoreMisaligned, va);
    return false;
  }
  const page = memory.translate(va, isLoadReserved ? Access.Load : Access.Store);
  if (page < 0) return false;
  const words = memory.i32, index = (page + (va & 0xfff)) >> 2, operand = x[d.rs2]!;
  if (isLoadReserved) {
    const value = Atomics.load(words, index);
    hart.reserve(index, value);
    x[d.rd] = value;
    return true;
  }
  if (d.op === Op.ScW) {
    const reservation = hart.takeReservation();
    const stored = reservation !== undefined && reservation.index === index &&
      Atomics.compareExchange(words, index, reservation.value, operand) === reservation.value;
    x[d.rd] = stored ? 0 : 1;
    return true;
  }
  let old: number;
  switch (d.op) {
    case Op.AmoswapW: old = Atomics.exchange(words, index, operand); break;
    case Op.AmoaddW: old = Atomics.add(words, index, operand); break;
    case Op.AmoxorW: old = Atomics.xor(words, index, operand); break;
    case Op.AmoandW: old = Atomics.and(words, index, operand); break;
    case Op.AmoorW: old = Atomics.or(words, index, operand); break;
    default: {
      const pick = d.op === Op.AmominW ? (a: number, b: number) => (a < b ? a : b)
        : d.op === Op.AmomaxW ? (a: number, b: number) => (a > b ? a : b)
          : d.op === Op.AmominuW ? (a: number, b: number) => (a >>> 0 < b >>> 0 ? a : b)
            : (a: number, b: number) => (a >>> 0 > b >>> 0 ? a : b);
      do old = Atomics.load(words, index);
      while (Atomics.compareExchange(words, index, old, pick(old, operand)) !== old);
    }
  }
  x[d.rd] = old;
  return true;
}
