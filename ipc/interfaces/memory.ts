// The memory service: physical pages, address spaces and grants (servers/memory).
//
// The caller is always the owner: the kernel names each client when it attaches its
// channel (CallContext.clientName) and the server charges pages to that name. Clients the
// memory server counts as the kernel (its config's kernelClients, default ['kernel']) may
// also act for another server (`onBehalfOf`), set limits and reclaim a dead server's memory.
//
//   allocate → { pa, order, pages }    a block of 2^order pages, or `bytes` rounded up to one
//                                      (a contiguous run when larger than 4 MiB or when the
//                                      alignment exceeds the size)
//   free                               by the address allocate returned
//   grant / revoke / checkAccess       lend pages read-only or read-write to another server
//   createSpace .. reserveRegion       Sv32 address spaces in guest RAM; the server is their pager
//   setLimit / reclaim                 the kernel's: manifest limits; everything a dead server held
//   report → { text }                  what `mem` prints; usage → the same numbers as data
//
// Errors (codes): OUT_OF_MEMORY and LIMIT_EXCEEDED (nothing changed, the server keeps serving),
// DOUBLE_FREE, NOT_BLOCK_HEAD, NOT_OWNER, NOT_MANAGED, ADDRESS_IN_USE, MAPPING_EXISTS,
// NOT_MAPPED, PAGE_FAULT, ACCESS_VIOLATION, NO_SUCH_SPACE, NO_SUCH_GRANT, INVALID_ARGUMENT,
// PERMISSION_DENIED (a kernel-only operation or `onBehalfOf` from another client).

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';
import {
  AccessViolationError, InvalidBlockError, LimitExceededError, MappingError, NotFoundError, OutOfMemoryError, PageFaultError,
} from './memory_errors.js';

export * from './memory_errors.js';

/** Largest block order: 2^10 pages = 4 MiB (Linux's MAX_PAGE_ORDER; an Sv32 megapage). */
export const MEMORY_MAX_ORDER = 10;

const Address = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'physical address' });
const VirtualAddress = Type.Integer({ minimum: 0, maximum: 0xffff_ffff, description: 'Sv32 virtual address' });
const Order = Type.Integer({ minimum: 0, maximum: MEMORY_MAX_ORDER });
const Bytes = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const Pages = Type.Integer({ minimum: 0 });
const ServerName = Type.String({ minLength: 1, maxLength: 128 });
const SpaceId = Type.Integer({ minimum: 1, maximum: 0x7fff_ffff });
const GrantId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const Permissions = Type.String({ pattern: '^[rwxug-]{1,8}$', description: 'R W X U G as letters: "r", "rw", "rx", "rwu", "r-xu"' });
const GrantMode = Type.Union([Type.Literal('read'), Type.Literal('read-write')]);
const Empty = Type.Object({});
/** Kernel clients only: do this as (and charge it to) the named server. */
const OnBehalfOf = Type.Optional(ServerName);

const ALLOCATION_ERRORS = ['OUT_OF_MEMORY', 'LIMIT_EXCEEDED', 'INVALID_ARGUMENT', 'PERMISSION_DENIED'];
const BLOCK_ERRORS = ['DOUBLE_FREE', 'NOT_BLOCK_HEAD', 'NOT_OWNER', 'NOT_MANAGED', 'INVALID_ARGUMENT', 'PERMISSION_DENIED'];
const SPACE_ERRORS = ['NO_SUCH_SPACE', 'NOT_OWNER', 'INVALID_ARGUMENT', 'PERMISSION_DENIED'];

/** Pages one server holds, and its limit if it has one. */
export const OwnerUsageRow = Type.Object({
  name: Type.String(),
  pages: Pages,
  limit: Type.Optional(Pages),
});

/** The numbers behind `mem`: pages in total, free, used, reserved (KHO-preserved, boot reservations), per server. */
export const MemoryUsage = Type.Object({
  totalPages: Pages,
  freePages: Pages,
  usedPages: Pages,
  reservedPages: Pages,
  /** Free blocks on the free lists per order 0..10 (/proc/buddyinfo). */
  freeBlocks: Type.Array(Pages),
  owners: Type.Array(OwnerUsageRow),
  grants: Pages,
  spaces: Pages,
});
export type MemoryUsage = Static<typeof MemoryUsage>;

/** Cells the page map has by default (8192: one per 8 pages of 256 MiB). */
export const DEFAULT_PAGE_MAP_CELLS = 8192;

/** Physical memory as a picture: each cell is `cellPages` pages, marked with an index into `owners`. */
export const PageMap = Type.Object({
  /** Physical address of the first page. */
  base: Address,
  pages: Pages,
  cellPages: Type.Integer({ minimum: 1 }),
  /** owners[0] is "free", owners[1] "unavailable" (not managed by the allocator); then the servers, "kernel", "shared". */
  owners: Type.Array(Type.String(), { maxItems: 256 }),
  /** One byte per cell: the owner of most of its pages. */
  cells: Type.Uint8Array(),
});
export type PageMap = Static<typeof PageMap>;

/** A translation: the physical address, or the page fault the hardware would raise (scause, reason). */
export const TranslateReply = Type.Object({
  pa: Type.Optional(Address),
  fault: Type.Optional(Type.Object({
    cause: Type.Integer({ description: 'scause: 12 instruction, 13 load, 15 store page fault' }),
    reason: Type.String(),
    description: Type.String(),
  })),
});

/**
 * The memory service.
 *
 * @example
 * const memory = context.connect(memoryInterface);
 * const { pa } = await memory.allocate({ bytes: 16384, zeroed: true });
 * const { grant } = await memory.grant({ to: 'virtio-blk', pa, length: 16384, mode: 'read-write' });
 * await memory.free({ pa });                 // revokes the grant too
 */
export const memoryInterface = defineInterface({
  name: 'memory',
  doc: 'Physical pages (buddy allocator), Sv32 address spaces, grants; the `mem` report.',
  ops: {
    allocate: { id: 1, kind: 'call',
      args: Type.Object({
        order: Type.Optional(Order),
        bytes: Type.Optional(Bytes),
        alignOrder: Type.Optional(Order),
        zeroed: Type.Optional(Type.Boolean()),
        onBehalfOf: OnBehalfOf,
      }),
      reply: Type.Object({ pa: Address, order: Type.Integer({ minimum: 0 }), pages: Pages }),
      errors: ALLOCATION_ERRORS,
      doc: 'A block of 2^order pages (default 0) or of `bytes` rounded up to a power of two (not both), starting at a multiple of 4 KiB << alignOrder. ' +
        'Above 4 MiB, or when alignOrder exceeds the order, a run of exactly ceil(bytes / 4 KiB) pages. `order` in the reply is the size rounded up to a power of two.' },
    free: { id: 2, kind: 'call', args: Type.Object({ pa: Address, onBehalfOf: OnBehalfOf }),
      reply: Type.Object({ freed: Type.Boolean() }), errors: BLOCK_ERRORS,
      doc: 'Frees what allocate returned at pa; grants lending it end. freed is false when address spaces still map it (it is then "shared" until unmapped).' },
    grant: { id: 3, kind: 'call',
      args: Type.Object({ to: ServerName, pa: Address, length: Bytes, mode: GrantMode, onBehalfOf: OnBehalfOf }),
      reply: Type.Object({ grant: GrantId }), errors: ['NOT_OWNER', 'INVALID_ARGUMENT', 'PERMISSION_DENIED'],
      doc: 'Lends whole pages the caller owns to server `to`. Ends on revoke, when the pages are freed, or when either side is reclaimed.' },
    revoke: { id: 4, kind: 'call', args: Type.Object({ grant: GrantId, onBehalfOf: OnBehalfOf }), reply: Empty,
      errors: ['NO_SUCH_GRANT', 'NOT_OWNER', 'PERMISSION_DENIED'],
      doc: 'Ends a grant (either party may); the pages are unmapped from the grantee.' },
    checkAccess: { id: 5, kind: 'call', idempotent: true,
      args: Type.Object({ accessor: Type.Optional(ServerName), pa: Address, length: Bytes, access: Type.Union([Type.Literal('read'), Type.Literal('write')]) }),
      reply: Type.Object({ allowed: Type.Boolean(), owner: Type.Optional(Type.String()), reason: Type.Optional(Type.String()), description: Type.Optional(Type.String()) }),
      errors: ['INVALID_ARGUMENT'],
      doc: 'Whether `accessor` (default: the caller) owns or was lent [pa, pa + length) for the access. In checked mode a refusal is logged and kept for `mem`.' },

    createSpace: { id: 10, kind: 'call', args: Type.Object({ onBehalfOf: OnBehalfOf }), reply: Type.Object({ space: SpaceId, root: Address }),
      errors: ALLOCATION_ERRORS, doc: 'A new, empty Sv32 address space (its root table charged to the caller); `root` is the root table\'s physical address, for satp.' },
    destroySpace: { id: 11, kind: 'call', args: Type.Object({ space: SpaceId, onBehalfOf: OnBehalfOf }), reply: Empty, errors: SPACE_ERRORS },
    map: { id: 12, kind: 'call',
      args: Type.Object({ space: SpaceId, va: VirtualAddress, pa: Address, permissions: Permissions, megapage: Type.Optional(Type.Boolean()), onBehalfOf: OnBehalfOf }),
      reply: Empty, errors: [...SPACE_ERRORS, 'ACCESS_VIOLATION', 'MAPPING_EXISTS', 'OUT_OF_MEMORY', 'LIMIT_EXCEEDED'],
      doc: 'Maps a page (or a 4 MiB megapage) the caller owns or was lent; a read-only grant maps without W.' },
    unmap: { id: 13, kind: 'call', args: Type.Object({ space: SpaceId, va: VirtualAddress, onBehalfOf: OnBehalfOf }), reply: Empty,
      errors: [...SPACE_ERRORS, 'NOT_MAPPED'] },
    protect: { id: 14, kind: 'call', args: Type.Object({ space: SpaceId, va: VirtualAddress, permissions: Permissions, onBehalfOf: OnBehalfOf }), reply: Empty,
      errors: [...SPACE_ERRORS, 'NOT_MAPPED', 'ACCESS_VIOLATION'] },
    translate: { id: 15, kind: 'call', idempotent: true,
      args: Type.Object({
        space: SpaceId, va: VirtualAddress,
        access: Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('execute')]),
        mode: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('supervisor')])),
        resolve: Type.Optional(Type.Boolean()),
        onBehalfOf: OnBehalfOf,
      }),
      reply: TranslateReply, errors: SPACE_ERRORS,
      doc: 'The physical address for an access (mode default user), or the page fault the hardware would raise. resolve: run the pager once first (demand-zero, copy-on-write).' },
    fork: { id: 16, kind: 'call', args: Type.Object({ space: SpaceId, childOwner: Type.Optional(ServerName), onBehalfOf: OnBehalfOf }),
      reply: Type.Object({ space: SpaceId }), errors: [...SPACE_ERRORS, 'OUT_OF_MEMORY', 'LIMIT_EXCEEDED'],
      doc: 'A copy-on-write duplicate; childOwner other than the caller is for kernel clients only.' },
    reserveRegion: { id: 17, kind: 'call',
      args: Type.Object({ space: SpaceId, va: VirtualAddress, length: Bytes, permissions: Permissions, onBehalfOf: OnBehalfOf }),
      reply: Empty, errors: [...SPACE_ERRORS, 'MAPPING_EXISTS'],
      doc: 'A demand-zero region: pages appear, zeroed, on first touch.' },
    unreserveRegion: { id: 18, kind: 'call', args: Type.Object({ space: SpaceId, va: VirtualAddress, onBehalfOf: OnBehalfOf }), reply: Empty,
      errors: [...SPACE_ERRORS, 'NOT_MAPPED'] },

    setLimit: { id: 20, kind: 'call', idempotent: true,
      args: Type.Object({ owner: ServerName, pages: Type.Union([Pages, Type.Null()]) }), reply: Empty, errors: ['PERMISSION_DENIED', 'INVALID_ARGUMENT'],
      doc: 'Kernel only: the most pages `owner` may hold (null: no limit). What it holds already is kept.' },
    reclaim: { id: 21, kind: 'call', idempotent: true,
      args: Type.Object({ owner: ServerName, includePreserved: Type.Optional(Type.Boolean()) }),
      reply: Type.Object({ pagesFreed: Pages, grantsRevoked: Pages, spacesDestroyed: Pages }),
      errors: ['PERMISSION_DENIED', 'INVALID_ARGUMENT'],
      doc: 'Kernel only, when `owner` dies or restarts: revokes its grants (both ways), destroys its spaces, frees its pages. ' +
        'pagesFreed counts every page that came back (page tables included); pages others still map become "shared". An owner holding KHO-preserved state (config preservedOwners) is refused unless includePreserved.' },

    trackPreserved: { id: 22, kind: 'call', idempotent: true, args: Type.Object({ fdtPa: Address }), reply: Empty,
      errors: ['PERMISSION_DENIED'],
      doc: 'The KHO service only (a client named in config.preservedOwners): the outgoing KHO FDT at fdtPa is where preserved blocks are listed; ' +
        'reclaiming a dead server first hands the blocks it preserved there to the KHO service, so they survive the crash.' },
    report: { id: 30, kind: 'call', idempotent: true, args: Empty, reply: Type.Object({ text: Type.String() }),
      doc: 'What `mem` prints: memory map with purposes, free blocks per order, totals, usage per server, spaces, grants, the KHO revival.' },
    usage: { id: 31, kind: 'call', idempotent: true, args: Empty, reply: MemoryUsage, doc: 'The report\'s numbers as data.' },
    pageMap: { id: 32, kind: 'call', idempotent: true,
      args: Type.Object({ cells: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })) }), reply: PageMap,
      doc: 'Physical memory page by page (or by cells of whole pages, at most CELLS, default 8192), each cell marked with the owner of most of its pages: the live view\'s picture.' },
  },
  errors: [OutOfMemoryError, LimitExceededError, InvalidBlockError, MappingError, NotFoundError, AccessViolationError, PageFaultError],
});
