// The kernel's scheduling service: the process server, having exec'd a program into an Sv32
// space (its root table from memory.createSpace), hands it to the kernel to run on the harts
// (admit); kill and list act on the kernel's process table (microkernel/user_processes.ts).
// Served by the kernel itself (a kernel service, as `drivers` is); from then on the process's
// system calls come back to the process server as process.systemCall and its page faults go
// to the memory server on behalf of the space's owner (microkernel/trap_messages.ts).
//
// Refusals are errno names: EAGAIN when the table is full, ESRCH for an unknown pid, EPERM
// for a caller that is not the process server.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';
import { UserProcessRow } from './process.js';

const Pid = Type.Integer({ minimum: 1, maximum: 0x3fff_ffff });
const Word = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });

/**
 * @example
 * const scheduling = context.connect(schedulingInterface);
 * const { pid } = await scheduling.admit({ ppid: 0, commandLine: argv, entry, stackPointer, space, root, asid });
 */
export const schedulingInterface = defineInterface({
  name: 'scheduling',
  doc: 'The kernel runs processes on the harts: admit, kill, list (the process server\'s).',
  ops: {
    admit: { id: 1, kind: 'call',
      args: Type.Object({
        ppid: Type.Integer({ minimum: 0 }), commandLine: Type.Array(Type.String({ maxLength: 128 * 1024 }), { maxItems: 4096 }),
        entry: Word, stackPointer: Word, space: Type.Integer({ minimum: 1 }), root: Word, asid: Type.Integer({ minimum: 1, maximum: 511 }),
      }),
      reply: Type.Object({ pid: Pid }), errors: ['EAGAIN', 'EPERM'],
      doc: 'A new runnable process at ENTRY with sp = STACKPOINTER in SPACE (satp from ROOT and ASID); its pid.' },
    kill: { id: 2, kind: 'call', args: Type.Object({ pid: Pid, signal: Type.Integer({ minimum: 1, maximum: 64 }) }), reply: Type.Object({}),
      errors: ['ESRCH', 'EPERM'], doc: 'Ends PID with SIGNAL at once (a running one at its hart\'s next trap, which this forces).' },
    reap: { id: 3, kind: 'call', args: Type.Object({ pid: Pid }), reply: Type.Object({}), errors: ['ESRCH', 'EPERM'],
      doc: 'Removes the ended PID from the kernel\'s table (after the process server\'s wait).' },
    list: { id: 4, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(UserProcessRow) }),
      doc: 'The kernel\'s processes with their CPU time and instructions, by pid.' },
  },
});
