// A fake memory service for servers tested alone (ServerHarness): allocate hands out
// blocks of a range of the harness's RAM, zeroed and aligned to their size, as the buddy
// allocator does; free is counted (the range is not reused: tests are short).

import type { Ram } from '../../hal/ram.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { fakePeer } from './server_harness.js';

/** A memory service over [start, end) of `ram`: blocks of 2^order pages, aligned to their size. */
export function fakeMemory(ram: Ram, start: number, end: number, freed = new Map<number, number>()) {
  let next = start;
  return fakePeer('memory', memoryInterface, {
    allocate: ({ order = 0 }) => {
      const bytes = 4096 << order;
      next = Math.ceil(next / bytes) * bytes;
      if (next + bytes > end) throw new Error('fake memory is full');
      const pa = next;
      next += bytes;
      ram.subarray(pa, bytes).fill(0);
      return { pa, order, pages: bytes / 4096 };
    },
    free: ({ pa }) => { freed.set(pa, (freed.get(pa) ?? 0) + 1); return { freed: true }; },
  });
}

