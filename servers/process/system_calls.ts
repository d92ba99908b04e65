// The system calls the process server serves, by Linux's rv32 asm-generic numbers
// (../../../shared/RV32-LINUX-ABI.md), errors as -errno in a0. Each handler reads and writes
// the caller's memory only through UserMemory (a bad pointer is -EFAULT, never a crash of the
// server) and reaches the console and the memory server through ProcessServices. A number
// without a handler answers -ENOSYS and is reported (onUnknown; the server logs each number once).
//
// Here: read/write on the console descriptors (0, 1, 2), brk, mmap2/munmap of anonymous
// private memory, exit, exit_group, getpid, getppid, clock_gettime64 (realtime, monotonic),
// uname. Files through the VFS (openat, close, lseek, fstat on fs.ts open-file descriptions)
// are the next step; their descriptors will sit in the same table.

import type { SystemCall } from '../../microkernel/scheduler.js';

export const SystemCallNumber = {
  read: 63, write: 64, exit: 93, exit_group: 94, uname: 160, getpid: 172, getppid: 173,
  brk: 214, munmap: 215, mmap2: 222, clock_gettime64: 403,
} as const;

export const Errno = { EBADF: 9, ENOMEM: 12, EFAULT: 14, EINVAL: 22, ENOSYS: 38 } as const;

const PAGE = 4096;
const MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_FIXED = 0x10;
const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1;
/** The most bytes one read or write moves (the rest is a short count, as Linux's MAX_RW_COUNT caps). */
export const TRANSFER_LIMIT = 1 << 20;
const UTSNAME_FIELD = 65;

/** A user pointer the process may not use: the call answers -EFAULT. */
export class UserFaultError extends Error {
  constructor(address: number) {
    super(`bad user address 0x${(address >>> 0).toString(16)}`);
    this.name = 'UserFaultError';
  }
}

/** The caller's memory, through its address space (faults resolved as the hart's would be). */
export interface UserMemory {
  read(address: number, length: number): Promise<Uint8Array>;
  write(address: number, bytes: Uint8Array): Promise<void>;
}

export interface ProcessServices {
  readonly console: { write(bytes: Uint8Array): Promise<void>; read(maximum: number): Promise<Uint8Array> };
  /** Demand-zero regions in the caller's space (memoryInterface.reserveRegion / unreserveRegion). */
  readonly regions: { reserve(va: number, length: number, permissions: string): Promise<void>; release(va: number): Promise<void> };
  readonly clock: { realtimeNanoseconds(): bigint; monotonicNanoseconds(): bigint };
  readonly system: { readonly sysname: string; readonly nodename: string; readonly release: string; readonly version: string; readonly machine: string };
}

export type DescriptorEntry = { readonly kind: 'console'; readonly readable: boolean; readonly writable: boolean };

/** What the process server keeps of one process for its system calls. */
export class ProcessRecord {
  readonly pid: number;
  readonly ppid: number;
  readonly memory: UserMemory;
  /** fd → open description; fork will copy this table (fs.ts share/dup for files). */
  readonly descriptors = new Map<number, DescriptorEntry>();
  readonly brkBase: number;
  brk: number;
  /** The end of the heap's reserved pages (page-aligned). */
  heapReservedTo: number;
  /** Anonymous mappings: start → length; placed downward from mmapTop. */
  readonly mappings = new Map<number, number>();
  mmapTop: number;

  constructor(pid: number, ppid: number, memory: UserMemory, brk: number, mmapTop: number) {
    this.pid = pid;
    this.ppid = ppid;
    this.memory = memory;
    this.brkBase = this.brk = this.heapReservedTo = brk;
    this.mmapTop = mmapTop;
    this.descriptors.set(0, { kind: 'console', readable: true, writable: false });
    this.descriptors.set(1, { kind: 'console', readable: false, writable: true });
    this.descriptors.set(2, { kind: 'console', readable: false, writable: true });
  }
}

export type SystemCallOutcome = { readonly kind: 'reply'; readonly value: number } | { readonly kind: 'exit'; readonly status: number };

type Handler = (process: ProcessRecord, args: SystemCall['args'], services: ProcessServices) => Promise<SystemCallOutcome>;

const reply = (value: number): SystemCallOutcome => ({ kind: 'reply', value: value | 0 });
const error = (errno: number): SystemCallOutcome => reply(-errno);
const signed = (value: number) => value | 0;
const pageUp = (value: number) => Math.ceil(value / PAGE) * PAGE;

const handlers: Readonly<Record<number, Handler>> = {
  [SystemCallNumber.write]: async (process, [fd, buffer, count], services) => {
    const entry = process.descriptors.get(signed(fd));
    if (!entry?.writable) return error(Errno.EBADF);
    const length = Math.min(count, TRANSFER_LIMIT);
    if (length === 0) return reply(0);
    await services.console.write(await process.memory.read(buffer, length));
    return reply(length);
  },
  [SystemCallNumber.read]: async (process, [fd, buffer, count], services) => {
    const entry = process.descriptors.get(signed(fd));
    if (!entry?.readable) return error(Errno.EBADF);
    if (count === 0) return reply(0);
    const bytes = await services.console.read(Math.min(count, TRANSFER_LIMIT));
    await process.memory.write(buffer, bytes);
    return reply(bytes.length);
  },
  [SystemCallNumber.exit]: async (_process, [status]) => ({ kind: 'exit', status: status & 0xff }),
  [SystemCallNumber.exit_group]: async (_process, [status]) => ({ kind: 'exit', status: status & 0xff }),
  [SystemCallNumber.getpid]: async (process) => reply(process.pid),
  [SystemCallNumber.getppid]: async (process) => reply(process.ppid),
  [SystemCallNumber.brk]: async (process, [wanted], services) => {
    // Linux's brk: the new break if it could be set, otherwise the old one (never an error).
    if (wanted === 0 || wanted < process.brkBase) return reply(process.brk);
    const reservedTo = pageUp(wanted);
    if (reservedTo > process.mmapTop) return reply(process.brk);
    if (reservedTo > process.heapReservedTo) {
      try {
        await services.regions.reserve(process.heapReservedTo, reservedTo - process.heapReservedTo, 'rwu');
      } catch {
        return reply(process.brk);
      }
      process.heapReservedTo = reservedTo;
    }
    process.brk = wanted;
    return reply(wanted);
  },
  [SystemCallNumber.mmap2]: async (process, [address, length, protection, flags, fd], services) => {
    if (length === 0 || (flags & MAP_ANONYMOUS) === 0 || (flags & MAP_PRIVATE) === 0 || signed(fd) !== -1) return error(Errno.EINVAL);
    if ((flags & MAP_FIXED) !== 0 || (protection & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) return error(Errno.EINVAL);
    void address; // a hint; placement is the server's
    const size = pageUp(length);
    const start = process.mmapTop - size;
    if (start < pageUp(process.heapReservedTo)) return error(Errno.ENOMEM);
    const letters = `${protection & (PROT_READ | PROT_WRITE) ? 'r' : ''}${protection & PROT_WRITE ? 'w' : ''}${protection & PROT_EXEC ? 'x' : ''}u`;
    if (letters === 'u') return error(Errno.EINVAL);
    try {
      await services.regions.reserve(start, size, letters);
    } catch {
      return error(Errno.ENOMEM);
    }
    process.mappings.set(start, size);
    process.mmapTop = start;
    return reply(start);
  },
  [SystemCallNumber.munmap]: async (process, [address, length], services) => {
    const size = process.mappings.get(address);
    if (size === undefined || pageUp(length) !== size) return error(Errno.EINVAL);
    await services.regions.release(address);
    process.mappings.delete(address);
    return reply(0);
  },
  [SystemCallNumber.clock_gettime64]: async (process, [clock, pointer], services) => {
    const nanoseconds = clock === CLOCK_REALTIME ? services.clock.realtimeNanoseconds()
      : clock === CLOCK_MONOTONIC ? services.clock.monotonicNanoseconds() : undefined;
    if (nanoseconds === undefined) return error(Errno.EINVAL);
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setBigInt64(0, nanoseconds / 1_000_000_000n, true);
    view.setBigInt64(8, nanoseconds % 1_000_000_000n, true);
    await process.memory.write(pointer, bytes);
    return reply(0);
  },
  [SystemCallNumber.uname]: async (process, [pointer], services) => {
    const bytes = new Uint8Array(UTSNAME_FIELD * 6);
    const { sysname, nodename, release, version, machine } = services.system;
    [sysname, nodename, release, version, machine, '(none)'].forEach((text, index) => {
      bytes.set(new TextEncoder().encode(text).subarray(0, UTSNAME_FIELD - 1), index * UTSNAME_FIELD);
    });
    await process.memory.write(pointer, bytes);
    return reply(0);
  },
};

/**
 * Serves one system call of `process`. Never throws for anything the program did: a bad
 * pointer is -EFAULT, an unknown number -ENOSYS (onUnknown told its number).
 */
export async function serveSystemCall(process: ProcessRecord, call: SystemCall, services: ProcessServices, onUnknown: (number: number) => void = () => {}): Promise<SystemCallOutcome> {
  const handler = handlers[call.number];
  if (!handler) {
    onUnknown(call.number);
    return error(Errno.ENOSYS);
  }
  try {
    return await handler(process, call.args, services);
  } catch (caught) {
    if (caught instanceof UserFaultError) return error(Errno.EFAULT);
    throw caught;
  }
}
