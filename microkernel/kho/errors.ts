// Typed errors of the KHO core.
//
// A caller's mistake (bad address, unknown subtree, double restore) is a KhoError with a
// stable errno-style code, as Linux's KHO returns -EINVAL, -ENOMEM, ... KhoError is an
// IpcError, so a handler can let it propagate: code, message and data cross the wire as is.

import { IpcError } from '../../ipc/errors.js';

export type KhoErrorCode =
  | 'EINVAL' // bad argument: misaligned, outside RAM, overlaps scratch, not preserved
  | 'ENOMEM' // no page for a tree table, chunk or allocation
  | 'EEXIST' // subtree name already registered
  | 'ENOENT' // no incoming handover, or no such subtree
  | 'E2BIG' // allocation larger than MAX_PAGE_ORDER
  | 'EOPNOTSUPP' // unsupported vmalloc flags
  | 'EUCLEAN'; // handed-over structure is corrupt (tree pointer outside RAM, bad chunk list)

export class KhoError extends IpcError {
  declare readonly code: KhoErrorCode;
  declare readonly data: Readonly<Record<string, unknown>> | undefined;

  constructor(code: KhoErrorCode, message: string, data?: Record<string, unknown>) {
    super(code, `${code}: ${message}`, data);
  }
}

/** True if `error` is a KhoError carrying `code` (any code when omitted). */
export function isKhoError(error: unknown, code?: KhoErrorCode): error is KhoError {
  return error instanceof KhoError && (code === undefined || error.code === code);
}
