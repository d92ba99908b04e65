// Each system call against a fake user memory (a flat array from 0x10000, EFAULT elsewhere)
// and recorded services: results and errors as Linux gives them on rv32.

import { describe, expect, it } from 'vitest';
import type { Stat } from '../../ipc/interfaces/fs.js';
import type { SystemCall } from '../../microkernel/scheduler.js';
import { Errno, ProcessRecord, SystemCallNumber, UserFaultError, serveSystemCall, type ProcessServices, type UserMemory } from './system_calls.js';

const BASE = 0x10000, SIZE = 0x10000;

/** Open-file descriptions over a map of paths, as the VFS keeps them (offset per description); refusals as errno codes. */
class FakeFiles {
  readonly contents = new Map<string, Uint8Array>([['/etc/motd', new TextEncoder().encode('welcome\n')]]);
  readonly open_ = new Map<number, { path: string; offset: number }>();
  private next = 40;
  private refuse(code: string): never { throw Object.assign(new Error(code), { code }); }
  private stat_(path: string): Stat {
    const data = this.contents.get(path) ?? this.refuse('ENOENT');
    return { device: 3, inode: 12, mode: 0o100644, links: 1, uid: 0, gid: 0, size: data.length, blockBytes: 4096, sectors: 8, accessTime: 1, modifyTime: 2, changeTime: 3 };
  }
  private entry(description: number) { return this.open_.get(description) ?? this.refuse('EBADF'); }
  async open({ path, flags }: { path: string; flags: number }) {
    if (!this.contents.has(path)) { if (flags & 0o100) this.contents.set(path, new Uint8Array(0)); else this.refuse('ENOENT'); }
    const description = this.next++;
    this.open_.set(description, { path, offset: 0 });
    return { description, stat: this.stat_(path) };
  }
  async read({ description, length }: { description: number; length: number }) {
    const entry = this.entry(description), data = this.contents.get(entry.path)!;
    const out = data.slice(entry.offset, entry.offset + length);
    entry.offset += out.length;
    return { data: out };
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
  async close({ description }: { description: number }) { this.entry(description); this.open_.delete(description); return {}; }
  async fstat({ description }: { description: number }) { return this.stat_(this.entry(description).path); }
  async stat({ path }: { path: string }) { return this.stat_(path); }
  async lstat({ path }: { path: string }) { return this.stat_(path); }
}

function setup() {
  const bytes = new Uint8Array(SIZE);
  const inside = (address: number, length: number) => address >= BASE && address + length <= BASE + SIZE;
  const memory: UserMemory = {
    read: async (address, length) => { if (!inside(address, length)) throw new UserFaultError(address); return bytes.slice(address - BASE, address - BASE + length); },
    write: async (address, data) => { if (!inside(address, data.length)) throw new UserFaultError(address); bytes.set(data, address - BASE); },
  };
  const written: string[] = [];
  const reserved: Array<[number, number, string]> = [];
  const released: number[] = [];
  const files = new FakeFiles();
  const services: ProcessServices = {
    files,
    console: { write: async (data) => { written.push(new TextDecoder().decode(data)); }, read: async (maximum) => new TextEncoder().encode('typed\n').subarray(0, maximum) },
    regions: { reserve: async (va, length, permissions) => { reserved.push([va, length, permissions]); }, release: async (va) => { released.push(va); } },
    clock: { realtimeNanoseconds: () => 1_700_000_000_123_456_789n, monotonicNanoseconds: () => 5_000_000_001n },
    system: { sysname: 'baton', nodename: 'board', release: '0.1.0', version: '#1', machine: 'riscv32' },
  };
  const process = new ProcessRecord(7, 3, memory, 0x20000, 0x4000_0000);
  const unknown: number[] = [];
  const call = (number: number, ...args: number[]) => {
    const full = [...args, 0, 0, 0, 0, 0, 0].slice(0, 6).map((value) => value >>> 0) as unknown as SystemCall['args'];
    return serveSystemCall(process, { number, args: full }, services, (n) => unknown.push(n));
  };
  return { files, bytes, written, reserved, released, process, unknown, call };
}

describe('serveSystemCall', () => {
  it('writes to the console from user memory and reads the console into it; other descriptors are EBADF', async () => {
    const { bytes, written, call } = setup();
    bytes.set(new TextEncoder().encode('hello\n'), 0x100);
    expect(await call(SystemCallNumber.write, 1, BASE + 0x100, 6)).toEqual({ kind: 'reply', value: 6 });
    expect(written).toEqual(['hello\n']);
    expect(await call(SystemCallNumber.read, 0, BASE + 0x200, 100)).toEqual({ kind: 'reply', value: 6 });
    expect(new TextDecoder().decode(bytes.subarray(0x200, 0x206))).toBe('typed\n');
    expect(await call(SystemCallNumber.write, 5, BASE, 1)).toEqual({ kind: 'reply', value: -Errno.EBADF });
    expect(await call(SystemCallNumber.read, 1, BASE, 1)).toEqual({ kind: 'reply', value: -Errno.EBADF });
    expect(await call(SystemCallNumber.write, 1, 0, 4)).toEqual({ kind: 'reply', value: -Errno.EFAULT });
  });

  it('moves the break up by demand-zero regions and keeps it on a refusal', async () => {
    const { reserved, call, process } = setup();
    expect(await call(SystemCallNumber.brk, 0)).toEqual({ kind: 'reply', value: 0x20000 });
    expect(await call(SystemCallNumber.brk, 0x20010)).toEqual({ kind: 'reply', value: 0x20010 });
    expect(await call(SystemCallNumber.brk, 0x22000)).toEqual({ kind: 'reply', value: 0x22000 });
    expect(reserved).toEqual([[0x20000, 0x1000, 'rwu'], [0x21000, 0x1000, 'rwu']]);
    expect(await call(SystemCallNumber.brk, 0x1000)).toEqual({ kind: 'reply', value: 0x22000 });
    expect(await call(SystemCallNumber.brk, 0x5000_0000)).toEqual({ kind: 'reply', value: 0x22000 });
    expect(process.brk).toBe(0x22000);
  });

  it('maps anonymous memory downward, unmaps it whole, and refuses what it does not support', async () => {
    const { reserved, released, call } = setup();
    const MAP_PRIVATE_ANONYMOUS = 0x22;
    expect(await call(SystemCallNumber.mmap2, 0, 5000, 3, MAP_PRIVATE_ANONYMOUS, -1, 0)).toEqual({ kind: 'reply', value: 0x4000_0000 - 0x2000 });
    expect(reserved).toEqual([[0x4000_0000 - 0x2000, 0x2000, 'rwu']]);
    expect(await call(SystemCallNumber.mmap2, 0, 4096, 1, MAP_PRIVATE_ANONYMOUS, -1, 0)).toEqual({ kind: 'reply', value: 0x4000_0000 - 0x3000 });
    expect(reserved[1]![2]).toBe('ru');
    expect(await call(SystemCallNumber.munmap, 0x4000_0000 - 0x2000, 100)).toEqual({ kind: 'reply', value: -Errno.EINVAL });
    expect(await call(SystemCallNumber.munmap, 0x4000_0000 - 0x2000, 0x2000)).toEqual({ kind: 'reply', value: 0 });
    expect(released).toEqual([0x4000_0000 - 0x2000]);
    expect(await call(SystemCallNumber.mmap2, 0, 4096, 3, 0x02, 3, 0)).toEqual({ kind: 'reply', value: -Errno.EINVAL });
    expect(await call(SystemCallNumber.mmap2, 0x1000, 4096, 3, MAP_PRIVATE_ANONYMOUS | 0x10, -1, 0)).toEqual({ kind: 'reply', value: -Errno.EINVAL });
    expect(await call(SystemCallNumber.mmap2, 0, 0x3fff_0000, 3, MAP_PRIVATE_ANONYMOUS, -1, 0)).toEqual({ kind: 'reply', value: -Errno.ENOMEM });
  });

  it('answers getpid, getppid, exit, clock_gettime64 and uname; an unknown number is ENOSYS and reported', async () => {
    const { bytes, call, unknown } = setup();
    expect(await call(SystemCallNumber.getpid)).toEqual({ kind: 'reply', value: 7 });
    expect(await call(SystemCallNumber.getppid)).toEqual({ kind: 'reply', value: 3 });
    expect(await call(SystemCallNumber.exit_group, 0x1_03)).toEqual({ kind: 'exit', status: 3 });
    expect(await call(SystemCallNumber.exit, 2)).toEqual({ kind: 'exit', status: 2 });
    expect(await call(SystemCallNumber.clock_gettime64, 0, BASE + 0x300)).toEqual({ kind: 'reply', value: 0 });
    const view = new DataView(bytes.buffer, 0x300, 16);
    expect([view.getBigInt64(0, true), view.getBigInt64(8, true)]).toEqual([1_700_000_000n, 123_456_789n]);
    expect(await call(SystemCallNumber.clock_gettime64, 1, BASE + 0x300)).toEqual({ kind: 'reply', value: 0 });
    expect([view.getBigInt64(0, true), view.getBigInt64(8, true)]).toEqual([5n, 1n]);
    expect(await call(SystemCallNumber.clock_gettime64, 9, BASE + 0x300)).toEqual({ kind: 'reply', value: -Errno.EINVAL });
    expect(await call(SystemCallNumber.uname, BASE + 0x400)).toEqual({ kind: 'reply', value: 0 });
    const field = (index: number) => new TextDecoder().decode(bytes.subarray(0x400 + 65 * index, 0x400 + 65 * index + 65)).replace(/\0+$/, '');
    expect([field(0), field(1), field(4)]).toEqual(['baton', 'board', 'riscv32']);
    expect(await call(113)).toEqual({ kind: 'reply', value: -Errno.ENOSYS });
    expect(unknown).toEqual([113]);
  });

  it('opens, writes, seeks, reads, stats and closes a VFS file by descriptor; refusals come back as -errno', async () => {
    const { files, bytes, call, process } = setup();
    const put = (at: number, text: string) => bytes.set(new TextEncoder().encode(text + '\0'), at - BASE);
    put(BASE + 0x100, '/tmp/out');
    const O_RDWR_CREAT = 0o2 | 0o100;
    expect(await call(SystemCallNumber.openat, -100, BASE + 0x100, O_RDWR_CREAT, 0o644)).toEqual({ kind: 'reply', value: 3 });
    expect(process.descriptors.get(3)).toEqual({ kind: 'file', description: 40, readable: true, writable: true });
    bytes.set(new TextEncoder().encode('abcdef'), 0x200);
    expect(await call(SystemCallNumber.write, 3, BASE + 0x200, 6)).toEqual({ kind: 'reply', value: 6 });
    expect(new TextDecoder().decode(files.contents.get('/tmp/out'))).toBe('abcdef');
    expect(await call(SystemCallNumber.llseek, 3, 0, 2, BASE + 0x300, 0)).toEqual({ kind: 'reply', value: 0 });
    expect(new DataView(bytes.buffer, 0x300, 8).getBigUint64(0, true)).toBe(2n);
    expect(await call(SystemCallNumber.read, 3, BASE + 0x400, 100)).toEqual({ kind: 'reply', value: 4 });
    expect(new TextDecoder().decode(bytes.subarray(0x400, 0x404))).toBe('cdef');
    put(BASE + 0x500, '');
    expect(await call(SystemCallNumber.statx, 3, BASE + 0x500, 0x1000, 0x7ff, BASE + 0x600)).toEqual({ kind: 'reply', value: 0 });
    const statx = new DataView(bytes.buffer, 0x600, 256);
    expect([statx.getUint16(28, true), statx.getBigUint64(40, true), statx.getBigUint64(32, true), statx.getUint32(0, true)]).toEqual([0o100644, 6n, 12n, 0x7ff]);
    expect(await call(SystemCallNumber.statx, 1, BASE + 0x500, 0x1000, 0x7ff, BASE + 0x600)).toEqual({ kind: 'reply', value: 0 });
    expect(statx.getUint16(28, true) & 0o170000).toBe(0o020000);
    expect(await call(SystemCallNumber.llseek, 1, 0, 0, BASE + 0x300, 0)).toEqual({ kind: 'reply', value: -Errno.ESPIPE });
    expect(await call(SystemCallNumber.close, 3)).toEqual({ kind: 'reply', value: 0 });
    expect(files.open_.size).toBe(0);
    expect(await call(SystemCallNumber.read, 3, BASE + 0x400, 1)).toEqual({ kind: 'reply', value: -Errno.EBADF });
    expect(await call(SystemCallNumber.close, 3)).toEqual({ kind: 'reply', value: -Errno.EBADF });
    put(BASE + 0x100, '/missing');
    expect(await call(SystemCallNumber.openat, -100, BASE + 0x100, 0, 0)).toEqual({ kind: 'reply', value: -2 });
    expect(await call(SystemCallNumber.openat, 9, BASE + 0x100, 0, 0)).toEqual({ kind: 'reply', value: -Errno.EBADF });
    expect(await call(SystemCallNumber.openat, -100, 0, 0, 0)).toEqual({ kind: 'reply', value: -Errno.EFAULT });
    bytes.fill(0x61, 0x1000, 0x1000 + 5000);
    expect(await call(SystemCallNumber.openat, -100, BASE + 0x1000, 0, 0)).toEqual({ kind: 'reply', value: -Errno.ENAMETOOLONG });
    put(BASE + 0x100, '/etc/motd');
    expect(await call(SystemCallNumber.openat, -100, BASE + 0x100, 0, 0)).toEqual({ kind: 'reply', value: 3 });
    expect(await call(SystemCallNumber.write, 3, BASE, 1)).toEqual({ kind: 'reply', value: -Errno.EBADF });
  });
});
