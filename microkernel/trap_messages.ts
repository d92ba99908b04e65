// The scheduler's TrapPort as IPC: a process's system call leaves the kernel as a
// process.systemCall message to the process server, a page fault as a memory.translate
// (resolve: the pager runs once) to the memory server on behalf of the space's owner, and the
// process resumes when the reply comes (Scheduler.reply / exit / faultHandled). A process the
// kernel ended is reported with process.exited. A refused or failed message ends the process
// (SIGSYS for a system call nobody could serve, SIGSEGV for a fault), logged once per cause,
// so a crash of either server never wedges a hart.

import type { ClientOf } from '../ipc/define.js';
import type { memoryInterface } from '../ipc/interfaces/memory.js';
import type { processInterface } from '../ipc/interfaces/process.js';
import type { Logger } from './userlib/logger.js';
import { type FaultAccess, type Scheduler, type TrapPort } from './scheduler.js';
import type { UserProcess } from './user_processes.js';

export type ProcessMessages = Pick<ClientOf<typeof processInterface>, 'systemCall' | 'exited'>;
export type MemoryMessages = Pick<ClientOf<typeof memoryInterface>, 'translate'>;

/** Which space a process runs in and which server owns it (the memory server's onBehalfOf). */
export interface SpaceOf {
  (pid: number): { readonly space: number; readonly owner: string } | undefined;
}

export const SIGSYS = 31;
const ACCESS: Readonly<Record<FaultAccess, 'read' | 'write' | 'execute'>> = { load: 'read', store: 'write', fetch: 'execute' };

export function trapMessages(scheduler: () => Scheduler, processes: ProcessMessages, memory: MemoryMessages, spaceOf: SpaceOf, log: Pick<Logger, 'warn'>): TrapPort {
  const warned = new Set<string>();
  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    log.warn(message);
  };
  return {
    systemCall: (process: UserProcess, call) => {
      processes.systemCall({ pid: process.pid, number: call.number, args: [...call.args] }).then(
        (answer) => (answer.outcome === 'exit' ? scheduler().exit(process.pid, answer.status) : scheduler().reply(process.pid, answer.value)),
        (error: Error) => {
          warnOnce(`call:${(error as { code?: string }).code ?? error.message}`, `system call ${call.number} of process ${process.pid} not served (${error.message}): the process is killed with SIGSYS`);
          scheduler().kill(process.pid, SIGSYS);
        },
      );
    },
    pageFault: (process: UserProcess, address, access) => {
      const where = spaceOf(process.pid);
      if (!where) { scheduler().faultHandled(process.pid, false); return; }
      memory.translate({ space: where.space, va: address >>> 0, access: ACCESS[access], resolve: true, onBehalfOf: where.owner }).then(
        (answer) => scheduler().faultHandled(process.pid, answer.pa !== undefined),
        (error: Error) => {
          warnOnce(`fault:${(error as { code?: string }).code ?? error.message}`, `page fault of process ${process.pid} at 0x${(address >>> 0).toString(16)} not served (${error.message}): SIGSEGV`);
          scheduler().faultHandled(process.pid, false);
        },
      );
    },
    exited: (process: UserProcess, signal) => {
      if (signal === undefined) return; // the process server decided this exit itself
      processes.exited({ pid: process.pid, status: process.exitStatus!, signal }).catch((error: Error) =>
        warnOnce(`exited:${error.message}`, `could not tell the process server that process ${process.pid} ended: ${error.message}`));
    },
  };
}
