// exec(path, argv, envp) as the process server does it: the file read whole through the VFS
// (open O_RDONLY, fstat, read until the end, close), checked (a regular file: EACCES
// otherwise; an ELF this loader runs: ENOEXEC with the reason), loaded into a new address
// space (loader.ts). The caller gets what the kernel needs to create the process (entry,
// stack pointer, space) and what the server keeps for its system calls (the break).

import type { FileService } from './system_calls.js';
import { NotExecutableError, readExecutable } from './elf.js';
import { ArgumentsTooLongError } from './initial_stack.js';
import { loadProgram, USER_TOP, type LoadedProgram, type LoaderMemory } from './loader.js';

/** The largest executable exec reads (the whole file is read before loading). */
export const EXECUTABLE_BYTES_LIMIT = 64 << 20;
const S_IFMT = 0o170000, S_IFREG = 0o100000;
const READ_PIECE = 1 << 20;

/** exec refused: `errno` is the name the caller answers with (ENOENT, EACCES, ENOEXEC, E2BIG, EFBIG, ...). */
export class ExecError extends Error {
  readonly errno: string;
  constructor(errno: string, message: string) {
    super(message);
    this.name = 'ExecError';
    this.errno = errno;
  }
}

export interface ExecRequest {
  readonly path: string;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  readonly random: Uint8Array;
}

export async function execute(files: FileService, memory: LoaderMemory, request: ExecRequest): Promise<LoadedProgram> {
  const file = await readWhole(files, request.path);
  let image;
  try {
    image = readExecutable(file, USER_TOP);
  } catch (error) {
    if (error instanceof NotExecutableError) throw new ExecError('ENOEXEC', `${request.path}: ${error.message}`);
    throw error;
  }
  try {
    return await loadProgram(memory, { image, file, argv: request.argv, envp: request.envp, executablePath: request.path, random: request.random });
  } catch (error) {
    if (error instanceof ArgumentsTooLongError) throw new ExecError('E2BIG', `${request.path}: ${error.message}`);
    throw error;
  }
}

async function readWhole(files: FileService, path: string): Promise<Uint8Array> {
  let opened;
  try {
    opened = await files.open({ path, flags: 0 });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ExecError(typeof code === 'string' ? code : 'EIO', `${path}: ${(error as Error).message}`);
  }
  const { description, stat } = opened;
  try {
    if ((stat.mode & S_IFMT) !== S_IFREG) throw new ExecError('EACCES', `${path}: not a regular file`);
    if (stat.size > EXECUTABLE_BYTES_LIMIT) throw new ExecError('EFBIG', `${path}: ${stat.size} bytes, more than ${EXECUTABLE_BYTES_LIMIT}`);
    const file = new Uint8Array(stat.size);
    for (let done = 0; done < stat.size;) {
      const { data } = await files.read({ description, length: Math.min(READ_PIECE, stat.size - done) });
      if (data.length === 0) throw new ExecError('EIO', `${path}: the file ended after ${done} of ${stat.size} bytes`);
      file.set(data, done);
      done += data.length;
    }
    return file;
  } finally {
    await files.close({ description }).catch(() => undefined);
  }
}
