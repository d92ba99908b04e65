// Traps out of the hart, with the privileged spec's cause codes (scause), and the record
// Hart.run() returns when it stops: the kernel (TypeScript, in the role of S-mode) reads
// it, handles the trap, sets the pc (for an ecall: epc + 4) and resumes with run() again.

/** Exception codes (scause with the interrupt bit clear). */
export const Exception = {
  InstructionMisaligned: 0,
  InstructionAccessFault: 1,
  IllegalInstruction: 2,
  Breakpoint: 3,
  LoadMisaligned: 4,
  LoadAccessFault: 5,
  StoreMisaligned: 6,
  StoreAccessFault: 7,
  EcallFromUser: 8,
  InstructionPageFault: 12,
  LoadPageFault: 13,
  StorePageFault: 15,
} as const;

/** Interrupt codes (scause with the interrupt bit set): supervisor software, timer, external. */
export const Interrupt = {
  SupervisorSoftware: 1,
  SupervisorTimer: 5,
  SupervisorExternal: 9,
} as const;

/** The sie/sip bit of an interrupt code. */
export const interruptBit = (code: number): number => 1 << code;

export const INTERRUPT_FLAG = 0x8000_0000;

export type TrapKind = 'exception' | 'interrupt' | 'budget';

/**
 * Why run() returned. For 'exception' and 'interrupt', `scause`, `tval` and `epc` are what
 * the hart also wrote to its scause, stval and sepc; `cause` is the code without the
 * interrupt bit. 'budget' means the instruction budget ran out (no trap; epc = pc).
 * `retired` counts the instructions retired during this run() call.
 */
export interface TrapRecord {
  readonly kind: TrapKind;
  readonly cause: number;
  readonly scause: number;
  readonly tval: number;
  readonly epc: number;
  readonly retired: number;
}

const EXCEPTION_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Exception).map(([name, code]) => [code, name]));
const INTERRUPT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Interrupt).map(([name, code]) => [code, name]));

/** "LoadPageFault (13) at epc 0x00010074, tval 0x00000000", for logs and test failures. */
export function describeTrap(record: TrapRecord): string {
  const hex = (value: number) => '0x' + (value >>> 0).toString(16).padStart(8, '0');
  if (record.kind === 'budget') return `budget ran out at pc ${hex(record.epc)}`;
  const name = (record.kind === 'interrupt' ? INTERRUPT_NAMES : EXCEPTION_NAMES)[record.cause] ?? 'unknown';
  return `${name} (${record.kind} ${record.cause}) at epc ${hex(record.epc)}, tval ${hex(record.tval)}`;
}
