// Errors the ext2 code raises, by POSIX errno name: the fs interface carries the same names
// to the VFS and on to programs (ipc/interfaces/errno.ts declares them).

import type { ErrnoName } from '../../ipc/interfaces/errno.js';

export type Errno = ErrnoName;

export class Ext2Error extends Error {
  readonly code: Errno;

  constructor(code: Errno, message: string) {
    super(`${code}: ${message}`);
    this.name = 'Ext2Error';
    this.code = code;
  }
}
