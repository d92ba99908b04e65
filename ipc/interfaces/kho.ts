// The KHO service: Linux's Kexec HandOver API (kernel/liveupdate/kexec_handover.c),
// over IPC. Addresses are guest physical addresses. The kho-v2 radix tree, the root KHO
// FDT and every preserved page live in guest RAM, so they survive a kexec and a restart
// of any server, the KHO server included.
//
// Errors carry Linux's errno names as codes: EINVAL, ENOMEM, EEXIST, ENOENT, E2BIG,
// EOPNOTSUPP, EUCLEAN (a corrupt handover).

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

const Address = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Order = Type.Integer({ minimum: 0, maximum: 52 });
const Pages = Type.Integer({ minimum: 1, maximum: 2 ** 40 });
const Range = Type.Object({ start: Address, end: Address });
const Empty = Type.Object({});
const BlocksByOrder = Type.Array(Type.Integer({ minimum: 0 }), { description: 'preserved blocks per order, index = order' });

/** The KHO state as data: what `describe` prints, for the live view's trees. */
export const KhoState = Type.Object({
  scratch: Type.Array(Type.Object({ addr: Address, size: Address })),
  outgoing: Type.Object({
    fdtPa: Address,
    treePages: Type.Integer({ minimum: 0 }),
    arenaUsedPages: Type.Integer({ minimum: 0 }),
    arenaPages: Type.Integer({ minimum: 0 }),
    blocksByOrder: BlocksByOrder,
    subtrees: Type.Array(Type.Object({ name: Type.String(), pa: Type.Union([Address, Type.Null()]) })),
  }),
  incoming: Type.Optional(Type.Object({
    fdtPa: Address,
    scratchPa: Address,
    blocks: Type.Integer({ minimum: 0 }),
    preservedBytes: Type.Integer({ minimum: 0 }),
    blocksByOrder: BlocksByOrder,
    subtrees: Type.Array(Type.String()),
  })),
});

const ERRNO = ['EINVAL', 'ENOMEM', 'EEXIST', 'ENOENT', 'E2BIG', 'EOPNOTSUPP', 'EUCLEAN'] as const;

export const khoInterface = defineInterface({
  name: 'kho',
  ops: {
    preserveFolio: { id: 1, kind: 'call', idempotent: true, args: Type.Object({ pa: Address, order: Order }), reply: Empty, errors: ERRNO,
      doc: 'kho_preserve_folio: one key for the 2^order pages at pa.' },
    unpreserveFolio: { id: 2, kind: 'call', idempotent: true, args: Type.Object({ pa: Address, order: Order }), reply: Type.Object({ wasPreserved: Type.Boolean() }) },
    preservePages: { id: 3, kind: 'call', idempotent: true, args: Type.Object({ pa: Address, count: Pages }), reply: Empty, errors: ERRNO,
      doc: 'kho_preserve_pages: split into maximal naturally aligned blocks.' },
    unpreservePages: { id: 4, kind: 'call', idempotent: true, args: Type.Object({ pa: Address, count: Pages }), reply: Empty },
    allocPreserve: { id: 5, kind: 'call', args: Type.Object({ size: Type.Integer({ minimum: 1 }) }), reply: Type.Object({ pa: Address, order: Order }), errors: ERRNO,
      doc: 'kho_alloc_preserve: zeroed pages, preserved, owned by KHO so they outlive the caller’s crashes.' },
    unpreserveFree: { id: 6, kind: 'call', args: Type.Object({ pa: Address }), reply: Empty },
    preserveVmalloc: { id: 7, kind: 'call', args: Type.Object({ blocks: Type.Array(Address, { maxItems: 65536 }), order: Order }),
      reply: Type.Object({ descriptor: Type.Uint8Array({ minByteLength: 16, maxByteLength: 16 }) }),
      doc: 'kho_preserve_vmalloc: the blocks and their chunk list; returns the 16-byte struct kho_vmalloc.' },
    addSubtree: { id: 8, kind: 'call', args: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), pa: Address }), reply: Empty, errors: ERRNO },
    removeSubtree: { id: 9, kind: 'call', idempotent: true, args: Type.Object({ pa: Address }), reply: Type.Object({ removed: Type.Boolean() }) },
    retrieveSubtree: { id: 10, kind: 'call', idempotent: true,
      args: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), from: Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')]) }),
      reply: Type.Object({ pa: Address }), errors: ['ENOENT', 'EINVAL'],
      doc: 'kho_retrieve_subtree; "outgoing" finds what this boot registered (a restarted server’s own state).' },
    restoreFolio: { id: 11, kind: 'call', args: Type.Object({ pa: Address }), reply: Type.Object({ order: Order }), errors: ERRNO },
    restorePages: { id: 12, kind: 'call', args: Type.Object({ pa: Address, count: Pages }), reply: Empty, errors: ERRNO },
    restoreVmalloc: { id: 13, kind: 'call', args: Type.Object({ descriptor: Type.Uint8Array({ minByteLength: 16, maxByteLength: 16 }) }),
      reply: Type.Object({ blocks: Type.Array(Address), order: Order }), errors: ERRNO },
    describe: { id: 20, kind: 'call', idempotent: true, args: Empty, reply: Type.Object({ text: Type.String() }),
      doc: 'Scratch areas, the outgoing FDT as text, subtrees, preserved blocks per order, tree pages; the incoming handover (debugfs kho/out and kho/in).' },
    state: { id: 22, kind: 'call', idempotent: true, args: Empty, reply: KhoState,
      doc: 'What describe says, as data: scratch areas, the outgoing tree (blocks per order, subtrees) and the incoming handover.' },
    blobs: { id: 21, kind: 'call', idempotent: true, args: Empty,
      reply: Type.Object({ fdt: Type.Uint8Array(), subtrees: Type.Array(Type.Object({ name: Type.String(), blob: Type.Uint8Array() })) }),
      doc: 'The outgoing root FDT and every subtree blob that is itself an FDT (for kho dump).' },
    prepareHandover: { id: 30, kind: 'call', args: Type.Object({ poison: Type.Boolean(), keep: Type.Array(Range) }),
      reply: Type.Object({ fdtPa: Address, fdtSize: Address, scratchPa: Address, scratchSize: Address, poisonedBytes: Type.Number() }),
      doc: 'At kexec (the kernel only): writes the scratch array, optionally poisons every page not handed over, returns the /chosen values.' },
  },
});
