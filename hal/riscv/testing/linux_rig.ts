// A test rig that runs one static RV32 Linux ELF on a Hart, in an Sv32 address space it
// builds itself in a small RAM: the loader, the initial stack, and a trap handler with the
// three system calls the fixtures use (write 64, exit 93 / exit_group 94, brk 214; any
// other returns -ENOSYS), demand-zero pages for the heap and stack, and "killed by
// signal" (status 128 + N, as a shell reports it) for other faults. It is the kernel's
// part in miniature for hart tests and benchmarks, not the process server.

import { readFileSync } from 'node:fs';
import { Ram } from '../../ram.js';
import { Hart } from '../hart.js';
import type { CompileMode } from '../block_compiler.js';
import { PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, makeSatp } from '../sv32.js';
import { Exception, describeTrap } from '../trap.js';
import { readElf } from './elf.js';
import type { ProgramResult } from './toolchain.js';

const PAGE = 4096;
const STACK_TOP = 0x7fff_f000;
const STACK_LIMIT = 8 << 20;
const ENOSYS = 38, EBADF = 9, EFAULT = 14;
const SIGNAL_STATUS = { SIGILL: 128 + 4, SIGTRAP: 128 + 5, SIGSEGV: 128 + 11 } as const;

export interface RigOptions {
  readonly mode?: CompileMode;
  readonly ramBytes?: number;
  /** Instructions per run() call (the rig's time slice). */
  readonly slice?: number;
  /** Give up after this many instructions (a runaway program). */
  readonly maximumInstructions?: number;
  readonly asid?: number;
}

export interface RigResult extends ProgramResult {
  readonly retired: number;
  /** Traps taken, by describeTrap's name part. */
  readonly traps: Readonly<Record<string, number>>;
  /** Why the program stopped, when it was killed. */
  readonly killedBy?: string;
  readonly hart: Hart;
}

/** Builds page tables in `ram` the way the memory server would, from raw PTE bits. */
export class RigAddressSpace {
  readonly ram: Ram;
  readonly root: number;
  private next: number;
  private readonly pages = new Map<number, number>();

  /** Tables and pages come from RAM at `firstFree` upwards (another space in the same RAM starts elsewhere). */
  constructor(ram: Ram, firstFree = ram.base) {
    this.ram = ram;
    this.next = firstFree;
    this.root = this.allocate();
  }

  allocate(): number {
    const page = this.next;
    if (page + PAGE > this.ram.end) throw new RangeError('the rig is out of RAM');
    this.next += PAGE;
    this.ram.fill(page, PAGE, 0);
    return page;
  }

  /** Maps the 4 KiB page at `va` to a fresh zeroed page (or returns the one mapped) with R W X bits `permissions`. */
  map(va: number, permissions: number): number {
    const vpn = va >>> 12;
    const existing = this.pages.get(vpn);
    if (existing !== undefined) {
      this.writeLeaf(va, existing, permissions | (this.leaf(va) & (PTE_R | PTE_W | PTE_X)));
      return existing;
    }
    const page = this.allocate();
    this.pages.set(vpn, page);
    this.writeLeaf(va, page, permissions);
    return page;
  }

  /** The physical address of `va`, if mapped. */
  physical(va: number): number | undefined {
    const page = this.pages.get(va >>> 12);
    return page === undefined ? undefined : page + (va & (PAGE - 1));
  }

  leaf(va: number): number {
    const table = this.table(va, false);
    return table === undefined ? 0 : this.ram.readU32(table + ((va >>> 12) & 0x3ff) * 4);
  }

  writeLeaf(va: number, page: number, permissions: number): void {
    const table = this.table(va, true)!;
    const bits = permissions | PTE_U | PTE_V | PTE_A | (permissions & PTE_W ? PTE_D : 0);
    this.ram.writeU32(table + ((va >>> 12) & 0x3ff) * 4, (page / PAGE) * 1024 + bits);
  }

  private table(va: number, create: boolean): number | undefined {
    const entry = this.root + (va >>> 22) * 4;
    const pte = this.ram.readU32(entry);
    if (pte & PTE_V) return (pte >>> 10) * PAGE;
    if (!create) return undefined;
    const table = this.allocate();
    this.ram.writeU32(entry, (table / PAGE) * 1024 + PTE_V);
    return table;
  }

  /** Copies `bytes` to user memory at `va` (mapped pages only). */
  write(va: number, bytes: Uint8Array): void {
    for (let index = 0; index < bytes.length; index++) this.ram.writeU8(this.physical(va + index)!, bytes[index]!);
  }

  /** Reads user memory, or undefined if any byte is unmapped. */
  read(va: number, length: number): Uint8Array | undefined {
    const bytes = new Uint8Array(length);
    for (let index = 0; index < length; index++) {
      const address = this.physical(va + index);
      if (address === undefined) return undefined;
      bytes[index] = this.ram.readU8(address);
    }
    return bytes;
  }
}

/** Runs the ELF at `path` with `args` (argv[0] is the path) to its exit. */
export function runElf(path: string, args: readonly string[] = [], options: RigOptions = {}): RigResult {
  const ram = Ram.allocate(options.ramBytes ?? 32 << 20);
  const space = new RigAddressSpace(ram);
  const image = readElf(readFileSync(path));
  let heapStart = 0;
  for (const segment of image.segments) {
    const permissions = (segment.readable ? PTE_R : 0) | (segment.writable ? PTE_W : 0) | (segment.executable ? PTE_X : 0);
    const first = segment.virtualAddress - (segment.virtualAddress % PAGE);
    for (let va = first; va < segment.virtualAddress + segment.memorySize; va += PAGE) space.map(va, permissions);
    space.write(segment.virtualAddress, image.bytes.subarray(segment.fileOffset, segment.fileOffset + segment.fileSize));
    heapStart = Math.max(heapStart, Math.ceil((segment.virtualAddress + segment.memorySize) / PAGE) * PAGE);
  }
  let programBreak = heapStart;

  const sp = buildStack(space, image, [path, ...args]);
  const hart = new Hart(ram, { mode: options.mode ?? 'compile' });
  hart.setSatp(makeSatp(space.root, options.asid ?? 1));
  hart.state.pc = image.entry;
  hart.state.setRegister(2, sp);

  let stdout = '';
  const decoder = new TextDecoder();
  const traps: Record<string, number> = {};
  const slice = options.slice ?? 1_000_000;
  const maximum = options.maximumInstructions ?? 20_000_000_000;
  const result = (status: number, killedBy?: string): RigResult =>
    ({ stdout, status, retired: hart.state.instret, traps, hart, ...(killedBy ? { killedBy } : {}) });
  for (;;) {
    if (hart.state.instret > maximum) throw new Error(`${path} ran past ${maximum} instructions`);
    const trap = hart.run(slice);
    if (trap.kind === 'budget') continue;
    const name = describeTrap(trap).split(' ')[0]!;
    traps[name] = (traps[name] ?? 0) + 1;
    if (trap.kind === 'interrupt') continue;
    const x = hart.state;
    switch (trap.cause) {
      case Exception.EcallFromUser: {
        const number = x.register(17), a0 = x.register(10), a1 = x.register(11), a2 = x.register(12);
        let value: number;
        if (number === 93 || number === 94) return result(a0 & 0xff);
        if (number === 64) {
          const bytes = a0 === 1 || a0 === 2 ? space.read(a1, a2) : undefined;
          if (bytes) stdout += decoder.decode(bytes, { stream: true });
          value = a0 !== 1 && a0 !== 2 ? -EBADF : bytes ? a2 : -EFAULT; // the rig has only stdout and stderr
        } else if (number === 214) {
          if (a0 >= heapStart && a0 < STACK_TOP - STACK_LIMIT) programBreak = a0;
          value = programBreak;
        } else value = -ENOSYS;
        x.setRegister(10, value);
        x.pc = trap.epc + 4;
        break;
      }
      case Exception.LoadPageFault: case Exception.StorePageFault: case Exception.InstructionPageFault: {
        const inHeap = trap.tval >= heapStart && trap.tval < programBreak;
        const inStack = trap.tval < STACK_TOP && trap.tval >= STACK_TOP - STACK_LIMIT;
        if ((inHeap || inStack) && trap.cause !== Exception.InstructionPageFault && space.physical(trap.tval) === undefined) {
          space.map(trap.tval - (trap.tval % PAGE), PTE_R | PTE_W); // demand zero; resume the instruction
          break;
        }
        return result(SIGNAL_STATUS.SIGSEGV, describeTrap(trap));
      }
      case Exception.IllegalInstruction: return result(SIGNAL_STATUS.SIGILL, describeTrap(trap));
      case Exception.Breakpoint: return result(SIGNAL_STATUS.SIGTRAP, describeTrap(trap));
      default: return result(SIGNAL_STATUS.SIGSEGV, describeTrap(trap));
    }
  }
}

/** The Linux initial stack: argc, argv, envp (empty), auxv, with the strings and AT_RANDOM's 16 bytes above. */
function buildStack(space: RigAddressSpace, image: ReturnType<typeof readElf>, argv: readonly string[]): number {
  const top = STACK_TOP;
  for (let va = top - 4 * PAGE; va < top; va += PAGE) space.map(va, PTE_R | PTE_W);
  const encoder = new TextEncoder();
  let cursor = top;
  const pointers = argv.map((text) => {
    const bytes = encoder.encode(text + '\0');
    cursor -= bytes.length;
    space.write(cursor, bytes);
    return cursor;
  });
  cursor -= 16;
  const random = cursor;
  space.write(random, Uint8Array.from({ length: 16 }, (_, index) => index * 17));
  const auxv = [3, image.programHeaders.address, 4, image.programHeaders.entrySize, 5, image.programHeaders.count, 6, PAGE, 9, image.entry, 25, random, 0, 0];
  const words = [argv.length, ...pointers, 0, 0, ...auxv];
  cursor = (cursor - words.length * 4) & ~15;
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((word, index) => view.setUint32(index * 4, word >>> 0, true));
  space.write(cursor, bytes);
  return cursor >>> 0;
}
