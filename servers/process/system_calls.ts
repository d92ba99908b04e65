// The system calls the process server serves, by Linux's rv32 asm-generic numbers
// (../../../shared/RV32-LINUX-ABI.md), errors as -errno in a0. Each handler reads and writes
// the caller's memory only through UserMemory (a bad pointer is -EFAULT, never a crash of the
// server) and reaches the console and the memory server through ProcessServices. A number
// without a handler answers -ENOSYS and is reported (onUnknown; the server logs each number once).
//
// Here: read/write on the console descriptors (0, 1, 2) and on files, openat, close, llseek
// and statx (fstat is statx with AT_EMPTY_PATH on rv32) over the VFS's open-file descriptions
// (fs.ts: one reference per descriptor, so fork can dup them), brk, mmap2/munmap of anonymous
// private memory, exit, exit_group, getpid, getppid, clock_gettime64 (realtime, monotonic),
// uname.

import type { Stat } from '../../ipc/interfaces/fs.js';
import { ERRNO_NUMBERS } from '../../ipc/interfaces/errno.js';
import type { SystemCall } from '../../microkernel/scheduler.js';

export const SystemCallNumber = {
  openat: 56, close: 57, llseek: 62, read: 63, write: 64, exit: 93, exit_group: 94, uname: 160, getpid: 172, getppid: 173,
  brk: 214, munmap: 215, mmap2: 222, statx: 291, clock_gettime64: 403,
} as const;

export const Errno = { ENOENT: 2, EBADF: 9, ENOMEM: 12, EFAULT: 14, EINVAL: 22, EMFILE: 24, ESPIPE: 29, ENAMETOOLONG: 36, ENOSYS: 38 } as const;

const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
const O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2;
const PATH_MAX = 4096;
/** Descriptors per process (RLIMIT_NOFILE's usual soft limit). */
export const DESCRIPTOR_LIMIT = 1024;
const STATX_BASIC_STATS = 0x7ff;
const S_IFCHR = 0o020000;

/** The part of the VFS's fs interface the file calls use (an fs client has this shape). */
export interface FileService {
  open(args: { path: string; at?: number; flags: number; permissions?: number }): Promise<{ description: number; stat: Stat }>;
  read(args: { description: number; length: number }): Promise<{ data: Uint8Array }>;
  write(args: { description: number; data: Uint8Array }): Promise<{ written: number }>;
  lseek(args: { description: number; offset: number; whence: number }): Promise<{ offset: number }>;
  close(args: { description: number }): Promise<unknown>;
  fstat(args: { description: number }): Promise<Stat>;
  stat(args: { path: string; at?: number }): Promise<Stat>;
  lstat(args: { path: string; at?: number }): Promise<Stat>;
}

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
  readonly files: FileService;
  readonly console: { write(bytes: Uint8Array): Promise<void>; read(maximum: number): Promise<Uint8Array> };
  /** Demand-zero regions in the caller's space (memoryInterface.reserveRegion / unreserveRegion). */
  readonly regions: { reserve(va: number, length: number, permissions: string): Promise<void>; release(va: number): Promise<void> };
  readonly clock: { realtimeNanoseconds(): bigint; monotonicNanoseconds(): bigint };
  readonly system: { readonly sysname: string; readonly nodename: string; readonly release: string; readonly version: string; readonly machine: string };
}

export type DescriptorEntry =
  | { readonly kind: 'console'; readonly readable: boolean; readonly writable: boolean }
  | { readonly kind: 'file'; readonly description: number; readonly readable: boolean; readonly writable: boolean };

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
    const data = await process.memory.read(buffer, length);
    if (entry.kind === 'file') return reply((await services.files.write({ description: entry.description, data })).written);
    await services.console.write(data);
    return reply(length);
  },
  [SystemCallNumber.read]: async (process, [fd, buffer, count], services) => {
    const entry = process.descriptors.get(signed(fd));
    if (!entry?.readable) return error(Errno.EBADF);
    if (count === 0) return reply(0);
    const length = Math.min(count, TRANSFER_LIMIT);
    const bytes = entry.kind === 'file' ? (await services.files.read({ description: entry.description, length })).data : await services.console.read(length);
    await process.memory.write(buffer, bytes);
    return reply(bytes.length);
  },
  [SystemCallNumber.openat]: async (process, [directory, pathPointer, flags, mode], services) => {
    const at = atDescription(process, directory);
    if (at === null) return error(Errno.EBADF);
    const path = await readPath(process.memory, pathPointer);
    if (path === '') return error(Errno.ENOENT);
    const fd = lowestFree(process);
    if (fd < 0) return error(Errno.EMFILE);
    const { description } = await services.files.open({ path, ...(at === undefined ? {} : { at }), flags, permissions: mode & 0o7777 });
    const access = flags & O_ACCMODE;
    process.descriptors.set(fd, { kind: 'file', description, readable: access !== O_WRONLY, writable: access === O_WRONLY || access === O_RDWR });
    return reply(fd);
  },
  [SystemCallNumber.close]: async (process, [fd], services) => {
    const entry = process.descriptors.get(signed(fd));
    if (!entry) return error(Errno.EBADF);
    process.descriptors.delete(signed(fd));
    if (entry.kind === 'file') await services.files.close({ description: entry.description });
    return reply(0);
  },
  [SystemCallNumber.llseek]: async (process, [fd, high, low, resultPointer, whence], services) => {
    const entry = process.descriptors.get(signed(fd));
    if (!entry) return error(Errno.EBADF);
    if (entry.kind !== 'file') return error(Errno.ESPIPE);
    const offset = signed(high) * 2 ** 32 + low;
    if (!Number.isSafeInteger(offset) || whence > 2) return error(Errno.EINVAL);
    const moved = await services.files.lseek({ description: entry.description, offset, whence });
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(moved.offset), true);
    await process.memory.write(resultPointer, bytes);
    return reply(0);
  },
  [SystemCallNumber.statx]: async (process, [directory, pathPointer, flags, _mask, buffer], services) => {
    const path = await readPath(process.memory, pathPointer);
    let stat: Stat;
    if (path === '' && (flags & AT_EMPTY_PATH) !== 0) {
      const entry = process.descriptors.get(signed(directory));
      if (!entry) return error(Errno.EBADF);
      stat = entry.kind === 'file' ? await services.files.fstat({ description: entry.description }) : CONSOLE_STAT;
    } else {
      if (path === '') return error(Errno.ENOENT);
      const at = atDescription(process, directory);
      if (at === null) return error(Errno.EBADF);
      const args = { path, ...(at === undefined ? {} : { at }) };
      stat = (flags & AT_SYMLINK_NOFOLLOW) !== 0 ? await services.files.lstat(args) : await services.files.stat(args);
    }
    await process.memory.write(buffer, encodeStatx(stat));
    return reply(0);
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

/** The character device the console descriptors are, for statx. */
const CONSOLE_STAT: Stat = {
  device: 1, inode: 1, mode: S_IFCHR | 0o620, links: 1, uid: 0, gid: 0, size: 0, blockBytes: 1024, sectors: 0, accessTime: 0, modifyTime: 0, changeTime: 0,
};

/** openat's dirfd as fs.ts's `at`: undefined for AT_FDCWD (the working directory is / until chdir comes), null when not a file descriptor. */
function atDescription(process: ProcessRecord, directory: number): number | undefined | null {
  if (signed(directory) === AT_FDCWD) return undefined;
  const entry = process.descriptors.get(signed(directory));
  return entry?.kind === 'file' ? entry.description : null;
}

function lowestFree(process: ProcessRecord): number {
  for (let fd = 0; fd < DESCRIPTOR_LIMIT; fd++) if (!process.descriptors.has(fd)) return fd;
  return -1;
}

class PathTooLongError extends Error {}

/** A NUL-terminated path from user memory, read a page piece at a time (ENAMETOOLONG past PATH_MAX). */
async function readPath(memory: UserMemory, address: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (let at = address; length < PATH_MAX;) {
    const chunk = await memory.read(at, Math.min(PAGE - (at % PAGE), PATH_MAX - length));
    const end = chunk.indexOf(0);
    parts.push(end < 0 ? chunk : chunk.subarray(0, end));
    length += end < 0 ? chunk.length : end;
    if (end >= 0) return new TextDecoder().decode(concatenate(parts, length));
    at += chunk.length;
  }
  throw new PathTooLongError();
}

function concatenate(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

/** struct statx (256 bytes, include/uapi/linux/stat.h) from the VFS's Stat. */
export function encodeStatx(stat: Stat): Uint8Array {
  const bytes = new Uint8Array(256);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, STATX_BASIC_STATS, true);
  view.setUint32(4, stat.blockBytes, true);
  view.setUint32(16, stat.links, true);
  view.setUint32(20, stat.uid, true);
  view.setUint32(24, stat.gid, true);
  view.setUint16(28, stat.mode & 0xffff, true);
  view.setBigUint64(32, BigInt(stat.inode), true);
  view.setBigUint64(40, BigInt(stat.size), true);
  view.setBigUint64(48, BigInt(stat.sectors), true);
  const time = (offset: number, seconds: number) => view.setBigInt64(offset, BigInt(seconds), true);
  time(64, stat.accessTime);
  time(96, stat.changeTime);
  time(112, stat.modifyTime);
  view.setUint32(136, 0, true);
  view.setUint32(140, stat.device, true);
  return bytes;
}

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
    if (caught instanceof PathTooLongError) return error(Errno.ENAMETOOLONG);
    // The VFS's refusals are errno names (fs.ts): the program gets the number.
    const code = (caught as { code?: unknown }).code;
    if (typeof code === 'string' && code in ERRNO_NUMBERS) return error(ERRNO_NUMBERS[code as keyof typeof ERRNO_NUMBERS]);
    throw caught;
  }
}
