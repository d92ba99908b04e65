// Reading static ELF32 RISC-V executables (the ELF gABI and the RISC-V psABI): the header
// fields and loadable segments a loader needs. Refuses anything else with a clear error.

export interface Segment {
  readonly virtualAddress: number;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memorySize: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly executable: boolean;
}

export interface ElfImage {
  readonly entry: number;
  readonly segments: readonly Segment[];
  /** Where the program headers are (AT_PHDR), their size and count. */
  readonly programHeaders: { readonly address: number; readonly entrySize: number; readonly count: number };
  readonly bytes: Uint8Array;
}

const PT_LOAD = 1, PT_PHDR = 6, EM_RISCV = 243, ET_EXEC = 2;

export function readElf(bytes: Uint8Array): ElfImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => { throw new Error(`not a static RV32 executable: ${why}`); };
  if (bytes.length < 52 || view.getUint32(0, false) !== 0x7f454c46) fail('no ELF magic');
  if (bytes[4] !== 1 || bytes[5] !== 1) fail('not ELFCLASS32 little-endian');
  if (view.getUint16(16, true) !== ET_EXEC) fail(`e_type ${view.getUint16(16, true)} is not ET_EXEC`);
  if (view.getUint16(18, true) !== EM_RISCV) fail(`e_machine ${view.getUint16(18, true)} is not RISC-V`);
  const entry = view.getUint32(24, true);
  const phoff = view.getUint32(28, true), phentsize = view.getUint16(42, true), phnum = view.getUint16(44, true);
  if (phoff + phentsize * phnum > bytes.length) fail('program headers past the end of the file');
  const segments: Segment[] = [];
  let headerAddress: number | undefined;
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * phentsize;
    const type = view.getUint32(at, true);
    const offset = view.getUint32(at + 4, true), vaddr = view.getUint32(at + 8, true);
    const fileSize = view.getUint32(at + 16, true), memorySize = view.getUint32(at + 20, true), flags = view.getUint32(at + 24, true);
    if (type === PT_PHDR) headerAddress = vaddr;
    if (type !== PT_LOAD) continue;
    if (offset + fileSize > bytes.length || fileSize > memorySize) fail(`segment ${index} lies outside the file`);
    if (phoff >= offset && phoff < offset + fileSize) headerAddress ??= vaddr + (phoff - offset);
    segments.push({ virtualAddress: vaddr, fileOffset: offset, fileSize, memorySize, readable: (flags & 4) !== 0, writable: (flags & 2) !== 0, executable: (flags & 1) !== 0 });
  }
  if (segments.length === 0) fail('no PT_LOAD segment');
  return { entry, segments, programHeaders: { address: headerAddress ?? 0, entrySize: phentsize, count: phnum }, bytes };
}
