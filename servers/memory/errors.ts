// Typed errors of the memory server: a caller's mistake or an exhausted resource.
//
// Every error is an IpcError (ipc/errors.ts) with a stable string `code` and a plain-data
// `data` record, registered by code so it re-hydrates as the same class in the client after
// msgpack. Bad parameters use ipc's own InvalidArgumentError (code INVALID_ARGUMENT). A broken
// internal invariant is not one of these: it is a plain Error (a panic) that lets the
// supervisor restart the server.

import { IpcError, InvalidArgumentError, registerError } from '../../ipc/errors.js';

export { InvalidArgumentError };

export type MemoryErrorCode =
  | 'OUT_OF_MEMORY'
  | 'LIMIT_EXCEEDED'
  | 'DOUBLE_FREE'
  | 'NOT_BLOCK_HEAD'
  | 'NOT_OWNER'
  | 'NOT_MANAGED'
  | 'ADDRESS_IN_USE'
  | 'MAPPING_EXISTS'
  | 'NOT_MAPPED'
  | 'PAGE_FAULT'
  | 'ACCESS_VIOLATION'
  | 'NO_SUCH_SPACE'
  | 'NO_SUCH_GRANT';

export type ErrorData = Readonly<Record<string, string | number | boolean | undefined>>;

export class MemoryError extends IpcError {
  declare readonly code: MemoryErrorCode;
  declare readonly data: ErrorData;

  constructor(code: MemoryErrorCode, message: string, data: ErrorData = {}) {
    super(code, message, data);
  }
}

/** No free block of the requested order (or larger) exists. The allocator is unchanged. */
export class OutOfMemoryError extends MemoryError {
  constructor(message: string, data: ErrorData = {}) {
    super('OUT_OF_MEMORY', message, data);
  }
}

/** The allocation would take an owner past the page limit set for it. The allocator is unchanged. */
export class LimitExceededError extends MemoryError {
  constructor(message: string, data: ErrorData = {}) {
    super('LIMIT_EXCEEDED', message, data);
  }
}

/** A free, retain, transfer or reserve that does not match the allocator's records. */
export class InvalidBlockError extends MemoryError {
  constructor(code: 'DOUBLE_FREE' | 'NOT_BLOCK_HEAD' | 'NOT_OWNER' | 'NOT_MANAGED' | 'ADDRESS_IN_USE', message: string, data: ErrorData = {}) {
    super(code, message, data);
  }
}

/** A mapping request that conflicts with the page tables: already mapped, or nothing mapped. */
export class MappingError extends MemoryError {
  constructor(code: 'MAPPING_EXISTS' | 'NOT_MAPPED', message: string, data: ErrorData = {}) {
    super(code, message, data);
  }
}

/** An unknown address-space or grant id. */
export class NotFoundError extends MemoryError {
  constructor(code: 'NO_SUCH_SPACE' | 'NO_SUCH_GRANT', message: string, data: ErrorData = {}) {
    super(code, message, data);
  }
}

type BlockCode = ConstructorParameters<typeof InvalidBlockError>[0];

registerError('OUT_OF_MEMORY', (message, data) => new OutOfMemoryError(message, data as ErrorData));
registerError('LIMIT_EXCEEDED', (message, data) => new LimitExceededError(message, data as ErrorData));
for (const code of ['DOUBLE_FREE', 'NOT_BLOCK_HEAD', 'NOT_OWNER', 'NOT_MANAGED', 'ADDRESS_IN_USE'] as const satisfies readonly BlockCode[]) {
  registerError(code, (message, data) => new InvalidBlockError(code, message, data as ErrorData));
}
for (const code of ['MAPPING_EXISTS', 'NOT_MAPPED'] as const) registerError(code, (message, data) => new MappingError(code, message, data as ErrorData));
for (const code of ['NO_SUCH_SPACE', 'NO_SUCH_GRANT'] as const) registerError(code, (message, data) => new NotFoundError(code, message, data as ErrorData));
