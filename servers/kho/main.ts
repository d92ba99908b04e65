// The KHO server: Linux's Kexec HandOver API for every server, and the keeper of the
// outgoing kho-v2 state (radix tree + root FDT) in guest RAM.
//
// Deliberately dull (after Hubris's packrat): it gets and puts preserved pages and
// subtree pointers, and never parses a client's data. Its own memory is an arena whose
// bookkeeping is in RAM (arena.ts); the kernel remembers the arena's address across the
// server's restarts, so a restarted KHO server reattaches to the same tree and FDT.
//
// Config (from the kernel): scratch areas; on a KHO boot, the incoming handover pointers
// from /chosen; the arena size.

import { PAGE_SIZE, hex } from '../../hal/address.js';
import { formatSize } from '../../hal/size_text.js';
import { khoInterface } from '../../ipc/interfaces/kho.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { toDts } from '../../hal/fdt/dts.js';
import { PermissionDeniedError } from '../../ipc/errors.js';
import { KhoError } from '../../microkernel/kho/errors.js';
import { reviveHandover, readFdtBlob, type HandoverPointers, type KhoIncoming } from '../../microkernel/kho/incoming.js';
import { KhoOutgoing } from '../../microkernel/kho/outgoing.js';
import type { ScratchArea } from '../../microkernel/kho/scratch.js';
import { KHO_VMALLOC_ALLOC, decodeVmallocDescriptor, encodeVmallocDescriptor, preserveVmalloc, restoreVmalloc } from '../../microkernel/kho/vmalloc.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { KhoArena } from './arena.js';
import { Type } from '../../ipc/typebox.js';

const DEFAULT_ARENA_BYTES = 8 * 1024 * 1024;
const ARENA_ALIGNMENT = 4 * 1024 * 1024;
const Address = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** The KHO server's config: the arena from its manifest, the rest from the kernel. */
const khoConfig = Type.Object({
  /** The KHO scratch areas (kho_scratch=), written into the scratch array at kexec. */
  scratch: Type.Array(Type.Object({ addr: Address, size: Address }, { additionalProperties: false }), { default: [] }),
  /** On a KHO boot: the /chosen pointers of the incoming handover. */
  handover: Type.Optional(Type.Object({ fdtPa: Address, fdtSize: Address, scratchPa: Address, scratchSize: Address }, { additionalProperties: false })),
  /** Bytes of the arena holding the outgoing radix tree and FDT (4 MiB aligned). */
  arenaBytes: Type.Integer({ minimum: 65536, maximum: 256 * 1024 * 1024, default: DEFAULT_ARENA_BYTES }),
}, { additionalProperties: false });

export default defineServer({
  config: khoConfig,
  async init(context) {
    const scratch: ScratchArea[] = context.config.scratch;
    const pointers: HandoverPointers | undefined = context.config.handover;
    let arena: KhoArena;
    let outgoing: KhoOutgoing;
    if (context.remembered) {
      arena = KhoArena.attach(context.ram, context.remembered);
      outgoing = KhoOutgoing.open(context.ram, arena.rootFdt, arena, scratch);
      context.log.info({ fdt: hex(arena.rootFdt) }, 'reattached to the outgoing KHO state');
    } else {
      const bytes = context.config.arenaBytes;
      const base = await context.allocateDma(bytes, ARENA_ALIGNMENT);
      arena = KhoArena.format(context.ram, base, bytes);
      outgoing = KhoOutgoing.create(context.ram, arena, scratch);
      arena.rootFdt = outgoing.fdt.pa;
      context.remember(base);
    }

    // The memory service hands a dead server's preserved blocks to KHO instead of freeing
    // them; it finds them through the outgoing FDT.
    await context.connect(memoryInterface, 'memory').trackPreserved({ fdtPa: outgoing.fdt.pa }).catch((error: unknown) =>
      context.log.warn(`the memory service does not track preserved blocks (${(error as Error).message}): a server's preserved folios die with it`));

    // The incoming handover: the kernel already validated it and reserved its blocks; this
    // instance keeps the restore bookkeeping ('KHOP' marks) and the incoming subtrees.
    let incoming: KhoIncoming | undefined;
    if (pointers) {
      const revival = reviveHandover(context.ram, pointers);
      if (revival.revived) incoming = revival.handover;
      else context.log.warn(`disabling KHO revival: ${revival.reason}`);
    }
    const needIncoming = (): KhoIncoming => {
      if (!incoming) throw new KhoError('ENOENT', 'not a KHO boot: there is no incoming handover');
      return incoming;
    };
    const preserver = outgoing.preserver;

    context.serve(khoInterface, {
      preserveFolio: ({ pa, order }) => (preserver.preserveFolio(pa, order), {}),
      unpreserveFolio: ({ pa, order }) => ({ wasPreserved: preserver.unpreserveFolio(pa, order) }),
      preservePages: ({ pa, count }) => (preserver.preservePages(pa, count), {}),
      unpreservePages: ({ pa, count }) => (preserver.unpreservePages(pa, count), {}),
      allocPreserve: ({ size }) => {
        const pa = preserver.allocPreserve(size);
        return { pa, order: Math.max(0, Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE)))) };
      },
      unpreserveFree: ({ pa }) => (preserver.unpreserveFree(pa), {}),
      preserveVmalloc: ({ blocks, order }) => ({
        descriptor: encodeVmallocDescriptor(preserveVmalloc(preserver, { blocks, order, flags: KHO_VMALLOC_ALLOC })),
      }),
      addSubtree: ({ name, pa }) => (outgoing.fdt.addSubtree(name, pa), {}),
      removeSubtree: ({ pa }) => ({ removed: outgoing.fdt.removeSubtree(pa) }),
      retrieveSubtree: ({ name, from }) => {
        if (from === 'incoming') return { pa: needIncoming().retrieveSubtree(name) };
        const found = outgoing.fdt.subtrees().find((subtree) => subtree.name === name);
        if (!found) throw new KhoError('ENOENT', `no outgoing subtree named "${name}"`);
        if (found.pa === null) throw new KhoError('EINVAL', `subtree "${name}" has no valid preserved-data`);
        return { pa: found.pa };
      },
      restoreFolio: ({ pa }) => ({ order: needIncoming().restorer.restoreFolio(pa) }),
      restorePages: ({ pa, count }) => (needIncoming().restorer.restorePages(pa, count), {}),
      restoreVmalloc: ({ descriptor }) => {
        const area = restoreVmalloc(needIncoming().restorer, decodeVmallocDescriptor(descriptor));
        return { blocks: [...area.blocks], order: area.order };
      },
      describe: () => ({ text: describe(outgoing, arena, incoming, pointers) }),
      state: () => ({
        scratch: outgoing.scratchAreas.map((area) => ({ addr: area.addr, size: area.size })),
        outgoing: {
          fdtPa: outgoing.fdt.pa,
          treePages: outgoing.tree.pageCount(),
          arenaUsedPages: arena.usedPages,
          arenaPages: arena.pages,
          blocksByOrder: outgoing.tree.blockCountsByOrder(),
          subtrees: outgoing.fdt.subtrees().map((subtree) => ({ name: subtree.name, pa: subtree.pa })),
        },
        ...(incoming && pointers ? {
          incoming: {
            fdtPa: pointers.fdtPa,
            scratchPa: pointers.scratchPa,
            blocks: incoming.blockCount,
            preservedBytes: incoming.preservedBytes,
            blocksByOrder: incoming.blockCountsByOrder(),
            subtrees: incoming.subtrees().map((subtree) => subtree.name),
          },
        } : {}),
      }),
      blobs: () => ({
        fdt: outgoing.fdt.bytes(),
        subtrees: outgoing.fdt.subtrees().flatMap((subtree) => {
          const blob = subtree.pa === null ? null : readFdtBlob(context.ram, subtree.pa);
          return blob ? [{ name: subtree.name, blob }] : [];
        }),
      }),
      prepareHandover: ({ poison, keep }, call) => {
        if (call.clientName !== 'kernel') throw new PermissionDeniedError('only the kernel prepares a handover');
        const prepared = outgoing.prepareHandover({ poison, keep });
        return { ...prepared.pointers, poisonedBytes: prepared.poison?.poisonedBytes ?? 0 };
      },
    });
  },
});

function describe(outgoing: KhoOutgoing, arena: KhoArena, incoming: KhoIncoming | undefined, pointers: HandoverPointers | undefined): string {
  const lines: string[] = [];
  lines.push('scratch areas:');
  for (const area of outgoing.scratchAreas) lines.push(`  ${hex(area.addr)} ${formatSize(area.size)}`);
  const counts = outgoing.tree.blockCountsByOrder();
  const perOrder = counts.map((count, order) => (count ? `order ${order}: ${count}` : '')).filter(Boolean);
  lines.push(`outgoing: root FDT at ${hex(outgoing.fdt.pa)}, radix tree ${outgoing.tree.pageCount()} pages, arena ${arena.usedPages}/${arena.pages} pages used`);
  lines.push(`preserved blocks: ${perOrder.length ? perOrder.join(', ') : 'none'}`);
  const subtrees = outgoing.fdt.subtrees();
  lines.push(`subtrees: ${subtrees.length ? subtrees.map((subtree) => `${subtree.name} at ${subtree.pa === null ? 'invalid' : hex(subtree.pa)}`).join(', ') : 'none'}`);
  lines.push('outgoing FDT:');
  lines.push(...toDts(decodeFdt(outgoing.fdt.bytes())).trimEnd().split('\n').map((line) => '  ' + line));
  if (incoming && pointers) {
    const inCounts = incoming.blockCountsByOrder().map((count, order) => (count ? `order ${order}: ${count}` : '')).filter(Boolean);
    lines.push(`incoming: FDT at ${hex(pointers.fdtPa)}, scratch array at ${hex(pointers.scratchPa)}; ${incoming.blockCount} blocks (${inCounts.join(', ') || 'none'}), ${formatSize(incoming.preservedBytes)}`);
    lines.push(`incoming subtrees: ${incoming.subtrees().map((subtree) => subtree.name).join(', ') || 'none'}`);
  } else {
    lines.push('incoming: none (not a KHO boot)');
  }
  return lines.join('\n');
}
