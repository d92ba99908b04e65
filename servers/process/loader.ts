// exec's loading half: a new Sv32 address space from the memory server with the program's
// PT_LOAD segments in it (file bytes copied, the rest of each segment zero), the initial
// stack written into its top pages and the rest of the stack a demand-zero region below.
// Pages that two segments share get both segments' bytes and the union of their
// permissions. A failure part-way destroys the new space, so exec loses nothing.

import type { ExecutableImage } from './elf.js';
import { buildInitialStack, type InitialStack } from './initial_stack.js';

export const PAGE = 4096;
/** The first address above user space: the stack's top page ends here. */
export const USER_TOP = 0x8000_0000;
/** The stack may grow to this many bytes (RLIMIT_STACK's usual 8 MiB). */
export const STACK_LIMIT = 8 << 20;

/** What the loader needs of the memory server (memoryInterface) and of guest RAM. */
export interface LoaderMemory {
  createSpace(): Promise<number>;
  destroySpace(space: number): Promise<void>;
  /** A zeroed 4 KiB page; its physical address. */
  allocatePage(): Promise<number>;
  /** Maps `pa` at `va` with permissions letters ("rxu", "rwu"); an existing mapping's are changed with protect. */
  map(space: number, va: number, pa: number, permissions: string): Promise<void>;
  protect(space: number, va: number, permissions: string): Promise<void>;
  reserveRegion(space: number, va: number, length: number, permissions: string): Promise<void>;
  /** Writes into guest RAM at a physical address. */
  write(pa: number, bytes: Uint8Array): void;
}

export interface LoadRequest {
  readonly image: ExecutableImage;
  /** The whole file, for the segments' bytes. */
  readonly file: Uint8Array;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  readonly executablePath: string;
  readonly random: Uint8Array;
}

export interface LoadedProgram {
  readonly space: number;
  readonly entry: number;
  readonly stack: InitialStack;
  /** The program break at start (page-aligned end of the last segment). */
  readonly brk: number;
}

const letters = (readable: boolean, writable: boolean, executable: boolean) =>
  `${readable || writable ? 'r' : ''}${writable ? 'w' : ''}${executable ? 'x' : ''}u`;

export async function loadProgram(memory: LoaderMemory, request: LoadRequest): Promise<LoadedProgram> {
  const { image, file } = request;
  // Built before any page is taken: too-long arguments cost nothing.
  const stack = buildInitialStack({
    top: USER_TOP, argv: request.argv, envp: request.envp, executablePath: request.executablePath,
    programHeaders: image.programHeaders, entry: image.entry, random: request.random,
  });
  const space = await memory.createSpace();
  try {
    const pages = new Map<number, { pa: number; readable: boolean; writable: boolean; executable: boolean }>();
    for (const segment of image.segments) {
      const first = Math.floor(segment.virtualAddress / PAGE) * PAGE;
      const end = segment.virtualAddress + segment.memorySize;
      for (let va = first; va < end; va += PAGE) {
        let page = pages.get(va);
        if (!page) {
          const pa = await memory.allocatePage();
          page = { pa, readable: segment.readable, writable: segment.writable, executable: segment.executable };
          pages.set(va, page);
          await memory.map(space, va, pa, letters(page.readable, page.writable, page.executable));
        } else {
          page.readable ||= segment.readable; page.writable ||= segment.writable; page.executable ||= segment.executable;
          await memory.protect(space, va, letters(page.readable, page.writable, page.executable));
        }
        // The file bytes of this segment that fall in this page.
        const from = Math.max(va, segment.virtualAddress), to = Math.min(va + PAGE, segment.virtualAddress + segment.fileSize);
        if (to > from) {
          const offset = segment.fileOffset + (from - segment.virtualAddress);
          memory.write(page.pa + (from - va), file.subarray(offset, offset + (to - from)));
        }
      }
    }
    const stackBottom = Math.floor(stack.stackPointer / PAGE) * PAGE;
    for (let va = stackBottom; va < USER_TOP; va += PAGE) {
      const pa = await memory.allocatePage();
      await memory.map(space, va, pa, 'rwu');
      const from = Math.max(va, stack.stackPointer);
      memory.write(pa + (from - va), stack.bytes.subarray(from - stack.stackPointer, Math.min(va + PAGE, USER_TOP) - stack.stackPointer));
    }
    const reserveFrom = USER_TOP - STACK_LIMIT;
    if (stackBottom > reserveFrom) await memory.reserveRegion(space, reserveFrom, stackBottom - reserveFrom, 'rwu');
    return { space, entry: image.entry, stack, brk: image.end };
  } catch (error) {
    await memory.destroySpace(space).catch(() => undefined);
    throw error;
  }
}
