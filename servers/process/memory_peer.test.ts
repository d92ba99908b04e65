// exec into the real memory server (started alone by the server harness): a picolibc program
// loaded into a space it builds, run on a hart from the root table its createSpace names,
// with user pointers and page faults resolved by its pager (translate with resolve): the same
// stdout and exit status as qemu-riscv32. Skips, and says so, without the toolchain or qemu.

import { afterEach, describe, expect, it } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { Hart, type InterruptSource } from '../../hal/riscv/hart.js';
import { makeSatp } from '../../hal/riscv/sv32.js';
import { buildFixture, hasCompiler, hasQemu, readProgram, runUnderQemu } from '../../hal/riscv/testing/toolchain.js';
import { TIMER_PENDING } from '../../hal/timer.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { Scheduler, type SliceTimer, type TrapPort } from '../../microkernel/scheduler.js';
import { UserProcessTable } from '../../microkernel/user_processes.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import { execute } from './exec.js';
import { STACK_LIMIT, USER_TOP } from './loader.js';
import { loaderMemory, userMemory } from './memory_peer.js';
import { ProcessRecord, serveSystemCall, type FileService, type ProcessServices } from './system_calls.js';

const canRun = hasCompiler() && hasQemu();
let harness: ServerHarness | undefined;
afterEach(async () => { await harness?.stop(); harness = undefined; });

class SteppingTimer implements SliceTimer, InterruptSource {
  ticks = 0;
  compare = Number.POSITIVE_INFINITY;
  mtime(): number { return this.ticks; }
  pendingInterrupts(): number { return ++this.ticks >= this.compare ? TIMER_PENDING : 0; }
  setCompare(_hart: number, ticks: number): void { this.compare = ticks; }
  setSoftware(): void {}
  wake(): void {}
}

/** One read-only file: the program. */
function programFile(path: string, bytes: Uint8Array): FileService {
  let offset = 0;
  const refuse = (code: string): never => { throw Object.assign(new Error(code), { code }); };
  const stat = { device: 1, inode: 2, mode: 0o100755, links: 1, uid: 0, gid: 0, size: bytes.length, blockBytes: 4096, sectors: 0, accessTime: 0, modifyTime: 0, changeTime: 0 };
  return {
    open: async (args) => (args.path === path ? (offset = 0, { description: 1, stat }) : refuse('ENOENT')),
    read: async ({ length }) => { const data = bytes.slice(offset, offset + length); offset += data.length; return { data }; },
    close: async () => ({}),
    write: async () => refuse('EBADF'), lseek: async () => refuse('EBADF'), fstat: async () => stat, stat: async () => refuse('ENOENT'), lstat: async () => refuse('ENOENT'),
  };
}

describe.skipIf(!canRun)('exec into the memory server', () => {
  it('sort 3000 (heap by brk, stack by demand-zero faults the memory server resolves) gives qemu-riscv32\'s output', async () => {
    const elf = buildFixture('sort');
    const expected = runUnderQemu(elf, ['3000']);
    const ram = Ram.allocate(64 << 20);
    harness = await ServerHarness.start({ module: 'servers/memory/main', name: 'memory', config: {}, peers: [fakePeer('log', logInterface, { write: () => {} })], ram });
    const memory = harness.client(memoryInterface);
    const loader = loaderMemory(memory, ram);
    const files = programFile('/bin/sort', readProgram(elf));
    const loaded = await execute(files, loader, { path: '/bin/sort', argv: ['/bin/sort', '3000'], envp: [], random: new Uint8Array(16).fill(1) });
    const record = new ProcessRecord(1, 0, userMemory(memory, ram, loaded.space), loaded.brk, USER_TOP - STACK_LIMIT);
    let stdout = '';
    const services: ProcessServices = {
      files,
      console: { write: async (bytes) => { stdout += new TextDecoder().decode(bytes); }, read: async () => new Uint8Array(0) },
      regions: { reserve: async (va, length, permissions) => { await memory.reserveRegion({ space: loaded.space, va, length, permissions }); }, release: async (va) => { await memory.unreserveRegion({ space: loaded.space, va }); } },
      clock: { realtimeNanoseconds: () => 0n, monotonicNanoseconds: () => 0n },
      system: { sysname: 'baton', nodename: 'baton', release: '0.1.0', version: '#1', machine: 'riscv32' },
    };
    let pending: Promise<void> = Promise.resolve();
    let faults = 0;
    const port: TrapPort = {
      systemCall: (process, call) => {
        pending = serveSystemCall(record, call, services).then((outcome) => (outcome.kind === 'exit' ? scheduler.exit(process.pid, outcome.status) : scheduler.reply(process.pid, outcome.value)));
      },
      pageFault: (process, va, access) => {
        faults++;
        pending = memory.translate({ space: loaded.space, va, access: access === 'store' ? 'write' : access === 'fetch' ? 'execute' : 'read', resolve: true })
          .then(({ pa }) => scheduler.faultHandled(process.pid, pa !== undefined));
      },
      exited: () => {},
    };
    const timer = new SteppingTimer();
    const table = new UserProcessTable(2);
    const scheduler = new Scheduler(table, timer, port, { sliceTicks: 8 });
    const process = table.create({ ppid: 0, commandLine: ['/bin/sort', '3000'], entry: loaded.entry, stackPointer: loaded.stack.stackPointer, satp: makeSatp(loader.roots.get(loaded.space)!, 1) }, 0)!;
    scheduler.admit(process);
    const hart = new Hart(ram, { interrupts: timer });
    for (let steps = 0; process.state !== 'exited'; steps++) {
      if (steps > 1_000_000) throw new Error(`sort did not end: ${process.state}`);
      if (scheduler.step(hart) === 'idle') await pending;
    }
    expect({ stdout, status: process.exitStatus }).toEqual({ stdout: expected.stdout, status: expected.status });
    expect(faults).toBeGreaterThan(0);
  });
});
if (!canRun) console.warn('servers/process/memory_peer.test.ts: the cross toolchain or qemu-riscv32 is missing, so nothing was exec\'d into the memory server');
