// The process service: user processes (RISC-V programs on the harts), served by the process
// server (servers/process), as MINIX's PM serves processes. The console's `run` and `ps` call
// exec, wait, list and kill; the kernel's scheduler hands each system call of a process here
// (systemCall, kernel only) and is answered with the value for a0 or the process's exit;
// `exited` tells the server a process the kernel ended (a fault nobody fixed) is gone.
//
// Refusals are POSIX errno names (errno.ts), as a shell's exec would see them: ENOENT,
// EACCES (not a regular file), ENOEXEC (not an ELF this server runs, the reason in the
// message), E2BIG, EFBIG; EAGAIN when the process table is full; ESRCH for an unknown pid;
// ECHILD when the pid is not the caller's to wait for.

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';

const Pid = Type.Integer({ minimum: 1, maximum: 0x3fff_ffff });
const Argument = Type.String({ maxLength: 128 * 1024 });
const Word = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });

/** A process as `ps` shows it. */
export const UserProcessRow = Type.Object({
  pid: Pid,
  ppid: Type.Integer({ minimum: 0 }),
  state: Type.Union([Type.Literal('runnable'), Type.Literal('running'), Type.Literal('blocked'), Type.Literal('exited')]),
  /** CPU time used, in milliseconds of the board's timer. */
  cpuMs: Type.Number({ minimum: 0 }),
  instructions: Type.Integer({ minimum: 0 }),
  commandLine: Type.String(),
  exitStatus: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
});
export type UserProcessRow = Static<typeof UserProcessRow>;

/** How a process ended: its status as a shell reports it (128 + N when killed by signal N). */
export const Ending = Type.Object({
  status: Type.Integer({ minimum: 0, maximum: 255 }),
  signal: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
});
export type Ending = Static<typeof Ending>;

const EXEC_ERRORS = ['ENOENT', 'ENOTDIR', 'EACCES', 'ENOEXEC', 'E2BIG', 'EFBIG', 'ENOMEM', 'EAGAIN', 'ELOOP', 'ENAMETOOLONG', 'EIO'];

/**
 * @example
 * const processes = context.connect(processInterface);
 * const { pid } = await processes.exec({ path: '/bin/hello', argv: ['/bin/hello', 'world'] });
 * const { status } = await processes.wait({ pid });
 */
export const processInterface = defineInterface({
  name: 'process',
  doc: 'User processes: exec, wait, list, kill; the kernel hands system calls here.',
  ops: {
    exec: { id: 1, kind: 'call',
      args: Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096 }), argv: Type.Array(Argument, { maxItems: 4096 }), envp: Type.Optional(Type.Array(Argument, { maxItems: 4096 })) }),
      reply: Type.Object({ pid: Pid }), errors: EXEC_ERRORS,
      doc: 'A new process (parent: the caller, ppid 0) running the static ELF at PATH with ARGV and ENVP (default empty); descriptors 0, 1, 2 on the console.' },
    wait: { id: 2, kind: 'call', args: Type.Object({ pid: Pid }), reply: Ending, errors: ['ECHILD'],
      doc: 'Resolves when process PID (one the caller exec\'d) has ended, and removes it from the table.' },
    list: { id: 3, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Object({ rows: Type.Array(UserProcessRow) }),
      doc: 'Every process, by pid.' },
    kill: { id: 4, kind: 'call', args: Type.Object({ pid: Pid, signal: Type.Integer({ minimum: 1, maximum: 64 }) }), reply: Type.Object({}), errors: ['ESRCH'],
      doc: 'Ends PID with SIGNAL (status 128 + SIGNAL); signal handlers are a later slice.' },
    output: { id: 5, kind: 'call', idempotent: true,
      args: Type.Object({ pid: Pid, from: Type.Integer({ minimum: 0 }) }),
      reply: Type.Object({ data: Type.Uint8Array({ maxByteLength: 1024 * 1024 }), next: Type.Integer({ minimum: 0 }), ended: Type.Boolean() }),
      errors: ['ESRCH', 'ECHILD'],
      doc: 'What PID (one the caller exec\'d) wrote to descriptors 1 and 2 from byte FROM on, as it comes: resolves once there is some or the process has ended (ended: nothing more will come); NEXT is the FROM of the next call. The bytes stay until wait.' },
    systemCall: { id: 10, kind: 'call',
      args: Type.Object({ pid: Pid, number: Word, args: Type.Array(Word, { minItems: 6, maxItems: 6 }) }),
      reply: Type.Union([
        Type.Object({ outcome: Type.Literal('reply'), value: Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 31 - 1 }) }),
        Type.Object({ outcome: Type.Literal('exit'), status: Type.Integer({ minimum: 0, maximum: 255 }) }),
      ]),
      errors: ['ESRCH', 'EPERM'],
      doc: 'Kernel only: system call NUMBER (a7) of PID with a0..a5; the reply is a0 (a -errno is an error) or the end of the process.' },
    exited: { id: 11, kind: 'call', args: Type.Object({ pid: Pid, ...Ending.properties }), reply: Type.Object({}), errors: ['ESRCH', 'EPERM'],
      doc: 'Kernel only: PID was ended by the kernel (a fault the memory server could not fix: SIGSEGV); its space and descriptors are released.' },
  },
});
