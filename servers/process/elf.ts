// Reading a static ELF32 RISC-V executable for exec (the ELF gABI, the RISC-V psABI): the
// entry, the PT_LOAD segments and where the program headers are in memory (AT_PHDR).
// ET_EXEC only: a static-pie (ET_DYN) or a dynamically linked program (PT_INTERP) is refused
// with the reason, as is anything that is not ELFCLASS32 little-endian RISC-V or whose
// segments lie outside the file, overlap, or reach above the user address range.

export interface LoadSegment {
  readonly virtualAddress: number;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memorySize: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly executable: boolean;
}

export interface ExecutableImage {
  readonly entry: number;
  readonly segments: readonly LoadSegment[];
  /** AT_PHDR, AT_PHENT, AT_PHNUM. */
  readonly programHeaders: { readonly address: number; readonly entrySize: number; readonly count: number };
  /** The first address above every segment, page-aligned: where brk starts. */
  readonly end: number;
}

/** Why an image cannot be executed (exec answers ENOEXEC with this message). */
export class NotExecutableError extends Error {
  constructor(why: string) {
    super(`not a static RV32 executable: ${why}`);
    this.name = 'NotExecutableError';
  }
}

const PT_LOAD = 1, PT_INTERP = 3, PT_PHDR = 6, EM_RISCV = 243, ET_EXEC = 2, ET_DYN = 3;
const PF_X = 1, PF_W = 2, PF_R = 4;
const EHDR_SIZE = 52, PHDR_SIZE = 32;
const PAGE = 4096;

export function readExecutable(bytes: Uint8Array, userTop: number): ExecutableImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => { throw new NotExecutableError(why); };
  if (bytes.length < EHDR_SIZE || view.getUint32(0, false) !== 0x7f454c46) fail('no ELF magic');
  if (bytes[4] !== 1) fail(`EI_CLASS ${bytes[4]} is not ELFCLASS32`);
  if (bytes[5] !== 1) fail(`EI_DATA ${bytes[5]} is not little-endian`);
  const type = view.getUint16(16, true);
  if (type === ET_DYN) fail('ET_DYN (a shared object or static-pie) is not loaded yet; link with -static -no-pie');
  if (type !== ET_EXEC) fail(`e_type ${type} is not ET_EXEC`);
  if (view.getUint16(18, true) !== EM_RISCV) fail(`e_machine ${view.getUint16(18, true)} is not RISC-V (243)`);
  const entry = view.getUint32(24, true);
  const phoff = view.getUint32(28, true), phentsize = view.getUint16(42, true), phnum = view.getUint16(44, true);
  if (phentsize !== PHDR_SIZE) fail(`e_phentsize ${phentsize} is not ${PHDR_SIZE}`);
  if (phnum === 0 || phoff + phentsize * phnum > bytes.length) fail('program headers missing or past the end of the file');
  const segments: LoadSegment[] = [];
  let headerAddress: number | undefined;
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * phentsize;
    const kind = view.getUint32(at, true);
    const fileOffset = view.getUint32(at + 4, true), virtualAddress = view.getUint32(at + 8, true);
    const fileSize = view.getUint32(at + 16, true), memorySize = view.getUint32(at + 20, true), flags = view.getUint32(at + 24, true);
    if (kind === PT_INTERP) fail('it asks for an interpreter (dynamically linked); link with -static');
    if (kind === PT_PHDR) headerAddress = virtualAddress;
    if (kind !== PT_LOAD || memorySize === 0) continue;
    if (fileOffset + fileSize > bytes.length) fail(`segment ${index} lies past the end of the file`);
    if (fileSize > memorySize) fail(`segment ${index} has more file bytes than memory`);
    if (virtualAddress + memorySize > userTop || virtualAddress < PAGE) fail(`segment ${index} at 0x${virtualAddress.toString(16)} is outside the user range`);
    if ((virtualAddress - fileOffset) % PAGE !== 0) fail(`segment ${index}'s address and offset differ modulo the page size`);
    const previous = segments.at(-1);
    if (previous && virtualAddress < previous.virtualAddress + previous.memorySize) fail(`segment ${index} overlaps the one before it or is out of order`);
    if (phoff >= fileOffset && phoff + phentsize * phnum <= fileOffset + fileSize) headerAddress ??= virtualAddress + (phoff - fileOffset);
    segments.push({ virtualAddress, fileOffset, fileSize, memorySize, readable: (flags & PF_R) !== 0, writable: (flags & PF_W) !== 0, executable: (flags & PF_X) !== 0 });
  }
  if (segments.length === 0) fail('no PT_LOAD segment');
  if (!segments.some((segment) => segment.executable && entry >= segment.virtualAddress && entry < segment.virtualAddress + segment.memorySize)) {
    fail(`the entry 0x${entry.toString(16)} is not in an executable segment`);
  }
  const last = segments.at(-1)!;
  const end = Math.ceil((last.virtualAddress + last.memorySize) / PAGE) * PAGE;
  return { entry, segments, programHeaders: { address: headerAddress ?? 0, entrySize: phentsize, count: phnum }, end };
}
