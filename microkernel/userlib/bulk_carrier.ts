// The server runtime's bulk carrier (ipc/bulk.ts) on the memory service: a call too large
// for a ring is written into pages this program owns, granted read-only to the server for
// the call's lifetime, and freed (ending the grant) once the call settles. The receiving
// side asks the memory service whether the pages are really lent to it before reading.

import { PAGE_SIZE } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import type { BulkCarrier } from '../../ipc/bulk.js';
import type { ClientOf } from '../../ipc/define.js';
import { PermissionDeniedError } from '../../ipc/errors.js';
import type { memoryInterface } from '../../ipc/interfaces/memory.js';

export function memoryBulkCarrier(options: {
  /** This program's name: whom lent pages must be granted to for fetch to read them. */
  readonly name: string;
  readonly ram: Ram;
  /** The memory service (looked up on first use). */
  memory(): ClientOf<typeof memoryInterface>;
  /** Zeroed pages owned by this program. */
  allocate(bytes: number): Promise<number>;
}): BulkCarrier {
  return {
    async lend(bytes, to) {
      const memory = options.memory();
      const pa = await options.allocate(bytes.length);
      options.ram.write(pa, bytes);
      try {
        const length = Math.ceil(bytes.length / PAGE_SIZE) * PAGE_SIZE;
        const { grant } = await memory.grant({ to, pa, length, mode: 'read' });
        return { reference: { pa, length: bytes.length, grant }, release: async () => void (await memory.free({ pa })) };
      } catch (error) {
        await memory.free({ pa }).catch(() => undefined);
        throw error;
      }
    },
    async fetch(reference, from) {
      const verdict = await options.memory().checkAccess({ accessor: options.name, pa: reference.pa, length: reference.length, access: 'read' });
      if (!verdict.allowed) {
        throw new PermissionDeniedError(`${from ?? 'a client'} sent ${reference.length} bytes at 0x${reference.pa.toString(16)} that are not lent to ${options.name}` +
          (verdict.reason ? ` (${verdict.reason})` : ''));
      }
      return options.ram.read(reference.pa, reference.length);
    },
  };
}
