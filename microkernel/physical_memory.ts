// Where the kernel gets pages for the programs it runs: the memory server when the
// manifest has one (it owns physical memory; the kernel only forwards requests, on the
// caller's behalf, and reclaims a dead program's pages), otherwise the kernel's own
// DmaPool (a minimal system, or one program under test).
//
// The memory server restarts like any other server and reattaches to its state; a call it
// was serving when it went fails with PEER_RESTARTED and is sent again to the new generation
// (an operation a crash cut short was rolled back; one that finished before the crash but
// whose reply was lost is done twice: an allocation then stays charged to its owner until
// the owner's reclaim, and a reclaim just finishes).

import type { ClientOf } from '../ipc/define.js';
import { PeerRestartedError } from '../ipc/errors.js';
import type { memoryInterface } from '../ipc/interfaces/memory.js';
import type { DmaPool } from './dma_pool.js';

export interface PhysicalMemory {
  /** Zeroed, physically contiguous memory for `owner`, aligned to `alignment` (a power of two ≥ 4096). */
  allocate(owner: string, bytes: number, alignment: number): Promise<number>;
  /** Everything `owner` holds goes back (it died and keeps nothing for its next generation). */
  release(owner: string): Promise<void>;
  /** The `mem` text, if the memory server renders it. */
  report(): Promise<string | undefined>;
}

export function poolMemory(pool: DmaPool): PhysicalMemory {
  return {
    allocate: async (owner, bytes, alignment) => pool.allocate(owner, bytes, alignment),
    release: async (owner) => void pool.releaseAll(owner),
    report: async () => undefined,
  };
}

/** Tries a call to the memory server this many times when it restarts under the call. */
const RESTART_ATTEMPTS = 3;

export function serverMemory(memory: ClientOf<typeof memoryInterface>): PhysicalMemory {
  return {
    allocate: async (owner, bytes, alignment) => {
      const alignOrder = Math.max(0, Math.log2(alignment / 4096));
      if (!Number.isInteger(alignOrder) || alignOrder > 10) throw new RangeError(`alignment ${alignment} is not a power of two from 4 KiB to 4 MiB`);
      return (await acrossRestarts(() => memory.allocate({ bytes, alignOrder, zeroed: true, onBehalfOf: owner }))).pa;
    },
    release: async (owner) => void (await acrossRestarts(() => memory.reclaim({ owner, includePreserved: true }))),
    report: async () => (await acrossRestarts(() => memory.report({}))).text,
  };
}

async function acrossRestarts<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof PeerRestartedError) || attempt >= RESTART_ATTEMPTS) throw error;
    }
  }
}
