// The ELF reader, the initial stack and the loader against a fake memory peer: an ELF built
// here byte by byte (so these run without a toolchain), and, where the cross compiler is
// installed, a real picolibc program whose segments are checked against readelf's.

import { describe, expect, it } from 'vitest';
import { readExecutable, NotExecutableError } from './elf.js';
import { AuxType, ArgumentsTooLongError, HWCAP_RV32IMAC, buildInitialStack } from './initial_stack.js';
import { ExecError, execute } from './exec.js';
import type { FileService } from './system_calls.js';
import { loadProgram, STACK_LIMIT, USER_TOP, type LoaderMemory } from './loader.js';

const PAGE = 4096;

/** A memory peer: spaces as page maps, pages in a byte array, reads through a space's mappings. */

class FakeMemory implements LoaderMemory {
  readonly ram = new Uint8Array(8 << 20);
  readonly spaces = new Map<number, Map<number, { pa: number; permissions: string }>>();
  readonly regions: Array<{ space: number; va: number; length: number; permissions: string }> = [];
  readonly destroyed: number[] = [];
  allocated = 0;
  failAfter = Number.POSITIVE_INFINITY;
  private nextSpace = 1;
  private nextPage = 0;

  async createSpace(): Promise<number> {
    const space = this.nextSpace++;
    this.spaces.set(space, new Map());
    return space;
  }

  async destroySpace(space: number): Promise<void> {
    this.spaces.delete(space);
    this.destroyed.push(space);
  }

  async allocatePage(): Promise<number> {
    if (this.allocated >= this.failAfter) throw new Error('OUT_OF_MEMORY: the fake is full');
    this.allocated++;
    const pa = this.nextPage;
    this.nextPage += PAGE;
    return pa;
  }

  async map(space: number, va: number, pa: number, permissions: string): Promise<void> {
    const pages = this.space(space);
    if (pages.has(va)) throw new Error(`MAPPING_EXISTS at 0x${va.toString(16)}`);
    pages.set(va, { pa, permissions });
  }

  async protect(space: number, va: number, permissions: string): Promise<void> {
    const page = this.space(space).get(va);
    if (!page) throw new Error(`NOT_MAPPED at 0x${va.toString(16)}`);
    page.permissions = permissions;
  }

  async reserveRegion(space: number, va: number, length: number, permissions: string): Promise<void> {
    this.space(space);
    this.regions.push({ space, va, length, permissions });
  }

  write(pa: number, bytes: Uint8Array): void {
    this.ram.set(bytes, pa);
  }

  /** `length` bytes at `va` through the space's mappings (throws on an unmapped page). */
  read(space: number, va: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let index = 0; index < length; index++) {
      const address = va + index;
      const page = this.space(space).get(address & ~(PAGE - 1));
      if (!page) throw new Error(`0x${address.toString(16)} is not mapped`);
      out[index] = this.ram[page.pa + (address & (PAGE - 1))]!;
    }
    return out;
  }

  word(space: number, va: number): number {
    const bytes = this.read(space, va, 4);
    return new DataView(bytes.buffer).getUint32(0, true);
  }

  string(space: number, va: number): string {
    let text = '';
    for (let address = va; ; address++) {
      const byte = this.read(space, address, 1)[0]!;
      if (byte === 0) return text;
      text += String.fromCharCode(byte);
    }
  }

  private space(space: number): Map<number, { pa: number; permissions: string }> {
    const pages = this.spaces.get(space);
    if (!pages) throw new Error(`NO_SUCH_SPACE ${space}`);
    return pages;
  }
}

interface SegmentSpec { vaddr: number; offset: number; bytes: Uint8Array; memsz: number; flags: number }

/** An ELF32 little-endian file: header, program headers (PT_PHDR first, then PT_LOADs, then extra), segment bytes at their offsets. */
function makeElf(options: { entry: number; segments: SegmentSpec[]; type?: number; machine?: number; elfClass?: number; extraHeaders?: number[] }): Uint8Array {
  const count = 1 + options.segments.length + (options.extraHeaders?.length ?? 0);
  const size = Math.max(52 + 32 * count, ...options.segments.map((s) => s.offset + s.bytes.length));
  const file = new Uint8Array(size);
  const view = new DataView(file.buffer);
  // Segment bytes first: a text segment at offset 0 holds the headers, written over them next.
  for (const segment of options.segments) file.set(segment.bytes, segment.offset);
  file.set([0x7f, 0x45, 0x4c, 0x46, options.elfClass ?? 1, 1, 1]);
  view.setUint16(16, options.type ?? 2, true);
  view.setUint16(18, options.machine ?? 243, true);
  view.setUint32(20, 1, true);
  view.setUint32(24, options.entry, true);
  view.setUint32(28, 52, true);
  view.setUint16(40, 52, true);
  view.setUint16(42, 32, true);
  view.setUint16(44, count, true);
  const header = (index: number, type: number, offset: number, vaddr: number, filesz: number, memsz: number, flags: number) => {
    const at = 52 + 32 * index;
    view.setUint32(at, type, true); view.setUint32(at + 4, offset, true); view.setUint32(at + 8, vaddr, true); view.setUint32(at + 12, vaddr, true);
    view.setUint32(at + 16, filesz, true); view.setUint32(at + 20, memsz, true); view.setUint32(at + 24, flags, true); view.setUint32(at + 28, PAGE, true);
  };
  const first = options.segments[0]!;
  header(0, 6, 52, first.vaddr - first.offset + 52, 32 * count, 32 * count, 4);
  options.segments.forEach((segment, index) => {
    header(1 + index, 1, segment.offset, segment.vaddr, segment.bytes.length, segment.memsz, segment.flags);
  });
  options.extraHeaders?.forEach((type, index) => header(1 + options.segments.length + index, type, 0, 0, 0, 0, 4));
  return file;
}

const pattern = (length: number, seed: number) => Uint8Array.from({ length }, (_, index) => (index * 7 + seed) & 0xff);
const R = 4, W = 2, X = 1;

/** Text (with the headers) at 0x10000, RX; data at 0x10400 on the same page, RW, with bss to 0x11400. */
function sharedPageElf(): Uint8Array {
  const text = pattern(0x300, 1);
  const withHeaders = makeElf({ entry: 0x10100, segments: [{ vaddr: 0x10000, offset: 0, bytes: text, memsz: 0x300, flags: R | X }, { vaddr: 0x10400, offset: 0x400, bytes: pattern(0x40, 9), memsz: 0x1000, flags: R | W }] });
  return withHeaders;
}

describe('readExecutable', () => {
  it('reads entry, PT_LOAD segments, program headers and the break', () => {
    const file = makeElf({ entry: 0x10100, segments: [{ vaddr: 0x10000, offset: 0, bytes: pattern(0x300, 1), memsz: 0x300, flags: R | X }, { vaddr: 0x12400, offset: 0x400, bytes: pattern(0x40, 9), memsz: 0x100, flags: R | W }] });
    const image = readExecutable(file, USER_TOP);
    expect(image.entry).toBe(0x10100);
    expect(image.programHeaders).toEqual({ address: 0x10034, entrySize: 32, count: 3 });
    expect(image.segments.map((s) => [s.virtualAddress, s.fileSize, s.memorySize, s.readable, s.writable, s.executable]))
      .toEqual([[0x10000, 0x300, 0x300, true, false, true], [0x12400, 0x40, 0x100, true, true, false]]);
    expect(image.end).toBe(0x13000);
  });

  it('refuses what it cannot run, saying why', () => {
    const text = { vaddr: 0x10000, offset: 0, bytes: pattern(0x300, 1), memsz: 0x300, flags: R | X };
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(10), /no ELF magic/],
      [makeElf({ entry: 0x10100, segments: [text], elfClass: 2 }), /not ELFCLASS32/],
      [makeElf({ entry: 0x10100, segments: [text], type: 3 }), /ET_DYN/],
      [makeElf({ entry: 0x10100, segments: [text], type: 1 }), /e_type 1 is not ET_EXEC/],
      [makeElf({ entry: 0x10100, segments: [text], machine: 62 }), /e_machine 62 is not RISC-V/],
      [makeElf({ entry: 0x10100, segments: [text], extraHeaders: [3] }), /interpreter/],
      [makeElf({ entry: 0x20000, segments: [text] }), /entry 0x20000 is not in an executable segment/],
      [makeElf({ entry: 0x10100, segments: [{ ...text, flags: R | W }] }), /not in an executable segment/],
      [makeElf({ entry: 0x10100, segments: [{ ...text, vaddr: 0x10010 }] }), /differ modulo the page size/],
      [makeElf({ entry: 0x10100, segments: [{ ...text, vaddr: 0x7fff_f000, memsz: 0x2000 }] }), /outside the user range/],
      [makeElf({ entry: 0x10100, segments: [text, { ...text, offset: 0, vaddr: 0x10000 }] }), /overlaps/],
    ];
    for (const [file, reason] of cases) {
      expect(() => readExecutable(file, USER_TOP)).toThrow(NotExecutableError);
      expect(() => readExecutable(file, USER_TOP)).toThrow(reason);
    }
    const truncated = makeElf({ entry: 0x10100, segments: [text] }).subarray(0, 0x200);
    expect(() => readExecutable(truncated, USER_TOP)).toThrow(/past the end of the file/);
  });
});

describe('buildInitialStack', () => {
  it('lays out argc, argv, envp and the auxiliary vector as Linux does, 16-byte aligned', () => {
    const random = pattern(16, 3);
    const stack = buildInitialStack({
      top: USER_TOP, argv: ['/bin/hello', 'wörld', ''], envp: ['HOME=/', 'TERM=xterm'], executablePath: '/bin/hello',
      programHeaders: { address: 0x10034, entrySize: 32, count: 3 }, entry: 0x10100, random,
    });
    const view = new DataView(stack.bytes.buffer);
    const word = (address: number) => view.getUint32(address - stack.stackPointer, true);
    const string = (address: number) => {
      const start = address - stack.stackPointer;
      return new TextDecoder().decode(stack.bytes.subarray(start, stack.bytes.indexOf(0, start)));
    };
    expect(stack.stackPointer % 16).toBe(0);
    expect(stack.stackPointer + stack.bytes.length).toBe(USER_TOP);
    expect(word(stack.stackPointer)).toBe(3);
    expect([0, 1, 2].map((index) => string(word(stack.argvAddress + 4 * index)))).toEqual(['/bin/hello', 'wörld', '']);
    expect(word(stack.argvAddress + 12)).toBe(0);
    expect(stack.envpAddress).toBe(stack.argvAddress + 16);
    expect([0, 1].map((index) => string(word(stack.envpAddress + 4 * index)))).toEqual(['HOME=/', 'TERM=xterm']);
    expect(word(stack.envpAddress + 8)).toBe(0);
    const auxv = new Map<number, number>();
    for (let at = stack.auxvAddress; ; at += 8) {
      auxv.set(word(at), word(at + 4));
      if (word(at) === AuxType.AT_NULL) break;
    }
    expect(auxv.get(AuxType.AT_PAGESZ)).toBe(4096);
    expect(auxv.get(AuxType.AT_PHDR)).toBe(0x10034);
    expect(auxv.get(AuxType.AT_PHENT)).toBe(32);
    expect(auxv.get(AuxType.AT_PHNUM)).toBe(3);
    expect(auxv.get(AuxType.AT_ENTRY)).toBe(0x10100);
    expect(auxv.get(AuxType.AT_HWCAP)).toBe(HWCAP_RV32IMAC);
    expect(HWCAP_RV32IMAC).toBe((1 << 8) | (1 << 12) | (1 << 0) | (1 << 2));
    expect(string(auxv.get(AuxType.AT_EXECFN)!)).toBe('/bin/hello');
    const randomAt = auxv.get(AuxType.AT_RANDOM)!;
    expect(stack.bytes.subarray(randomAt - stack.stackPointer, randomAt - stack.stackPointer + 16)).toEqual(random);
    expect(stack.auxvAddress + 8 * auxv.size).toBeLessThanOrEqual(randomAt);
  });

  it('refuses arguments past the limit, and a NUL inside a string', () => {
    const input = { top: USER_TOP, envp: [], executablePath: '/x', programHeaders: { address: 0, entrySize: 32, count: 1 }, entry: 0, random: new Uint8Array(16) };
    expect(() => buildInitialStack({ ...input, argv: ['x'.repeat(200_000)] })).toThrow(ArgumentsTooLongError);
    expect(() => buildInitialStack({ ...input, argv: ['a\0b'] })).toThrow(/NUL/);
  });
});

describe('loadProgram', () => {
  const request = (file: Uint8Array) => ({
    image: readExecutable(file, USER_TOP), file, argv: ['/bin/t', 'one'], envp: ['A=1'], executablePath: '/bin/t', random: pattern(16, 5),
  });

  it('maps each segment page with its bytes, zero bss, the union of permissions on a shared page, and the stack', async () => {
    const memory = new FakeMemory();
    const file = sharedPageElf();
    const loaded = await loadProgram(memory, request(file));
    const pages = memory.spaces.get(loaded.space)!;
    expect(pages.get(0x10000)!.permissions).toBe('rwxu');
    expect(pages.get(0x11000)!.permissions).toBe('rwu');
    expect(memory.read(loaded.space, 0x10000, 0x300)).toEqual(file.subarray(0, 0x300));
    expect(memory.read(loaded.space, 0x10300, 0x100)).toEqual(new Uint8Array(0x100));
    expect(memory.read(loaded.space, 0x10400, 0x40)).toEqual(pattern(0x40, 9));
    expect(memory.read(loaded.space, 0x10440, 0x1000 - 0x40)).toEqual(new Uint8Array(0x1000 - 0x40));
    expect(loaded.brk).toBe(0x12000);
    expect(loaded.entry).toBe(0x10100);
    // The stack: argc and argv through the space, the rest of the stack demand-zero below.
    expect(memory.word(loaded.space, loaded.stack.stackPointer)).toBe(2);
    expect(memory.string(loaded.space, memory.word(loaded.space, loaded.stack.argvAddress + 4))).toBe('one');
    expect(memory.string(loaded.space, memory.word(loaded.space, loaded.stack.envpAddress))).toBe('A=1');
    expect(pages.get(USER_TOP - PAGE)!.permissions).toBe('rwu');
    expect(memory.regions).toEqual([{ space: loaded.space, va: USER_TOP - STACK_LIMIT, length: STACK_LIMIT - PAGE, permissions: 'rwu' }]);
  });

  it('destroys the half-built space when memory runs out part-way, and builds nothing for too-long arguments', async () => {
    const memory = new FakeMemory();
    memory.failAfter = 2;
    await expect(loadProgram(memory, request(sharedPageElf()))).rejects.toThrow(/OUT_OF_MEMORY/);
    expect(memory.destroyed).toEqual([1]);
    expect(memory.spaces.size).toBe(0);
    const fresh = new FakeMemory();
    await expect(loadProgram(fresh, { ...request(sharedPageElf()), argv: ['x'.repeat(200_000)] })).rejects.toThrow(ArgumentsTooLongError);
    expect(fresh.spaces.size).toBe(0);
  });
});

describe('execute', () => {
  /** Files at paths with a mode; every open counted and every close checked. */
  function files(entries: Record<string, { mode: number; data: Uint8Array }>) {
    const open = new Map<number, { data: Uint8Array; offset: number }>();
    let next = 1;
    const refuse = (code: string): never => { throw Object.assign(new Error(`${code} (fake)`), { code }); };
    const stat = (entry: { mode: number; data: Uint8Array }) => ({ device: 1, inode: 2, mode: entry.mode, links: 1, uid: 0, gid: 0, size: entry.data.length, blockBytes: 4096, sectors: 0, accessTime: 0, modifyTime: 0, changeTime: 0 });
    const service: FileService = {
      open: async ({ path }) => { const entry = entries[path] ?? refuse('ENOENT'); open.set(next, { data: entry.data, offset: 0 }); return { description: next++, stat: stat(entry) }; },
      read: async ({ description, length }) => { const o = open.get(description)!; const data = o.data.slice(o.offset, o.offset + Math.min(length, 100)); o.offset += data.length; return { data }; },
      write: async () => refuse('EBADF'), lseek: async () => refuse('EBADF'), fstat: async () => refuse('EBADF'), stat: async () => refuse('EBADF'), lstat: async () => refuse('EBADF'),
      close: async ({ description }) => { open.delete(description); return {}; },
    };
    return { service, open };
  }
  const elf = sharedPageElf();
  const request = { argv: ['/bin/t'], envp: [], random: new Uint8Array(16) };

  it('reads the program through the file service in pieces, loads it and closes the file', async () => {
    const { service, open } = files({ '/bin/t': { mode: 0o100755, data: elf } });
    const memory = new FakeMemory();
    const loaded = await execute(service, memory, { ...request, path: '/bin/t' });
    expect(memory.read(loaded.space, 0x10000, 0x300)).toEqual(elf.subarray(0, 0x300));
    expect(open.size).toBe(0);
  });

  it('answers ENOENT, EACCES, ENOEXEC and E2BIG with the path and reason, closing what it opened and building no space', async () => {
    const { service, open } = files({ '/dir': { mode: 0o040755, data: new Uint8Array(0) }, '/text': { mode: 0o100644, data: new TextEncoder().encode('#!/bin/sh\n') }, '/bin/t': { mode: 0o100755, data: elf } });
    const memory = new FakeMemory();
    const refusal = (path: string, argv: string[] = ['x']) => execute(service, memory, { ...request, argv, path }).then(() => undefined, (error: ExecError) => [error.errno, error.message]);
    expect(await refusal('/none')).toEqual(['ENOENT', '/none: ENOENT (fake)']);
    expect(await refusal('/dir')).toEqual(['EACCES', '/dir: not a regular file']);
    expect(await refusal('/text')).toEqual(['ENOEXEC', '/text: not a static RV32 executable: no ELF magic']);
    expect((await refusal('/bin/t', ['y'.repeat(200_000)]))?.[0]).toBe('E2BIG');
    expect(open.size).toBe(0);
    expect(memory.spaces.size).toBe(0);
  });
});

