// The instruction forms the hart executes: one number per operation, and the pre-decoded
// record every 16- or 32-bit instruction becomes (hal/riscv/decode.ts). Compressed
// instructions decode to the operation they expand to, with `size` 2.
//
// Register fields name x0..x31, except that a destination x0 is decoded as DISCARD (the
// register file's slot 32, never read), so no operation has to test for rd = 0.

export const Op = {
  Illegal: 0,
  Lui: 1, Auipc: 2, Jal: 3, Jalr: 4,
  Beq: 5, Bne: 6, Blt: 7, Bge: 8, Bltu: 9, Bgeu: 10,
  Lb: 11, Lh: 12, Lw: 13, Lbu: 14, Lhu: 15, Sb: 16, Sh: 17, Sw: 18,
  Addi: 19, Slti: 20, Sltiu: 21, Xori: 22, Ori: 23, Andi: 24, Slli: 25, Srli: 26, Srai: 27,
  Add: 28, Sub: 29, Sll: 30, Slt: 31, Sltu: 32, Xor: 33, Srl: 34, Sra: 35, Or: 36, And: 37,
  Fence: 38, FenceI: 39, Ecall: 40, Ebreak: 41,
  Csrrw: 42, Csrrs: 43, Csrrc: 44, Csrrwi: 45, Csrrsi: 46, Csrrci: 47,
  Mul: 48, Mulh: 49, Mulhsu: 50, Mulhu: 51, Div: 52, Divu: 53, Rem: 54, Remu: 55,
  LrW: 56, ScW: 57, AmoswapW: 58, AmoaddW: 59, AmoxorW: 60, AmoandW: 61, AmoorW: 62,
  AmominW: 63, AmomaxW: 64, AmominuW: 65, AmomaxuW: 66,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

export const OP_NAMES: readonly string[] = Object.entries(Op).sort((a, b) => a[1] - b[1]).map(([name]) => name.toLowerCase());

/** The register file slot a destination x0 is decoded to: written, never read. */
export const DISCARD = 32;

/** One decoded instruction. `bits` is the raw encoding (16 or 32 bits), the tval of an illegal instruction. */
export interface Decoded {
  readonly op: OpCode;
  readonly rd: number;
  readonly rs1: number;
  readonly rs2: number;
  /** Sign-extended immediate; for CSR operations the CSR number; for csr*i the zimm is in rs1. */
  readonly imm: number;
  readonly size: 2 | 4;
  readonly bits: number;
}

/** Operations after which a basic block ends: they change the pc, trap, or touch state the block compiler keeps out of. */
export function endsBlock(op: OpCode): boolean {
  return (op >= Op.Jal && op <= Op.Bgeu) || op === Op.Illegal || (op >= Op.FenceI && op <= Op.Csrrci);
}
