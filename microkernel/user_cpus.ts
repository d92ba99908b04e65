// The kernel's user CPUs: the process table, the scheduler on the board's CLINT, one hart
// thread per `--cpus` hart with its loop (hart_loops.ts), and the scheduling service the
// process server calls (admit, kill, reap, list). The hart threads start with the first
// process, so a system that runs none has no hart threads at all; once started, harts with
// nothing to run park. Each admitted process gets its space's translations fenced (its ASID)
// and every hart's decoded code dropped before any hart runs it: the process server wrote its
// pages from another thread, which a hart's code cache cannot see.

import type { RamDescriptor } from '../hal/ram.js';
import { HartThread } from '../hal/riscv/hart_thread.js';
import { makeSatp } from '../hal/riscv/sv32.js';
import { TIMEBASE_FREQUENCY } from '../hal/clock.js';
import type { MachineTimer } from '../hal/timer.js';
import type { CallContext, HandlersOf } from '../ipc/define.js';
import { errnoError } from '../ipc/interfaces/errno.js';
import type { schedulingInterface } from '../ipc/interfaces/scheduling.js';
import { HartLoops } from './hart_loops.js';
import { Scheduler } from './scheduler.js';
import { trapMessages, type MemoryMessages, type ProcessMessages } from './trap_messages.js';
import { UserProcessTable } from './user_processes.js';
import type { Logger } from './userlib/logger.js';

export interface UserCpusOptions {
  readonly ram: RamDescriptor;
  readonly timer: MachineTimer;
  readonly processes: ProcessMessages;
  readonly memory: MemoryMessages;
  readonly log: Pick<Logger, 'warn'>;
  /** The one client allowed to admit, kill and reap: the process server's name. */
  readonly processServer: string;
  readonly limit?: number;
  /** Time slice in milliseconds (default 10). */
  readonly sliceMs?: number;
  /** The hart thread's compiled entry (default beside hal/riscv/hart_thread.js). */
  readonly hartEntry?: URL;
}

export class UserCpus {
  readonly table: UserProcessTable;
  readonly scheduler: Scheduler;
  private readonly options: UserCpusOptions;
  private readonly spaces = new Map<number, { space: number; owner: string }>();
  private threads: HartThread[] = [];
  private loops: HartLoops | undefined;

  constructor(options: UserCpusOptions) {
    this.options = options;
    this.table = new UserProcessTable(options.limit ?? 256);
    const sliceTicks = Math.round(((options.sliceMs ?? 10) * TIMEBASE_FREQUENCY) / 1000);
    const port = trapMessages(() => this.scheduler, options.processes, options.memory, (pid) => this.spaces.get(pid), options.log);
    this.scheduler = new Scheduler(this.table, options.timer, port, { sliceTicks });
  }

  /** Whether every started hart is parked (true before any started). */
  get idle(): boolean {
    return this.loops?.idle ?? true;
  }

  handlers(): HandlersOf<typeof schedulingInterface> {
    const allowed = (call: CallContext) => {
      if (call.clientName !== this.options.processServer) throw errnoError('EPERM', `only ${this.options.processServer} runs processes, not ${call.clientName ?? `slot ${call.clientSlot}`}`);
    };
    return {
      admit: ({ ppid, commandLine, entry, stackPointer, space, root, asid }, call) => {
        allowed(call);
        const process = this.table.create({ ppid, commandLine, entry, stackPointer, satp: makeSatp(root, asid) }, this.options.timer.mtime());
        if (!process) throw errnoError('EAGAIN', `the process table is full (${this.table.maximum} processes)`);
        this.spaces.set(process.pid, { space, owner: call.clientName! });
        const loops = this.start();
        loops.beforeNextTurn(async (hart) => { await hart.fence(undefined, asid); await hart.invalidateCode(this.options.ram.base, this.options.ram.buffer.byteLength); });
        this.scheduler.admit(process);
        return { pid: process.pid };
      },
      kill: ({ pid, signal }, call) => {
        allowed(call);
        if (!this.table.get(pid)) throw errnoError('ESRCH', `no process ${pid}`);
        this.scheduler.kill(pid, signal);
        return {};
      },
      reap: ({ pid }, call) => {
        allowed(call);
        if (!this.table.reap(pid)) throw errnoError('ESRCH', `no ended process ${pid}`);
        this.spaces.delete(pid);
        return {};
      },
      list: () => ({ rows: this.table.rows().map(({ cpuTicks, ...row }) => ({ ...row, cpuMs: (cpuTicks * 1000) / TIMEBASE_FREQUENCY })) }),
    };
  }

  /** Stops the loops and the hart threads. */
  async stop(): Promise<void> {
    await this.loops?.stop();
    await Promise.all(this.threads.map((thread) => thread.stop()));
  }

  private start(): HartLoops {
    if (this.loops) return this.loops;
    const { ram, timer, hartEntry } = this.options;
    this.threads = Array.from({ length: timer.harts }, (_, hartId) => new HartThread({ hartId, ram, timer: timer.descriptor, ...(hartEntry ? { entry: hartEntry } : {}) }));
    this.loops = new HartLoops(this.scheduler, this.threads);
    this.loops.start();
    return this.loops;
  }
}
