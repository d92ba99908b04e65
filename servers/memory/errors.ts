// Typed errors of the memory server: a caller's mistake or an exhausted resource.
//
// Every error is an IpcError (ipc/errors.ts) with a stable string `code` and a plain-data
// `data` record, registered by code so it re-hydrates as the same class in the client after
// msgpack. The classes are declared with the interface (ipc/interfaces/memory.ts), so every
// client — the kernel and drivers included — gets them typed; this module re-exports them
// for the server's own files. Bad parameters use ipc's own InvalidArgumentError (code
// INVALID_ARGUMENT). A broken internal invariant is not one of these: it is a plain Error (a
// panic) that lets the supervisor restart the server.

import { InvalidArgumentError } from '../../ipc/errors.js';

export { InvalidArgumentError };
export {
  type ErrorData, InvalidBlockError, LimitExceededError, MappingError, MemoryError, type MemoryErrorCode, NotFoundError, OutOfMemoryError,
} from '../../ipc/interfaces/memory.js';
