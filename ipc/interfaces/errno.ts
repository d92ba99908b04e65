// POSIX errors by errno name, as the file interfaces (filesystem, and the VFS's fs) return
// them and as the process server will hand them to programs as -errno. Declared once as a
// table: each name gets its class (`instanceof ENOENT` works after msgpack) and its Linux
// number (asm-generic/errno-base.h, errno.h).

import { errorClass, registerError } from '../errors.js';

export const ERRNO_NUMBERS = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EIO: 5, E2BIG: 7, ENOEXEC: 8, EBADF: 9, ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EBUSY: 16, EEXIST: 17,
  EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EMFILE: 24, EFBIG: 27, ENOSPC: 28, ESPIPE: 29,
  EROFS: 30, EMLINK: 31, EPIPE: 32, ENAMETOOLONG: 36, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40,
  EADDRINUSE: 98, ENETUNREACH: 101, ECONNRESET: 104, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111,
} as const;

export type ErrnoName = keyof typeof ERRNO_NUMBERS;

/** The error class of each errno name. */
export const errnoErrors = Object.fromEntries(
  Object.keys(ERRNO_NUMBERS).map((name) => {
    const ErrnoError = class extends errorClass(name) {};
    Object.defineProperty(ErrnoError, 'name', { value: name });
    registerError(name, (message, data) => new ErrnoError(message, data));
    return [name, ErrnoError];
  }),
) as { readonly [N in ErrnoName]: ReturnType<typeof errorClass<N>> };

/** A new error of errno `name`, e.g. `errnoError('ENOENT', 'no such file: /a')`. */
export function errnoError(name: ErrnoName, message: string, data?: unknown): Error {
  return new errnoErrors[name](message, data);
}

export const ERRNO_NAMES = Object.keys(ERRNO_NUMBERS) as ErrnoName[];
