// Decoding of 32-bit RISC-V instructions (RV32I, M, A, Zicsr, Zifencei) into Decoded
// records, per the unprivileged spec's base opcode map. Encodings this hart does not
// implement (F, D, RV64-only, reserved fields) decode as Op.Illegal; executing one raises
// an illegal-instruction exception with the encoding as tval.

import { DISCARD, Op, type Decoded, type OpCode } from './instructions.js';
import { decodeCompressed } from './decode_compressed.js';

export function decoded(op: OpCode, rd: number, rs1: number, rs2: number, imm: number, size: 2 | 4, bits: number): Decoded {
  return { op, rd: rd === 0 ? DISCARD : rd, rs1, rs2, imm: imm | 0, size, bits: bits >>> 0 };
}

export function illegal(bits: number, size: 2 | 4): Decoded {
  return { op: Op.Illegal, rd: DISCARD, rs1: 0, rs2: 0, imm: 0, size, bits: bits >>> 0 };
}

/** The size in bytes of the instruction whose low 16 bits are `low`: 4 when bits 1:0 are 11, else 2. */
export function instructionSize(low: number): 2 | 4 {
  return (low & 3) === 3 ? 4 : 2;
}

/** Decodes one instruction: `bits` holds 32 bits (or the low 16 of a compressed one). */
export function decode(bits: number): Decoded {
  if ((bits & 3) !== 3) return decodeCompressed(bits & 0xffff);
  if ((bits & 0x1c) === 0x1c) return illegal(bits, 4); // 48-bit and longer encodings
  const opcode = bits & 0x7f;
  const rd = (bits >>> 7) & 31;
  const funct3 = (bits >>> 12) & 7;
  const rs1 = (bits >>> 15) & 31;
  const rs2 = (bits >>> 20) & 31;
  const funct7 = bits >>> 25;
  const immI = bits >> 20;
  const immS = ((bits >> 25) << 5) | ((bits >>> 7) & 31);
  const immB = ((bits >> 31) << 12) | (((bits >>> 7) & 1) << 11) | (((bits >>> 25) & 0x3f) << 5) | (((bits >>> 8) & 15) << 1);
  const immU = bits & 0xfffff000;
  const immJ = ((bits >> 31) << 20) | (bits & 0xff000) | (((bits >>> 20) & 1) << 11) | (((bits >>> 21) & 0x3ff) << 1);
  const make = (op: OpCode, imm: number, dest = rd): Decoded => decoded(op, dest, rs1, rs2, imm, 4, bits);
  switch (opcode) {
    case 0x37: return decoded(Op.Lui, rd, 0, 0, immU, 4, bits);
    case 0x17: return decoded(Op.Auipc, rd, 0, 0, immU, 4, bits);
    case 0x6f: return decoded(Op.Jal, rd, 0, 0, immJ, 4, bits);
    case 0x67: return funct3 === 0 ? make(Op.Jalr, immI) : illegal(bits, 4);
    case 0x63: {
      const op = [Op.Beq, Op.Bne, undefined, undefined, Op.Blt, Op.Bge, Op.Bltu, Op.Bgeu][funct3];
      return op === undefined ? illegal(bits, 4) : decoded(op, 0, rs1, rs2, immB, 4, bits);
    }
    case 0x03: {
      const op = [Op.Lb, Op.Lh, Op.Lw, undefined, Op.Lbu, Op.Lhu, undefined, undefined][funct3];
      return op === undefined ? illegal(bits, 4) : make(op, immI);
    }
    case 0x23: {
      const op = [Op.Sb, Op.Sh, Op.Sw][funct3];
      return op === undefined ? illegal(bits, 4) : decoded(op, 0, rs1, rs2, immS, 4, bits);
    }
    case 0x13: {
      if (funct3 === 1) return funct7 === 0 ? make(Op.Slli, rs2) : illegal(bits, 4);
      if (funct3 === 5) return funct7 === 0 ? make(Op.Srli, rs2) : funct7 === 0x20 ? make(Op.Srai, rs2) : illegal(bits, 4);
      return make([Op.Addi, 0, Op.Slti, Op.Sltiu, Op.Xori, 0, Op.Ori, Op.Andi][funct3] as OpCode, immI);
    }
    case 0x33: {
      if (funct7 === 0) return make([Op.Add, Op.Sll, Op.Slt, Op.Sltu, Op.Xor, Op.Srl, Op.Or, Op.And][funct3]!, 0);
      if (funct7 === 1) return make([Op.Mul, Op.Mulh, Op.Mulhsu, Op.Mulhu, Op.Div, Op.Divu, Op.Rem, Op.Remu][funct3]!, 0);
      if (funct7 === 0x20 && funct3 === 0) return make(Op.Sub, 0);
      if (funct7 === 0x20 && funct3 === 5) return make(Op.Sra, 0);
      return illegal(bits, 4);
    }
    case 0x0f:
      if (funct3 === 0) return decoded(Op.Fence, 0, 0, 0, 0, 4, bits);
      if (funct3 === 1) return decoded(Op.FenceI, 0, 0, 0, 0, 4, bits);
      return illegal(bits, 4);
    case 0x73: {
      if (funct3 === 0) {
        if (bits === 0x00000073) return decoded(Op.Ecall, 0, 0, 0, 0, 4, bits);
        if (bits === 0x00100073) return decoded(Op.Ebreak, 0, 0, 0, 0, 4, bits);
        return illegal(bits, 4); // sret, mret, wfi, sfence.vma: privileged, illegal in U-mode
      }
      const op = [undefined, Op.Csrrw, Op.Csrrs, Op.Csrrc, undefined, Op.Csrrwi, Op.Csrrsi, Op.Csrrci][funct3];
      return op === undefined ? illegal(bits, 4) : decoded(op, rd, rs1, 0, (bits >>> 20) & 0xfff, 4, bits);
    }
    case 0x2f: {
      if (funct3 !== 2) return illegal(bits, 4);
      const funct5 = bits >>> 27;
      if (funct5 === 2) return rs2 === 0 ? make(Op.LrW, 0) : illegal(bits, 4);
      const op = ({ 3: Op.ScW, 1: Op.AmoswapW, 0: Op.AmoaddW, 4: Op.AmoxorW, 12: Op.AmoandW, 8: Op.AmoorW, 16: Op.AmominW, 20: Op.AmomaxW, 24: Op.AmominuW, 28: Op.AmomaxuW } as Record<number, OpCode>)[funct5];
      return op === undefined ? illegal(bits, 4) : make(op, 0);
    }
    default:
      return illegal(bits, 4);
  }
}
