// A server's preserved state block: RAM that survives the server's restarts and a kexec,
// through the KHO service — a server restart is a small kexec for one server.
//
// Found by the KHO subtree named after the block:
//   kept         — this boot's outgoing FDT has it: the server restarted, the block is as it left it;
//   handed-over  — the incoming handover has it (start "handover"): restored, then preserved again
//                  and registered in this boot's FDT, so the next kexec hands it over too;
//   new          — neither: a zeroed block from kho_alloc_preserve, registered under the name.
// The block belongs to the KHO service, not the server, so the server's crash never frees it.

import type { ClientOf } from '../../ipc/define.js';
import type { khoInterface } from '../../ipc/interfaces/kho.js';
import type { StartKind } from '../protocol.js';

export interface PreservedBlock {
  readonly pa: number;
  readonly found: 'kept' | 'handed-over' | 'new';
}

export async function openPreservedBlock(kho: ClientOf<typeof khoInterface>, name: string, bytes: number, start: StartKind): Promise<PreservedBlock> {
  const outgoing = await kho.retrieveSubtree({ name, from: 'outgoing' }).catch(() => undefined);
  if (outgoing) return { pa: outgoing.pa, found: 'kept' };
  if (start === 'handover') {
    const incoming = await kho.retrieveSubtree({ name, from: 'incoming' }).catch(() => undefined);
    if (incoming) {
      const { order } = await kho.restoreFolio({ pa: incoming.pa });
      await kho.preserveFolio({ pa: incoming.pa, order });
      await kho.addSubtree({ name, pa: incoming.pa });
      return { pa: incoming.pa, found: 'handed-over' };
    }
  }
  const { pa } = await kho.allocPreserve({ size: bytes });
  await kho.addSubtree({ name, pa });
  return { pa, found: 'new' };
}
