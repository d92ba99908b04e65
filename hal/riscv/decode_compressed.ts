// The C extension for RV32: each 16-bit instruction decodes to the 32-bit operation it
// expands to (the spec's RVC tables, "RVC Instruction Set Listings"). Reserved encodings,
// the all-zero word, and the floating-point forms (no F or D here) decode as Op.Illegal.
// HINTs (e.g. c.li x0, c.nop with an immediate) execute as the operation with rd = x0.

import { DISCARD, Op, type Decoded, type OpCode } from './instructions.js';

const bit = (value: number, index: number): number => (value >>> index) & 1;
const field = (value: number, low: number, width: number): number => (value >>> low) & ((1 << width) - 1);
const signExtend = (value: number, width: number): number => (value << (32 - width)) >> (32 - width);

function make(op: OpCode, rd: number, rs1: number, rs2: number, imm: number, bits: number): Decoded {
  return { op, rd: rd === 0 ? DISCARD : rd, rs1, rs2, imm: imm | 0, size: 2, bits };
}

function illegal(bits: number): Decoded {
  return { op: Op.Illegal, rd: DISCARD, rs1: 0, rs2: 0, imm: 0, size: 2, bits };
}

export function decodeCompressed(bits: number): Decoded {
  const funct3 = bits >>> 13;
  const rdFull = field(bits, 7, 5);
  const rs2Full = field(bits, 2, 5);
  const rdPrime = field(bits, 2, 3) + 8;
  const rs1Prime = field(bits, 7, 3) + 8;
  const imm6 = signExtend((bit(bits, 12) << 5) | field(bits, 2, 5), 6);
  switch (bits & 3) {
    case 0: {
      const offsetW = (field(bits, 10, 3) << 3) | (bit(bits, 6) << 2) | (bit(bits, 5) << 6);
      if (funct3 === 0) {
        const nzuimm = (field(bits, 11, 2) << 4) | (field(bits, 7, 4) << 6) | (bit(bits, 6) << 2) | (bit(bits, 5) << 3);
        return nzuimm === 0 ? illegal(bits) : make(Op.Addi, rdPrime, 2, 0, nzuimm, bits); // c.addi4spn
      }
      if (funct3 === 2) return make(Op.Lw, rdPrime, rs1Prime, 0, offsetW, bits); // c.lw
      if (funct3 === 6) return make(Op.Sw, 0, rs1Prime, rdPrime, offsetW, bits); // c.sw
      return illegal(bits);
    }
    case 1:
      switch (funct3) {
        case 0: return make(Op.Addi, rdFull, rdFull, 0, imm6, bits); // c.addi, c.nop
        case 1: return make(Op.Jal, 1, 0, 0, jumpOffset(bits), bits); // c.jal
        case 2: return make(Op.Addi, rdFull, 0, 0, imm6, bits); // c.li
        case 3: {
          if (rdFull === 2) {
            const nzimm = signExtend((bit(bits, 12) << 9) | (bit(bits, 6) << 4) | (bit(bits, 5) << 6) | (field(bits, 3, 2) << 7) | (bit(bits, 2) << 5), 10);
            return nzimm === 0 ? illegal(bits) : make(Op.Addi, 2, 2, 0, nzimm, bits); // c.addi16sp
          }
          return imm6 === 0 ? illegal(bits) : make(Op.Lui, rdFull, 0, 0, imm6 << 12, bits); // c.lui
        }
        case 4: {
          const funct2 = field(bits, 10, 2);
          if (funct2 === 0) return bit(bits, 12) ? illegal(bits) : make(Op.Srli, rs1Prime, rs1Prime, 0, rs2Full, bits);
          if (funct2 === 1) return bit(bits, 12) ? illegal(bits) : make(Op.Srai, rs1Prime, rs1Prime, 0, rs2Full, bits);
          if (funct2 === 2) return make(Op.Andi, rs1Prime, rs1Prime, 0, imm6, bits);
          if (bit(bits, 12)) return illegal(bits); // c.subw, c.addw: RV64
          const op = [Op.Sub, Op.Xor, Op.Or, Op.And][field(bits, 5, 2)]!;
          return make(op, rs1Prime, rs1Prime, rdPrime, 0, bits);
        }
        case 5: return make(Op.Jal, 0, 0, 0, jumpOffset(bits), bits); // c.j
        default: {
          const offset = signExtend((bit(bits, 12) << 8) | (field(bits, 10, 2) << 3) | (field(bits, 5, 2) << 6) | (field(bits, 3, 2) << 1) | (bit(bits, 2) << 5), 9);
          return make(funct3 === 6 ? Op.Beq : Op.Bne, 0, rs1Prime, 0, offset, bits); // c.beqz, c.bnez
        }
      }
    case 2:
      switch (funct3) {
        case 0: return bit(bits, 12) ? illegal(bits) : make(Op.Slli, rdFull, rdFull, 0, rs2Full, bits); // c.slli
        case 2: {
          if (rdFull === 0) return illegal(bits);
          const offset = (bit(bits, 12) << 5) | (field(bits, 4, 3) << 2) | (field(bits, 2, 2) << 6);
          return make(Op.Lw, rdFull, 2, 0, offset, bits); // c.lwsp
        }
        case 4:
          if (!bit(bits, 12)) {
            if (rs2Full === 0) return rdFull === 0 ? illegal(bits) : make(Op.Jalr, 0, rdFull, 0, 0, bits); // c.jr
            return make(Op.Add, rdFull, 0, rs2Full, 0, bits); // c.mv
          }
          if (rs2Full === 0) {
            if (rdFull === 0) return make(Op.Ebreak, 0, 0, 0, 0, bits); // c.ebreak
            return make(Op.Jalr, 1, rdFull, 0, 0, bits); // c.jalr
          }
          return make(Op.Add, rdFull, rdFull, rs2Full, 0, bits); // c.add
        case 6: {
          const offset = (field(bits, 9, 4) << 2) | (field(bits, 7, 2) << 6);
          return make(Op.Sw, 0, 2, rs2Full, offset, bits); // c.swsp
        }
        default: return illegal(bits);
      }
    default:
      return illegal(bits);
  }
}

/** The offset of c.j / c.jal: imm[11|4|9:8|10|6|7|3:1|5] in bits 12..2. */
function jumpOffset(bits: number): number {
  const value = (bit(bits, 12) << 11) | (bit(bits, 11) << 4) | (field(bits, 9, 2) << 8) | (bit(bits, 8) << 10) |
    (bit(bits, 7) << 6) | (bit(bits, 6) << 7) | (field(bits, 3, 3) << 1) | (bit(bits, 2) << 5);
  return signExtend(value, 12);
}
