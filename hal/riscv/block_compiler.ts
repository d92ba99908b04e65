// The fast path: a hot basic block becomes one JavaScript function (new Function), so V8
// compiles the guest's straight-line code to machine code. Registers stay in the hart's
// Int32Array; loads and stores test the hart's front translation arrays inline and fall
// back to HartMemory's slow path (translation, misalignment, code-page writes, faults).
// Instructions the compiler does not inline (system instructions, LR/SC, AMOs) call the
// interpreter's execute(). A trap leaves pc at the trapping instruction and counts only
// the instructions before it as retired, exactly as the interpreter does.
//
// The generated function closes over this hart's arrays, so it is valid for this hart
// only; the code cache drops it with its page (a store to the page, fence.i).

import { DISCARD, Op, endsBlock, type Decoded } from './instructions.js';
import type { Block } from './code_cache.js';
import type { Hart } from './hart.js';
import { L1_MASK } from './memory.js';
import * as arithmetic from './arithmetic.js';
import { execute } from './execute.js';

export type CompileMode = 'compile' | 'interpret';

const BRANCH: Partial<Record<number, string>> = {
  [Op.Beq]: 'x[A] === x[B]', [Op.Bne]: 'x[A] !== x[B]', [Op.Blt]: 'x[A] < x[B]', [Op.Bge]: 'x[A] >= x[B]',
  [Op.Bltu]: '(x[A] >>> 0) < (x[B] >>> 0)', [Op.Bgeu]: '(x[A] >>> 0) >= (x[B] >>> 0)',
};

const REGISTER_OPERATION: Partial<Record<number, string>> = {
  [Op.Add]: '(x[A] + x[B]) | 0', [Op.Sub]: '(x[A] - x[B]) | 0', [Op.Sll]: 'x[A] << x[B]', [Op.Slt]: 'x[A] < x[B] ? 1 : 0',
  [Op.Sltu]: '(x[A] >>> 0) < (x[B] >>> 0) ? 1 : 0', [Op.Xor]: 'x[A] ^ x[B]', [Op.Srl]: '(x[A] >>> x[B]) | 0', [Op.Sra]: 'x[A] >> x[B]',
  [Op.Or]: 'x[A] | x[B]', [Op.And]: 'x[A] & x[B]', [Op.Mul]: 'Math.imul(x[A], x[B])',
  [Op.Mulh]: 'H.mulh(x[A], x[B])', [Op.Mulhsu]: 'H.mulhsu(x[A], x[B])', [Op.Mulhu]: 'H.mulhu(x[A], x[B])',
  [Op.Div]: 'H.div(x[A], x[B])', [Op.Divu]: 'H.divu(x[A], x[B])', [Op.Rem]: 'H.rem(x[A], x[B])', [Op.Remu]: 'H.remu(x[A], x[B])',
};

const LOAD: Partial<Record<number, { size: number; signed: boolean; array: string; shift: number }>> = {
  [Op.Lb]: { size: 1, signed: true, array: 'i8', shift: 0 }, [Op.Lbu]: { size: 1, signed: false, array: 'u8', shift: 0 },
  [Op.Lh]: { size: 2, signed: true, array: 'i16', shift: 1 }, [Op.Lhu]: { size: 2, signed: false, array: 'u16', shift: 1 },
  [Op.Lw]: { size: 4, signed: true, array: 'i32', shift: 2 },
};

const STORE: Partial<Record<number, { size: number; array: string; shift: number }>> = {
  [Op.Sb]: { size: 1, array: 'u8', shift: 0 }, [Op.Sh]: { size: 2, array: 'u16', shift: 1 }, [Op.Sw]: { size: 4, array: 'i32', shift: 2 },
};

/** Compiles `block` for `hart`. */
export function compileBlock(hart: Hart, block: Block): (hart: Hart) => void {
  const body = blockSource(block);
  const memory = hart.memory;
  const factory = new Function('x', 'm', 'rT', 'rB', 'wT', 'wB', 'u8', 'i8', 'u16', 'i16', 'i32', 'ops', 'H', 'execute',
    `return function block(h) {\n  let a = 0, t = 0, v = 0;\n${body}\n};`) as (...values: unknown[]) => (hart: Hart) => void;
  return factory(hart.x, memory, memory.readTag, memory.readBase, memory.writeTag, memory.writeBase,
    memory.u8, memory.i8, memory.u16, memory.i16, memory.i32, block.ops, arithmetic, execute);
}

/** The function body for `block` (exported for tests that read what the compiler makes). */
export function blockSource(block: Block): string {
  const lines: string[] = [];
  let counted = 0; // instructions already added to h.retired (by a commit before execute(), or by execute())
  for (let index = 0; index < block.ops.length; index++) {
    const d = block.ops[index]!, pc = block.pcs[index]!, next = (pc + d.size) >>> 0;
    const exit = `{ h.pc = ${pc}; h.retired += ${index - counted}; ${FLUSH} return; }`;
    const done = `h.retired += ${index + 1 - counted}; ${FLUSH} return;`;
    const fill = (text: string) => text.replaceAll('x[A]', `x[${d.rs1}]`).replaceAll('x[B]', `x[${d.rs2}]`);
    const load = LOAD[d.op], store = STORE[d.op], register = REGISTER_OPERATION[d.op], branch = BRANCH[d.op];
    if (register) lines.push(`x[${d.rd}] = ${fill(register)};`);
    else if (branch) lines.push(`h.pc = ${fill(branch)} ? ${(pc + d.imm) >>> 0} : ${next}; ${done}`);
    else if (load) {
      const aligned = load.size === 1 ? '' : ` && (a & ${load.size - 1}) === 0`;
      lines.push(`a = (x[${d.rs1}] + ${d.imm}) | 0; t = a >>> 12;`,
        `if (rT[t & ${L1_MASK}] === t${aligned}) x[${d.rd}] = ${load.array}[(rB[t & ${L1_MASK}] + (a & 4095)) >> ${load.shift}];`,
        `else { v = m.load(a, ${load.size}, ${load.signed}); if (m.cause >= 0) ${exit} x[${d.rd}] = v; }`);
    } else if (store) {
      const aligned = store.size === 1 ? '' : ` && (a & ${store.size - 1}) === 0`;
      lines.push(`a = (x[${d.rs1}] + ${d.imm}) | 0; t = a >>> 12;`,
        `if (wT[t & ${L1_MASK}] === t${aligned}) ${store.array}[(wB[t & ${L1_MASK}] + (a & 4095)) >> ${store.shift}] = x[${d.rs2}];`,
        `else if (!m.store(a, ${store.size}, x[${d.rs2}])) ${exit}`);
    } else {
      const inline = inlineSource(d, pc, next, done);
      if (inline !== undefined) lines.push(inline);
      else {
        // Not inlined: execute() runs and counts it, after the instructions before it are counted.
        lines.push(`h.retired += ${index - counted}; ${FLUSH} v = execute(h, ops[${index}], ${pc}); if (v < 0) { h.pc = ${pc}; return; } ${RELOAD}`);
        counted = index + 1;
        if (endsBlock(d.op)) lines.push('h.pc = v; return;');
      }
    }
  }
  if (!endsBlock(block.ops[block.ops.length - 1]!.op)) lines.push(`h.pc = ${block.end}; h.retired += ${block.ops.length - counted}; ${FLUSH}`);
  return withLocalRegisters(lines.map((line) => '  ' + line).join('\n'));
}

const FLUSH = '@flush@';
const RELOAD = '@reload@';

/**
 * Keeps the guest registers a block uses in JavaScript locals (r1..r31; r32 takes writes to
 * x0): loaded on entry, written back to the register file wherever the block leaves and
 * before execute(), reloaded after it. Every value held in a local is an int32.
 */
function withLocalRegisters(body: string): string {
  const used = new Set<number>(), written = new Set<number>();
  for (const match of body.matchAll(/x\[(\d+)\]/g)) used.add(Number(match[1]));
  for (const match of body.matchAll(/x\[(\d+)\] = (?!=)/g)) written.add(Number(match[1]));
  used.delete(0);
  used.delete(DISCARD);
  written.delete(DISCARD);
  const registers = [...used].sort((a, b) => a - b);
  const flush = [...written].sort((a, b) => a - b).map((index) => `x[${index}] = r${index};`).join(' ');
  const reload = registers.map((index) => `r${index} = x[${index}];`).join(' ');
  const renamed = body.replace(/x\[(\d+)\]/g, (_, index: string) => (index === '0' ? '0' : `r${index}`))
    .replaceAll(FLUSH, flush).replaceAll(RELOAD, reload);
  const declarations = [...registers.map((index) => `r${index} = x[${index}]`), `r${DISCARD} = 0`].join(', ');
  return `  let ${declarations};\n${renamed}`;
}

/** The source of an instruction compiled without memory access, or undefined if it is left to execute(). */
function inlineSource(d: Decoded, pc: number, next: number, done: string): string | undefined {
  const rs1 = `x[${d.rs1}]`;
  switch (d.op) {
    case Op.Lui: return `x[${d.rd}] = ${d.imm};`;
    case Op.Auipc: return `x[${d.rd}] = ${(pc + d.imm) | 0};`;
    case Op.Addi: return `x[${d.rd}] = (${rs1} + ${d.imm}) | 0;`;
    case Op.Slti: return `x[${d.rd}] = ${rs1} < ${d.imm} ? 1 : 0;`;
    case Op.Sltiu: return `x[${d.rd}] = (${rs1} >>> 0) < ${d.imm >>> 0} ? 1 : 0;`;
    case Op.Xori: return `x[${d.rd}] = ${rs1} ^ ${d.imm};`;
    case Op.Ori: return `x[${d.rd}] = ${rs1} | ${d.imm};`;
    case Op.Andi: return `x[${d.rd}] = ${rs1} & ${d.imm};`;
    case Op.Slli: return `x[${d.rd}] = ${rs1} << ${d.imm};`;
    case Op.Srli: return `x[${d.rd}] = (${rs1} >>> ${d.imm}) | 0;`;
    case Op.Srai: return `x[${d.rd}] = ${rs1} >> ${d.imm};`;
    case Op.Fence: return '';
    case Op.Jal: return `x[${d.rd}] = ${next | 0}; h.pc = ${(pc + d.imm) >>> 0}; ${done}`;
    case Op.Jalr: return `t = (${rs1} + ${d.imm}) & -2; x[${d.rd}] = ${next | 0}; h.pc = t >>> 0; ${done}`;
    default: return undefined;
  }
}
