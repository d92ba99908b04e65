import { describe, it, expect } from 'vitest';
import { pack, unpack } from 'msgpackr';
import { errorFromWire, errorToWire } from '../../ipc/errors.js';
import { InvalidBlockError, LimitExceededError, OutOfMemoryError } from './errors.js';
import { PageFault, PageFaultError } from './sv32.js';
import { AccessViolationError } from './grants.js';

function throughTheWire(error: unknown): unknown {
  return errorFromWire(unpack(pack(errorToWire(error))));
}

describe('memory errors', () => {
  it('errorFromWire re-creates each memory error class with its code and data', () => {
    const outOfMemory = throughTheWire(new OutOfMemoryError('no block of order 3', { order: 3, freePages: 0 }));
    expect(outOfMemory).toBeInstanceOf(OutOfMemoryError);
    expect(outOfMemory).toMatchObject({ code: 'OUT_OF_MEMORY', message: 'no block of order 3', data: { order: 3, freePages: 0 } });
    expect(throughTheWire(new LimitExceededError('over'))).toBeInstanceOf(LimitExceededError);
    expect(throughTheWire(new InvalidBlockError('DOUBLE_FREE', 'twice', { address: 0x8000_0000 }))).toMatchObject({ code: 'DOUBLE_FREE', data: { address: 0x8000_0000 } });
  });

  it('errorFromWire re-creates a page fault and an access violation with their details', () => {
    const fault = throughTheWire(new PageFaultError(new PageFault(15, 0x1000, 'write', 'permission', 0)));
    expect(fault).toBeInstanceOf(PageFaultError);
    expect((fault as PageFaultError).fault).toEqual(new PageFault(15, 0x1000, 'write', 'permission', 0));
    const violation = { accessor: 2, address: 0x8000_1000, length: 8, access: 'write' as const, owner: 1, reason: 'not-owned' as const };
    const caught = throughTheWire(new AccessViolationError(violation));
    expect(caught).toBeInstanceOf(AccessViolationError);
    expect((caught as AccessViolationError).violation).toEqual(violation);
  });
});
