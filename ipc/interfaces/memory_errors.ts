// The memory service's errors (ipc/interfaces/memory.ts lists them in its definition, which
// registers them): every client that imports the interface — the kernel, drivers, tests —
// re-creates each as its class, with its data, after msgpack. The server throws the same
// classes (servers/memory re-exports them).
//
//   OUT_OF_MEMORY, LIMIT_EXCEEDED          nothing changed, the server keeps serving
//   DOUBLE_FREE .. ADDRESS_IN_USE          a block that does not match the allocator's records
//   MAPPING_EXISTS, NOT_MAPPED             a mapping that conflicts with the page tables
//   NO_SUCH_SPACE, NO_SUCH_GRANT           an unknown id
//   ACCESS_VIOLATION                       a range the accessor neither owns nor was lent (data: the violation)
//   PAGE_FAULT                             a translation the pager could not resolve (data: the fault)

import { hex } from '../../hal/address.js';
import { IpcError } from '../errors.js';

/**
 * The memory service's error classes whose data is plain detail, and the codes each carries,
 * declared once: a class of one code is made with (message, data), one of several with
 * (code, message, data). ACCESS_VIOLATION and PAGE_FAULT (below) carry records of their own.
 */
export const MEMORY_ERROR_CODES = {
  OutOfMemoryError: ['OUT_OF_MEMORY'],
  LimitExceededError: ['LIMIT_EXCEEDED'],
  InvalidBlockError: ['DOUBLE_FREE', 'NOT_BLOCK_HEAD', 'NOT_OWNER', 'NOT_MANAGED', 'ADDRESS_IN_USE'],
  MappingError: ['MAPPING_EXISTS', 'NOT_MAPPED'],
  NotFoundError: ['NO_SUCH_SPACE', 'NO_SUCH_GRANT'],
} as const;

type PlainMemoryErrorCode = (typeof MEMORY_ERROR_CODES)[keyof typeof MEMORY_ERROR_CODES][number];

/** Every code a memory error carries. */
export type MemoryErrorCode = PlainMemoryErrorCode | 'PAGE_FAULT' | 'ACCESS_VIOLATION';

/** Plain-data detail of a memory error (survives msgpack). */
export type ErrorData = Readonly<Record<string, string | number | boolean | undefined>>;

/** Base class of the memory service's errors: a stable code and plain-data detail. */
export class MemoryError extends IpcError {
  declare readonly code: MemoryErrorCode;
  declare readonly data: ErrorData;

  constructor(code: MemoryErrorCode, message: string, data: ErrorData = {}) {
    super(code, message, data);
  }
}

/** The class of a memory error with one code: `new OutOfMemoryError(message, data)`. */
function memoryErrorClass<const C extends PlainMemoryErrorCode>([code]: readonly [C]) {
  return class extends MemoryError {
    static readonly code: C = code;
    declare readonly code: C;
    constructor(message: string, data: ErrorData = {}) {
      super(code, message, data);
    }
  };
}

/** The class of a memory error with several codes: `new InvalidBlockError('DOUBLE_FREE', message, data)`. */
function memoryErrorFamily<const C extends PlainMemoryErrorCode>(codes: readonly C[]) {
  return class extends MemoryError {
    static readonly codes: readonly C[] = codes;
    static fromWire(code: string, message: string, data: unknown): MemoryError {
      return new this(code as C, message, data as ErrorData);
    }

    declare readonly code: C;
    constructor(code: C, message: string, data: ErrorData = {}) {
      super(code, message, data);
    }
  };
}

/** No free block of the requested order (or larger) exists. Nothing was changed. */
export class OutOfMemoryError extends memoryErrorClass(MEMORY_ERROR_CODES.OutOfMemoryError) {}
/** The allocation would take an owner past the page limit set for it. Nothing was changed. */
export class LimitExceededError extends memoryErrorClass(MEMORY_ERROR_CODES.LimitExceededError) {}
/** A free, retain, transfer or reserve that does not match the allocator's records. */
export class InvalidBlockError extends memoryErrorFamily(MEMORY_ERROR_CODES.InvalidBlockError) {}
/** A mapping request that conflicts with the page tables: already mapped, or nothing mapped. */
export class MappingError extends memoryErrorFamily(MEMORY_ERROR_CODES.MappingError) {}
/** An unknown address-space or grant id. */
export class NotFoundError extends memoryErrorFamily(MEMORY_ERROR_CODES.NotFoundError) {}

export type MemoryAccess = 'read' | 'write';

/** Who touched what they may not: owner ids as the memory server numbers them. */
export interface AccessViolation {
  readonly accessor: number;
  /** The first byte of the range the accessor may not touch. */
  readonly address: number;
  readonly length: number;
  readonly access: MemoryAccess;
  /** Owner of the page at `address` (-1: free or not managed). */
  readonly owner: number;
  readonly reason: 'not-owned' | 'read-only-grant';
}

/** One line: who touched what, whose page it is and why that is refused; `name` turns owner ids into names. */
export function describeViolation(violation: AccessViolation, name: (owner: number) => string = (owner) => `owner ${owner}`): string {
  const whose = violation.owner < 0 ? 'memory nobody owns' : `a page of ${name(violation.owner)}`;
  return `${name(violation.accessor)} ${violation.access === 'read' ? 'read' : 'wrote'} ${hex(violation.address)} (in ${hex(violation.address)}+${violation.length}): ${whose}, ${violation.reason === 'read-only-grant' ? 'lent read-only' : 'neither owned nor granted'}`;
}

/** A range the accessor neither owns nor was lent (for that access); `violation` says who, where and why. */
export class AccessViolationError extends MemoryError {
  static readonly codes = ['ACCESS_VIOLATION'] as const;
  static fromWire(_code: string, _message: string, data: unknown): AccessViolationError {
    return new AccessViolationError(data as AccessViolation);
  }

  readonly violation: AccessViolation;

  constructor(violation: AccessViolation) {
    super('ACCESS_VIOLATION', describeViolation(violation), { ...violation });
    this.violation = violation;
  }
}

export type Access = 'read' | 'write' | 'execute';

export type FaultReason =
  | 'invalid'
  | 'reserved-encoding'
  | 'pointer-at-level-0'
  | 'permission'
  | 'user-page-from-supervisor'
  | 'supervisor-page-from-user'
  | 'misaligned-megapage'
  | 'not-accessed'
  | 'not-dirty'
  | 'table-outside-ram';

/** A failed translation: what the hardware would trap with (scause = cause, stval = address). */
export class PageFault {
  constructor(
    readonly cause: number,
    readonly address: number,
    readonly access: Access,
    readonly reason: FaultReason,
    /** Level of the PTE that caused it. */
    readonly level: number,
  ) {}

  describe(): string {
    return `${this.access} at ${hex(this.address)}: ${this.reason} (cause ${this.cause}, level ${this.level})`;
  }
}

/** A PageFault thrown to a caller that cannot continue (e.g. the pager could not resolve it). */
export class PageFaultError extends MemoryError {
  static readonly codes = ['PAGE_FAULT'] as const;
  static fromWire(_code: string, _message: string, data: unknown): PageFaultError {
    const { cause, address, access, reason, level } = data as { cause: number; address: number; access: Access; reason: FaultReason; level: number };
    return new PageFaultError(new PageFault(cause, address, access, reason, level));
  }

  readonly fault: PageFault;

  constructor(fault: PageFault) {
    super('PAGE_FAULT', `page fault: ${fault.describe()}`, { cause: fault.cause, address: fault.address, access: fault.access, reason: fault.reason, level: fault.level });
    this.fault = fault;
  }
}
