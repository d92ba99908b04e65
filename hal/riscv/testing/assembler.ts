// A tiny RV32 assembler for tests: one function per instruction format, returning the
// 32-bit encoding (the unprivileged spec's "Base Instruction Formats"). Registers are
// numbers 0..31; immediates are checked against their field's range.

const check = (value: number, bits: number, what: string, step = 1): number => {
  const minimum = -(2 ** (bits - 1)), maximum = 2 ** (bits - 1) - step;
  if (!Number.isInteger(value) || value < minimum || value > maximum || value % step !== 0) throw new RangeError(`${what} ${value} does not fit ${bits} bits`);
  return value;
};

export const rType = (funct7: number, rs2: number, rs1: number, funct3: number, rd: number, opcode: number): number =>
  ((funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode) >>> 0;
export const iType = (imm: number, rs1: number, funct3: number, rd: number, opcode: number): number =>
  (((check(imm, 12, 'I immediate') & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode) >>> 0;
export const sType = (imm: number, rs2: number, rs1: number, funct3: number, opcode = 0x23): number => {
  check(imm, 12, 'S immediate');
  return ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 31) << 7) | opcode) >>> 0;
};
export const bType = (imm: number, rs2: number, rs1: number, funct3: number): number => {
  check(imm, 13, 'B offset', 2);
  return ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) |
    (((imm >> 1) & 15) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0;
};
export const uType = (imm20: number, rd: number, opcode: number): number => (((imm20 & 0xfffff) << 12) | (rd << 7) | opcode) >>> 0;
export const jType = (imm: number, rd: number): number => {
  check(imm, 21, 'J offset', 2);
  return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0;
};

export const asm = {
  lui: (rd: number, imm20: number) => uType(imm20, rd, 0x37),
  auipc: (rd: number, imm20: number) => uType(imm20, rd, 0x17),
  jal: (rd: number, offset: number) => jType(offset, rd),
  jalr: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 0, rd, 0x67),
  beq: (rs1: number, rs2: number, offset: number) => bType(offset, rs2, rs1, 0),
  bne: (rs1: number, rs2: number, offset: number) => bType(offset, rs2, rs1, 1),
  blt: (rs1: number, rs2: number, offset: number) => bType(offset, rs2, rs1, 4),
  bge: (rs1: number, rs2: number, offset: number) => bType(offset, rs2, rs1, 5),
  bltu: (rs1: number, rs2: number, offset: number) => bType(offset, rs2, rs1, 6),
  bgeu: (rs1: number, rs2: number, offset: number) => bType(offset, rs2, rs1, 7),
  lb: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 0, rd, 0x03),
  lh: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 1, rd, 0x03),
  lw: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 2, rd, 0x03),
  lbu: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 4, rd, 0x03),
  lhu: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 5, rd, 0x03),
  sb: (rs2: number, rs1: number, imm: number) => sType(imm, rs2, rs1, 0),
  sh: (rs2: number, rs1: number, imm: number) => sType(imm, rs2, rs1, 1),
  sw: (rs2: number, rs1: number, imm: number) => sType(imm, rs2, rs1, 2),
  addi: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 0, rd, 0x13),
  slti: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 2, rd, 0x13),
  sltiu: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 3, rd, 0x13),
  xori: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 4, rd, 0x13),
  ori: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 6, rd, 0x13),
  andi: (rd: number, rs1: number, imm: number) => iType(imm, rs1, 7, rd, 0x13),
  slli: (rd: number, rs1: number, shamt: number) => rType(0, shamt, rs1, 1, rd, 0x13),
  srli: (rd: number, rs1: number, shamt: number) => rType(0, shamt, rs1, 5, rd, 0x13),
  srai: (rd: number, rs1: number, shamt: number) => rType(0x20, shamt, rs1, 5, rd, 0x13),
  add: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 0, rd, 0x33),
  sub: (rd: number, rs1: number, rs2: number) => rType(0x20, rs2, rs1, 0, rd, 0x33),
  sll: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 1, rd, 0x33),
  slt: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 2, rd, 0x33),
  sltu: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 3, rd, 0x33),
  xor: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 4, rd, 0x33),
  srl: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 5, rd, 0x33),
  sra: (rd: number, rs1: number, rs2: number) => rType(0x20, rs2, rs1, 5, rd, 0x33),
  or: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 6, rd, 0x33),
  and: (rd: number, rs1: number, rs2: number) => rType(0, rs2, rs1, 7, rd, 0x33),
  mul: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 0, rd, 0x33),
  mulh: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 1, rd, 0x33),
  mulhsu: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 2, rd, 0x33),
  mulhu: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 3, rd, 0x33),
  div: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 4, rd, 0x33),
  divu: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 5, rd, 0x33),
  rem: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 6, rd, 0x33),
  remu: (rd: number, rs1: number, rs2: number) => rType(1, rs2, rs1, 7, rd, 0x33),
  fence: () => 0x0ff0000f,
  fenceI: () => 0x0000100f,
  ecall: () => 0x00000073,
  ebreak: () => 0x00100073,
  wfi: () => 0x10500073,
  sret: () => 0x10200073,
  sfenceVma: (rs1: number, rs2: number) => rType(9, rs2, rs1, 0, 0, 0x73),
  csrrw: (rd: number, csr: number, rs1: number) => ((csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73) >>> 0,
  csrrs: (rd: number, csr: number, rs1: number) => ((csr << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x73) >>> 0,
  csrrc: (rd: number, csr: number, rs1: number) => ((csr << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x73) >>> 0,
  csrrsi: (rd: number, csr: number, zimm: number) => ((csr << 20) | (zimm << 15) | (6 << 12) | (rd << 7) | 0x73) >>> 0,
  lrW: (rd: number, rs1: number) => rType(2 << 2, 0, rs1, 2, rd, 0x2f),
  scW: (rd: number, rs1: number, rs2: number) => rType(3 << 2, rs2, rs1, 2, rd, 0x2f),
  amo: (funct5: number, rd: number, rs1: number, rs2: number) => rType(funct5 << 2, rs2, rs1, 2, rd, 0x2f),
};

/** AMO funct5 values. */
export const AMO = { swap: 1, add: 0, xor: 4, and: 12, or: 8, min: 16, max: 20, minu: 24, maxu: 28 } as const;

/** Register numbers by ABI name. */
export const reg = { zero: 0, ra: 1, sp: 2, gp: 3, tp: 4, t0: 5, t1: 6, t2: 7, s0: 8, s1: 9, a0: 10, a1: 11, a2: 12, a3: 13, a4: 14, a5: 15, a6: 16, a7: 17 } as const;

/** Lays out a mix of 32-bit words and 16-bit halfwords ({ c: bits }) as little-endian bytes. */
export function program(items: readonly (number | { c: number })[]): Uint8Array {
  const bytes: number[] = [];
  for (const item of items) {
    if (typeof item === 'number') bytes.push(item & 0xff, (item >>> 8) & 0xff, (item >>> 16) & 0xff, (item >>> 24) & 0xff);
    else bytes.push(item.c & 0xff, (item.c >>> 8) & 0xff);
  }
  return Uint8Array.from(bytes);
}
