// Decoding: compressed instructions expand to the operation the spec's RVC tables give
// (encodings from GNU as, `objdump -M no-aliases`), reserved and F/D encodings are illegal.

import { describe, expect, it } from 'vitest';
import { decode } from './decode.js';
import { DISCARD, OP_NAMES, Op } from './instructions.js';
import { asm } from './testing/assembler.js';

const shape = (bits: number) => {
  const d = decode(bits);
  return `${OP_NAMES[d.op]} rd=${d.rd === DISCARD ? 0 : d.rd} rs1=${d.rs1} rs2=${d.rs2} imm=${d.imm} size=${d.size}`;
};

describe('decodeCompressed', () => {
  // [halfword as GNU as encodes it, what it expands to]
  const table: Array<[number, string, string]> = [
    [0x0808, 'c.addi4spn a0,sp,16', 'addi rd=10 rs1=2 rs2=0 imm=16 size=2'],
    [0x414c, 'c.lw a1,4(a0)', 'lw rd=11 rs1=10 rs2=0 imm=4 size=2'],
    [0xc50c, 'c.sw a1,8(a0)', 'sw rd=0 rs1=10 rs2=11 imm=8 size=2'],
    [0x0001, 'c.nop', 'addi rd=0 rs1=0 rs2=0 imm=0 size=2'],
    [0x1575, 'c.addi a0,-3', 'addi rd=10 rs1=10 rs2=0 imm=-3 size=2'],
    [0x2021, 'c.jal +8', 'jal rd=1 rs1=0 rs2=0 imm=8 size=2'],
    [0x5601, 'c.li a2,-32', 'addi rd=12 rs1=0 rs2=0 imm=-32 size=2'],
    [0x7139, 'c.addi16sp sp,-64', 'addi rd=2 rs1=2 rs2=0 imm=-64 size=2'],
    [0x7685, 'c.lui a3,0xfffe1', `lui rd=13 rs1=0 rs2=0 imm=${0xfffe1000 | 0} size=2`],
    [0x810d, 'c.srli a0,3', 'srli rd=10 rs1=10 rs2=0 imm=3 size=2'],
    [0x857d, 'c.srai a0,31', 'srai rd=10 rs1=10 rs2=0 imm=31 size=2'],
    [0x997d, 'c.andi a0,-1', 'andi rd=10 rs1=10 rs2=0 imm=-1 size=2'],
    [0x8d0d, 'c.sub a0,a1', 'sub rd=10 rs1=10 rs2=11 imm=0 size=2'],
    [0x8d2d, 'c.xor a0,a1', 'xor rd=10 rs1=10 rs2=11 imm=0 size=2'],
    [0x8d4d, 'c.or a0,a1', 'or rd=10 rs1=10 rs2=11 imm=0 size=2'],
    [0x8d6d, 'c.and a0,a1', 'and rd=10 rs1=10 rs2=11 imm=0 size=2'],
    [0xb7f5, 'c.j -20', 'jal rd=0 rs1=0 rs2=0 imm=-20 size=2'],
    [0xc119, 'c.beqz a0,+6', 'beq rd=0 rs1=10 rs2=0 imm=6 size=2'],
    [0xfde5, 'c.bnez a1,-8', 'bne rd=0 rs1=11 rs2=0 imm=-8 size=2'],
    [0x077e, 'c.slli a4,31', 'slli rd=14 rs1=14 rs2=0 imm=31 size=2'],
    [0x47b2, 'c.lwsp a5,12(sp)', 'lw rd=15 rs1=2 rs2=0 imm=12 size=2'],
    [0x8082, 'c.jr ra', 'jalr rd=0 rs1=1 rs2=0 imm=0 size=2'],
    [0x8846, 'c.mv a6,a7', 'add rd=16 rs1=0 rs2=17 imm=0 size=2'],
    [0x9002, 'c.ebreak', 'ebreak rd=0 rs1=0 rs2=0 imm=0 size=2'],
    [0x9502, 'c.jalr a0', 'jalr rd=1 rs1=10 rs2=0 imm=0 size=2'],
    [0x95b2, 'c.add a1,a2', 'add rd=11 rs1=11 rs2=12 imm=0 size=2'],
    [0xdfbe, 'c.swsp a5,252(sp)', 'sw rd=0 rs1=2 rs2=15 imm=252 size=2'],
  ];
  for (const [bits, text, expanded] of table) {
    it(`decodeCompressed ${text} expands to ${expanded.split(' ')[0]}`, () => expect(shape(bits)).toBe(expanded));
  }

  it('decodeCompressed refuses the zero halfword, F/D loads and stores, RV64 forms and reserved encodings', () => {
    for (const bits of [0x0000, 0x2000 /* c.fld */, 0x6000 /* c.flw */, 0xa000 /* c.fsd */, 0x6002 /* c.flwsp */,
      0x9d01 /* c.subw */, 0x6101 /* c.addi16sp 0 */, 0x6501 /* c.lui 0 */, 0x4002 /* c.lwsp x0 */, 0x8002 /* c.jr x0 */, 0x1002 /* c.slli shamt[5]=1 */]) {
      expect(decode(bits).op, bits.toString(16)).toBe(Op.Illegal);
    }
  });
});

describe('decode', () => {
  it('decode gives 32-bit immediates sign-extended in every format', () => {
    expect(shape(asm.addi(5, 6, -2048))).toBe('addi rd=5 rs1=6 rs2=0 imm=-2048 size=4');
    expect(shape(asm.sw(7, 8, -1))).toBe('sw rd=0 rs1=8 rs2=7 imm=-1 size=4');
    expect(shape(asm.beq(1, 2, -4096))).toBe('beq rd=0 rs1=1 rs2=2 imm=-4096 size=4');
    expect(shape(asm.jal(1, -(1 << 20)))).toBe(`jal rd=1 rs1=0 rs2=0 imm=${-(1 << 20)} size=4`);
    expect(shape(asm.lui(3, 0x80000))).toBe(`lui rd=3 rs1=0 rs2=0 imm=${0x80000000 | 0} size=4`);
  });

  it('decode treats privileged instructions, RV64 shifts and unknown opcodes as illegal in U-mode', () => {
    for (const bits of [asm.sret(), asm.wfi(), asm.sfenceVma(0, 0), 0x10200073 /* sret */, 0x30200073 /* mret */,
      0x02051513 /* slli a0,a0,32 (RV64) */, 0x0000007b, 0x00003007 /* flw */, 0x00000000, 0xffffffff]) {
      expect(decode(bits).op, bits.toString(16)).toBe(Op.Illegal);
    }
  });
});
