// exec's pieces end to end without threads: real picolibc programs (hal/riscv's C fixtures)
// exec'd (read through a map of files shaped as the VFS, checked by readExecutable, loaded by loadProgram) into real Sv32 tables (servers/memory/sv32.ts)
// in guest RAM, scheduled by the kernel's Scheduler on a Hart with a timer that ticks per
// interrupt check, their system calls served by serveSystemCall and their page faults by a
// demand-zero pager over the reserved regions: the same stdout and exit status as the same
// ELF under qemu-riscv32. Skips, and says so, where the toolchain or qemu-riscv32 is absent.

import { describe, expect, it } from 'vitest';
import type { PhysAddr } from '../../hal/address.js';
import { Ram } from '../../hal/ram.js';
import { Hart, type InterruptSource } from '../../hal/riscv/hart.js';
import { makeSatp } from '../../hal/riscv/sv32.js';
import { temporaryDirectory } from '../../test/harness/host.js';
import type { Stat } from '../../ipc/interfaces/fs.js';
import { buildFixture, hasCompiler, hasQemu, readProgram, runUnderQemu } from '../../hal/riscv/testing/toolchain.js';
import { TIMER_PENDING } from '../../hal/timer.js';
import { Scheduler, type SliceTimer, type TrapPort } from '../../microkernel/scheduler.js';
import { UserProcessTable, type UserProcess } from '../../microkernel/user_processes.js';
import { map as mapPte, permissions as permissionBits, protect as protectPte, translate } from '../memory/sv32.js';
import { execute } from './exec.js';
import { STACK_LIMIT, USER_TOP, type LoaderMemory } from './loader.js';
import { ProcessRecord, UserFaultError, serveSystemCall, type FileService, type ProcessServices, type UserMemory } from './system_calls.js';

/** This folder's C test programs (built with hal/riscv's start file and system interface). */
const OWN_FIXTURES = decodeURIComponent(new URL('./fixtures/', import.meta.url).pathname).replace('/build/servers/', '/servers/');

/** Files as the VFS would keep them: a map of paths, one offset per open-file description, errno codes. */
class MapFiles implements FileService {
  readonly contents = new Map<string, Uint8Array>();
  private readonly descriptions = new Map<number, { path: string; offset: number }>();
  private next = 1;
  private refuse(code: string): never { throw Object.assign(new Error(code), { code }); }
  private entry(description: number) { return this.descriptions.get(description) ?? this.refuse('EBADF'); }
  private status(path: string): Stat {
    const data = this.contents.get(path) ?? this.refuse('ENOENT');
    return { device: 1, inode: 2, mode: 0o100644, links: 1, uid: 0, gid: 0, size: data.length, blockBytes: 4096, sectors: 0, accessTime: 0, modifyTime: 0, changeTime: 0 };
  }
  async open({ path, flags }: { path: string; flags: number }) {
    if (!this.contents.has(path)) { if (flags & 0o100) this.contents.set(path, new Uint8Array(0)); else this.refuse('ENOENT'); }
    const description = this.next++;
    this.descriptions.set(description, { path, offset: 0 });
    return { description, stat: this.status(path) };
  }
  async read({ description, length }: { description: number; length: number }) {
    const entry = this.entry(description), data = this.contents.get(entry.path)!.slice(entry.offset, entry.offset + length);
    entry.offset += data.length;
    return { data };
  }
  async write({ description, data }: { description: number; data: Uint8Array }) {
    const entry = this.entry(description), old = this.contents.get(entry.path)!;
    const grown = new Uint8Array(Math.max(old.length, entry.offset + data.length));
    grown.set(old); grown.set(data, entry.offset);
    this.contents.set(entry.path, grown);
    entry.offset += data.length;
    return { written: data.length };
  }
  async lseek({ description, offset, whence }: { description: number; offset: number; whence: number }) {
    const entry = this.entry(description);
    entry.offset = (whence === 0 ? 0 : whence === 1 ? entry.offset : this.contents.get(entry.path)!.length) + offset;
    return { offset: entry.offset };
  }
  async close({ description }: { description: number }) { this.entry(description); this.descriptions.delete(description); return {}; }
  async fstat({ description }: { description: number }) { return this.status(this.entry(description).path); }
  async stat({ path }: { path: string }) { return this.status(path); }
  async lstat({ path }: { path: string }) { return this.status(path); }
}

const PAGE = 4096;
const canBuild = hasCompiler();
const canCompare = canBuild && hasQemu();

class SteppingTimer implements SliceTimer, InterruptSource {
  ticks = 0;
  readonly compare: number[];
  constructor(harts: number) { this.compare = Array.from({ length: harts }, () => Number.POSITIVE_INFINITY); }
  mtime(): number { return this.ticks; }
  pendingInterrupts(hart: number): number { return ++this.ticks >= this.compare[hart]! ? TIMER_PENDING : 0; }
  setCompare(hart: number, ticks: number): void { this.compare[hart] = ticks; }
  setSoftware(): void {}
  wake(): void {}
}

/** Guest RAM with a bump page allocator, Sv32 spaces, and demand-zero regions per space. */
class GuestMemory implements LoaderMemory {
  readonly ram = Ram.allocate(64 << 20, 0x8000_0000);
  readonly roots = new Map<number, number>();
  readonly regions = new Map<number, Array<{ va: number; length: number; permissions: string }>>();
  private next = this.ram.base;
  private readonly tables = { allocateTable: () => this.page() as PhysAddr, freeTable: () => {} };

  page(): number {
    const pa = this.next;
    this.next += PAGE;
    if (this.next > this.ram.end) throw new Error('OUT_OF_MEMORY');
    this.ram.fill(pa, PAGE, 0);
    return pa;
  }
  async createSpace(): Promise<number> { const id = this.roots.size + 1; this.roots.set(id, this.page()); this.regions.set(id, []); return id; }
  async destroySpace(space: number): Promise<void> { this.roots.delete(space); }
  async allocatePage(): Promise<number> { return this.page(); }
  async map(space: number, va: number, pa: number, permissions: string): Promise<void> { mapPte(this.ram, this.tables, this.roots.get(space)!, va, pa, permissionBits(permissions)); }
  async protect(space: number, va: number, permissions: string): Promise<void> { protectPte(this.ram, this.roots.get(space)!, va, permissionBits(permissions)); }
  async reserveRegion(space: number, va: number, length: number, permissions: string): Promise<void> { this.regions.get(space)!.push({ va, length, permissions }); }
  write(pa: number, bytes: Uint8Array): void { this.ram.write(pa, bytes); }

  /** The pager: a zeroed page for a touch inside a reserved region; false outside every one. */
  demandZero(space: number, va: number): boolean {
    const region = this.regions.get(space)!.find((r) => va >= r.va && va < r.va + r.length);
    if (!region) return false;
    mapPte(this.ram, this.tables, this.roots.get(space)!, Math.floor(va / PAGE) * PAGE, this.page(), permissionBits(region.permissions));
    return true;
  }

  /** A UserMemory for `space`: user-mode translation, demand-zero on a first touch, EFAULT elsewhere. */
  user(space: number): UserMemory {
    const physical = (va: number, access: 'read' | 'write') => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const result = translate(this.ram, this.roots.get(space)!, va, access, 'user');
        if (typeof result === 'number') return result;
        if (attempt === 0 && !this.demandZero(space, va)) break;
      }
      throw new UserFaultError(va);
    };
    return {
      read: async (address, length) => {
        const out = new Uint8Array(length);
        for (let done = 0; done < length;) {
          const va = address + done, chunk = Math.min(length - done, PAGE - (va % PAGE));
          out.set(this.ram.read(physical(va, "read"), chunk), done);
          done += chunk;
        }
        return out;
      },
      write: async (address, bytes) => {
        for (let done = 0; done < bytes.length;) {
          const va = address + done, chunk = Math.min(bytes.length - done, PAGE - (va % PAGE));
          this.ram.write(physical(va, 'write'), bytes.subarray(done, done + chunk));
          done += chunk;
        }
      },
    };
  }
}

interface Ran { readonly stdout: string; readonly status: number; readonly process: UserProcess; readonly preemptions: number }

/** Execs each program (its own space and ASID) and runs them all on `harts` harts taking turns, until every one has ended. */
async function runPrograms(programs: ReadonlyArray<{ elf: string; args: readonly string[] }>, harts = 1, files: MapFiles = new MapFiles()): Promise<Ran[]> {
  const memory = new GuestMemory();
  const timer = new SteppingTimer(harts);
  const pending = new Set<Promise<void>>();
  const table = new UserProcessTable(8);
  const byPid = new Map<number, { record: ProcessRecord; services: ProcessServices; space: number; output: { text: string }; ended?: number }>();
  const port: TrapPort = {
    systemCall: (process, call) => {
      const own = byPid.get(process.pid)!;
      const served: Promise<void> = serveSystemCall(own.record, call, own.services).then((outcome) => {
        pending.delete(served);
        if (outcome.kind === 'exit') scheduler.exit(process.pid, outcome.status);
        else scheduler.reply(process.pid, outcome.value);
      });
      pending.add(served);
    },
    pageFault: (process, address) => { scheduler.faultHandled(process.pid, memory.demandZero(byPid.get(process.pid)!.space, address)); },
    exited: (process) => { byPid.get(process.pid)!.ended = process.exitStatus!; },
  };
  const scheduler = new Scheduler(table, timer, port, { sliceTicks: 8 });
  const processes: UserProcess[] = [];
  for (const [index, { elf, args }] of programs.entries()) {
    // exec reads the program through the files, as the process server reads it through the VFS.
    const path = `/bin/program${index}`;
    files.contents.set(path, readProgram(elf));
    const loaded = await execute(files, memory, { path, argv: [path, ...args], envp: ['PATH=/bin'], random: new Uint8Array(16).fill(7) });
    const output = { text: '' };
    const decoder = new TextDecoder();
    const services: ProcessServices = {
      files,
      console: { write: async (bytes) => { output.text += decoder.decode(bytes, { stream: true }); }, read: async () => new Uint8Array(0) },
      regions: { reserve: (va, length, permissions) => memory.reserveRegion(loaded.space, va, length, permissions), release: async () => {} },
      clock: { realtimeNanoseconds: () => 1_700_000_000_000_000_000n, monotonicNanoseconds: () => 1_000n },
      system: { sysname: 'baton', nodename: 'baton', release: '0.1.0', version: '#1', machine: 'riscv32' },
    };
    const process = table.create({ ppid: 0, commandLine: [path, ...args], entry: loaded.entry, stackPointer: loaded.stack.stackPointer, satp: makeSatp(memory.roots.get(loaded.space)!, index + 1) }, 0)!;
    byPid.set(process.pid, { record: new ProcessRecord(process.pid, 0, memory.user(loaded.space), loaded.brk, USER_TOP - STACK_LIMIT), services, space: loaded.space, output });
    scheduler.admit(process);
    processes.push(process);
  }
  const hartList = Array.from({ length: harts }, (_, hartId) => new Hart(memory.ram, { hartId, interrupts: timer }));
  for (let steps = 0; processes.some((process) => process.state !== 'exited'); steps++) {
    if (steps > 1_000_000) throw new Error(`did not end: ${processes.map((p) => `${p.pid} ${p.state} pc 0x${p.register(33).toString(16)}`).join(', ')}`);
    const results = hartList.map((hart) => scheduler.step(hart));
    if (results.every((result) => result === 'idle') && pending.size > 0) await Promise.race(pending);
  }
  return processes.map((process) => ({ stdout: byPid.get(process.pid)!.output.text, status: byPid.get(process.pid)!.ended!, process, preemptions: scheduler.preemptions }));
}

async function runProgram(elf: string, args: readonly string[], files: MapFiles = new MapFiles()): Promise<Ran> {
  return (await runPrograms([{ elf, args }], 1, files))[0]!;
}

const PROGRAMS: ReadonlyArray<{ name: string; args: string[]; status?: number }> = [
  { name: 'primes', args: ['3000'] },
  { name: 'sha256', args: ['4'] },
  { name: 'sort', args: ['5000'] },
  { name: 'edges', args: [], status: 7 },
  { name: 'segfault', args: [], status: 139 },
];

describe.skipIf(!canBuild)('programs exec-loaded and scheduled', () => {
  for (const { name, args, status } of PROGRAMS) {
    it.skipIf(!canCompare)(`${name} ${args.join(' ')} gives qemu-riscv32's output and exit status`, async () => {
      const elf = buildFixture(name);
      const expected = runUnderQemu(elf, args);
      if (status !== undefined) expect(expected.status).toBe(status);
      const actual = await runProgram(elf, args);
      expect({ stdout: actual.stdout, status: actual.status }).toEqual({ stdout: expected.stdout, status: expected.status });
      expect(actual.process.instructions).toBeGreaterThan(100);
      expect(actual.process.state).toBe('exited');
    });
  }

  it.skipIf(!canCompare)('four programs at once in their own address spaces, preempted on two harts, each give qemu-riscv32\'s output', async () => {
    const chosen = [PROGRAMS[0]!, PROGRAMS[1]!, PROGRAMS[2]!, PROGRAMS[4]!];
    const elves = chosen.map(({ name, args }) => ({ elf: buildFixture(name), args }));
    const expected = elves.map(({ elf, args }) => runUnderQemu(elf, args));
    const actual = await runPrograms(elves, 2);
    expect(actual.map(({ stdout, status }) => ({ stdout, status }))).toEqual(expected.map(({ stdout, status }) => ({ stdout, status })));
    expect(new Set(actual.map(({ process }) => process.pid)).size).toBe(4);
    expect(actual[0]!.preemptions).toBeGreaterThan(4);
  });

  it.skipIf(!canCompare)('a program sees its arguments and auxiliary vector as under qemu-riscv32, and exits with argc', async () => {
    const elf = buildFixture('arguments', OWN_FIXTURES);
    const args = ['hello', 'wörld', '', 'with space'];
    const expected = runUnderQemu(elf, args);
    expect(expected.status).toBe(5);
    const actual = await runProgram(elf, args);
    expect({ stdout: actual.stdout, status: actual.status }).toEqual({ stdout: expected.stdout, status: expected.status });
  });

  it.skipIf(!canCompare)('a program creating, writing, seeking, reading and stating a file prints what it prints under qemu-riscv32', async () => {
    const elf = buildFixture('files', OWN_FIXTURES);
    const host = temporaryDirectory('process-files');
    try {
      const expected = runUnderQemu(elf, [host.path]);
      const files = new MapFiles();
      const actual = await runProgram(elf, ['/tmp'], files);
      expect({ stdout: actual.stdout, status: actual.status }).toEqual({ stdout: expected.stdout, status: expected.status });
      expect(expected.stdout).toContain('read -> 13: writes files\n');
      expect(new TextDecoder().decode(files.contents.get('/tmp/notes.txt'))).toBe('baton writes files\n');
    } finally {
      host.remove();
    }
  });
});
if (!canBuild) console.warn('servers/process/run_program.test.ts: the cross toolchain is missing, so no real program was exec-loaded');
