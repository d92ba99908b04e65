// What the kernel tells the memory server when it starts it (ServerContext.config).
//
// The kernel describes physical memory as it found it in the device tree and as it used it
// while booting; the memory server takes everything else:
//
//   ram        the `memory` node's ranges (default: all of the RAM the thread was given)
//   reserved   what the kernel keeps, each with the purpose `mem` shows: "kernel image",
//              "device tree blob", "initrd", "memreserve", "reserved-memory: NAME", early
//              allocations...; never handed out
//   scratch    KHO scratch areas the allocator may use, shown as "KHO scratch". Areas that
//              must stay free for the next kernel (baton has no movable-only allocations,
//              and KHO refuses to preserve a page inside scratch) go in `reserved` instead,
//              e.g. { purpose: 'KHO scratch 0' }
//   handover   on a KHO boot, the /chosen pointers: the server reserves every preserved block
//              (and the scratch array) before it serves anything
//   state      the region the kernel reserved for the server's own state (a `reserved` range
//              too): formatted on a first start, reattached to on every restart
//
// The page allocator manages `ram` minus `reserved`. Everything else is policy: limits
// from the manifest, which client names count as the kernel, which owners hold KHO-preserved
// state, checked mode. The schema (memoryConfig) is declared to the runtime, which checks
// the config before init; resolveMemoryConfig fills in the defaults.

import { Type } from '../../ipc/typebox.js';
import type { HandoverPointers } from '../../microkernel/kho/incoming.js';
import type { PhysicalRange } from './memory_map.js';

/** A range the kernel keeps out of the page allocator, and why. */
export interface ReservedRegion extends PhysicalRange {
  /** What `mem` prints for it, e.g. "kernel image", "device tree blob", "reserved-memory: ramoops". */
  readonly purpose: string;
}

/** The memory server's config, exactly as the kernel must pass it. */
export interface MemoryServerConfig {
  /** RAM ranges (the device tree `memory` node). Default: the whole RAM of ServerContext.ram. */
  readonly ram?: readonly PhysicalRange[];
  /** What the kernel occupies or the device tree reserves; rounded out to whole pages. */
  readonly reserved?: readonly ReservedRegion[];
  /** KHO scratch areas handed to the allocator, marked in `mem`. Areas kept for the next kernel belong in `reserved`. */
  readonly scratch?: readonly PhysicalRange[];
  /** On a KHO boot: linux,kho-fdt = <fdtPa fdtSize>, linux,kho-scratch = <scratchPa scratchSize>. */
  readonly handover?: HandoverPointers;
  /** Page limits by server name (the manifest's memory limits). */
  readonly limits?: Readonly<Record<string, number>>;
  /** Client names that may use the kernel's operations (reclaim, setLimit, onBehalfOf). Default ['kernel']. */
  readonly kernelClients?: readonly string[];
  /**
   * Owners whose pages are KHO-preserved state: reclaim refuses them unless includePreserved.
   * The first also owns the incoming preserved blocks on a KHO boot. Default ['kho'].
   */
  readonly preservedOwners?: readonly string[];
  /** Checked mode: refused checkAccess calls are logged and listed in `mem`. Default false. */
  readonly checked?: boolean;
  /** Where the server keeps its state (memoryStateBytes(ram) bytes). Without it the state is the thread's heap and is lost with it. */
  readonly state?: PhysicalRange;
}

const Range = Type.Object({ base: Type.Integer({ minimum: 0 }), size: Type.Integer({ minimum: 0 }) });
const Name = Type.String({ minLength: 1, maxLength: 128 });
const Address = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** The schema of MemoryServerConfig, checked by the runtime before init (ServerDefinition.config). */
export const memoryConfig = Type.Object({
  ram: Type.Optional(Type.Array(Range, { minItems: 1 })),
  reserved: Type.Optional(Type.Array(Type.Object({ base: Type.Integer({ minimum: 0 }), size: Type.Integer({ minimum: 0 }), purpose: Type.String({ minLength: 1, maxLength: 200 }) }))),
  scratch: Type.Optional(Type.Array(Range)),
  handover: Type.Optional(Type.Object({ fdtPa: Address, fdtSize: Address, scratchPa: Address, scratchSize: Address })),
  limits: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))),
  kernelClients: Type.Optional(Type.Array(Name)),
  preservedOwners: Type.Optional(Type.Array(Name)),
  checked: Type.Optional(Type.Boolean()),
  state: Type.Optional(Range),
}, { additionalProperties: false });

/** The config with its defaults filled in. */
export interface ResolvedMemoryConfig {
  readonly ram: readonly PhysicalRange[];
  readonly reserved: readonly ReservedRegion[];
  readonly scratch: readonly PhysicalRange[];
  readonly handover: HandoverPointers | undefined;
  readonly limits: ReadonlyMap<string, number>;
  readonly kernelClients: ReadonlySet<string>;
  readonly preservedOwners: readonly string[];
  readonly checked: boolean;
  readonly state: PhysicalRange | undefined;
}

/** The config (checked against memoryConfig) with its defaults filled in; `wholeRam` is the default `ram`. */
export function resolveMemoryConfig(config: MemoryServerConfig, wholeRam: PhysicalRange): ResolvedMemoryConfig {
  return {
    ram: config.ram ?? [wholeRam],
    reserved: config.reserved ?? [],
    scratch: config.scratch ?? [],
    handover: config.handover,
    limits: new Map(Object.entries(config.limits ?? {})),
    kernelClients: new Set(config.kernelClients ?? ['kernel']),
    preservedOwners: config.preservedOwners ?? ['kho'],
    checked: config.checked ?? false,
    state: config.state,
  };
}
