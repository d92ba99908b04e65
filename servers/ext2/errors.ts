// Errors the ext2 code raises, by POSIX errno name: the fs interface carries the same names
// to the VFS and on to programs.

export type Errno =
  | 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY' | 'EBADF' | 'ENOSPC' | 'EROFS'
  | 'ENAMETOOLONG' | 'ELOOP' | 'EXDEV' | 'EINVAL' | 'EACCES' | 'EFBIG' | 'EMLINK' | 'EIO' | 'EPERM';

export class Ext2Error extends Error {
  readonly code: Errno;

  constructor(code: Errno, message: string) {
    super(`${code}: ${message}`);
    this.name = 'Ext2Error';
    this.code = code;
  }
}
