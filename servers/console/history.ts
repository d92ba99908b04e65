// The console's command history, kept in a preserved RAM ring (KHO subtree "console"):
// `restart console` and `kexec` lose none of it. Without a KHO service it lives in the
// server only.

import type { ClientOf } from '../../ipc/define.js';
import type { khoInterface } from '../../ipc/interfaces/kho.js';
import type { Ram } from '../../hal/ram.js';
import type { StartKind } from '../../microkernel/protocol.js';
import { openPreservedBlock } from '../../microkernel/userlib/preserved_block.js';
import { RamRing } from '../../microkernel/userlib/ram_ring.js';

export interface HistoryEntry {
  readonly terminal: string;
  readonly line: string;
}

export interface History {
  add(entry: HistoryEntry): void;
  last(count?: number): HistoryEntry[];
  /** Where it is kept: "preserved" (KHO) or "private". */
  readonly kept: 'preserved' | 'private';
}

const BYTES = 64 * 1024;
const PRIVATE_LIMIT = 1000;

export async function openHistory(kho: ClientOf<typeof khoInterface>, ram: Ram, start: StartKind): Promise<History> {
  try {
    const block = await openPreservedBlock(kho, 'console', BYTES, start);
    const ring = (block.found === 'new' ? undefined : RamRing.attach<HistoryEntry>(ram, block.pa)) ?? RamRing.format<HistoryEntry>(ram, block.pa, BYTES);
    return { add: (entry) => ring.append(entry), last: (count) => ring.last(count), kept: 'preserved' };
  } catch {
    const entries: HistoryEntry[] = [];
    return {
      add: (entry) => void (entries.push(entry) > PRIVATE_LIMIT && entries.shift()),
      last: (count) => (count === undefined ? [...entries] : entries.slice(-count)),
      kept: 'private',
    };
  }
}
