// An interface owns its errors: importing only the interface is enough for a client to get
// each error its ops reject with as its own class, data included (nothing from the server).

import { describe, expect, it } from 'vitest';
import type { InterfaceDefinition } from '../define.js';
import { errorFromWire, errorToWire, IpcError } from '../errors.js';
import { blockInterface, OutOfRangeError } from './block.js';
import { driversInterface, InvalidManifestError } from './drivers.js';
import { AccessViolationError, InvalidBlockError, memoryInterface, NotFoundError, PageFault, PageFaultError } from './memory.js';

/** The codes an interface's ops say they reject with. */
function listedCodes(definition: InterfaceDefinition): string[] {
  return [...new Set(Object.values(definition.ops).flatMap((op) => op.errors ?? []))];
}

describe('errors declared by an interface', () => {
  it('ACCESS_VIOLATION and PAGE_FAULT from the memory service re-create as their classes, with their data', () => {
    const violation = { accessor: 3, address: 0x8010_0000, length: 4096, access: 'write', owner: 7, reason: 'read-only-grant' } as const;
    const access = errorFromWire(errorToWire(new AccessViolationError(violation)));
    expect(access).toBeInstanceOf(AccessViolationError);
    expect((access as AccessViolationError).violation).toEqual(violation);
    expect(access.message).toBe('owner 3 wrote 0x80100000 (in 0x80100000+4096): a page of owner 7, lent read-only');

    const fault = errorFromWire(errorToWire(new PageFaultError(new PageFault(15, 0x4000, 'write', 'not-dirty', 0))));
    expect(fault).toBeInstanceOf(PageFaultError);
    expect((fault as PageFaultError).fault.describe()).toBe('write at 0x00004000: not-dirty (cause 15, level 0)');
  });

  it('a class that carries several codes re-creates with the code it was sent with', () => {
    const error = errorFromWire({ code: 'NO_SUCH_GRANT', message: 'grant 9', data: { grant: 9 } });
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.code).toBe('NO_SUCH_GRANT');
    expect(error.data).toEqual({ grant: 9 });
    expect(errorFromWire({ code: 'DOUBLE_FREE', message: 'x' })).toBeInstanceOf(InvalidBlockError);
  });

  it('every code the memory, block and drivers interfaces list is re-created as a class of its own, not a bare IpcError', () => {
    for (const definition of [memoryInterface, blockInterface, driversInterface]) {
      for (const code of listedCodes(definition)) {
        if (code === 'NOT_FOUND') continue; // the kernel's lookup refusal: a code without a class (see the report)
        if (code === 'ACCESS_VIOLATION' || code === 'PAGE_FAULT') continue; // need their data: the test above
        const error = errorFromWire({ code, message: 'm' });
        expect(error.constructor, `${definition.name}: ${code}`).not.toBe(IpcError);
        expect(error.code).toBe(code);
      }
    }
    expect(errorFromWire(errorToWire(new OutOfRangeError('past the end', { sector: 9, bytes: 512, sectors: 8 })))).toBeInstanceOf(OutOfRangeError);
    expect(errorFromWire(errorToWire(new InvalidManifestError('bad', { field: 'name' })))).toBeInstanceOf(InvalidManifestError);
  });
});
