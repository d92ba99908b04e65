// The memory interface's handlers over one MemoryServer: who the caller is, what it may do,
// and the translation between names on the wire and owner ids in the allocator.
//
// Every handler first decides who acts (validate), then calls the core (apply), which throws
// a typed error before changing anything. Identity is the client name the kernel gave the
// channel; `onBehalfOf`, setLimit and reclaim are for the clients the config names as the
// kernel. Pages preserved through KHO belong to a preserved-state owner ("kho"), which reclaim
// refuses unless asked explicitly, so no other server's death or restart can free them.
//
// Boot order (MemoryService.boot): memory map from the config, page allocator over what is
// free, manifest limits, then — on a KHO boot — every preserved block reserved; main.ts
// serves the interface only after that. With a state region (config `state`) a first start
// formats it and every later start ('restart') reattaches to it (MemoryServer.attach): the
// owner names, the KHO tree the KHO service named and the revival line are kept there too.
// Each handler runs as one transaction (MemoryServer.transaction).

import type { Logger } from '../../microkernel/userlib/logger.js';
import { PAGE_SIZE } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import type { CallContext, HandlersOf } from '../../ipc/define.js';
import { PermissionDeniedError } from '../../ipc/errors.js';
import { DEFAULT_PAGE_MAP_CELLS, memoryInterface, type MemoryUsage, type PageMap } from '../../ipc/interfaces/memory.js';
import { KhoOutgoingFdt } from '../../microkernel/kho/kho_fdt.js';
import { KhoRadixTree } from '../../microkernel/kho/radix_tree.js';
import { FREE_BLOCK, MAX_PAGE_ORDER, UNAVAILABLE_BLOCK } from './buddy.js';
import type { ResolvedMemoryConfig } from './config.js';
import { InvalidArgumentError, InvalidBlockError } from './errors.js';
import { type AccessViolation, AccessViolationError, describeViolation } from './grants.js';
import { type HandoverRevival, describeRevival, reserveHandover } from './handover.js';
import { formatSize } from '../../hal/size_text.js';
import { MemoryMap } from './memory_map.js';
import { MemoryServer } from './memory_server.js';
import { StateRegion } from './state_region.js';
import type { StartKind } from '../../microkernel/protocol.js';
import { KERNEL_NAME, OwnerNames, SHARED_NAME } from './owner_names.js';
import { PageFault, PageFaultError, permissions } from './sv32.js';

type Handlers = HandlersOf<typeof memoryInterface>;
export type ServiceLog = Pick<Logger, 'info' | 'warn'>;

/** The service's own records in the state region's tables. */
interface ServiceRecords {
  readonly names: { names: [string, number][]; next: number };
  readonly preservedFdt: { pa: number; owner: string } | null;
  readonly revivalLine: string | null;
}

export class MemoryService {
  readonly memory: MemoryServer;
  readonly owners: OwnerNames;
  /** The outgoing KHO FDT, once the KHO service has named it, and that service's name. */
  #preservedFdt: { pa: number; owner: string } | undefined;
  /** The KHO revival on a KHO boot; undefined otherwise (and after a reattach). */
  readonly revival: HandoverRevival | undefined;
  /** What `mem` says about the KHO revival (kept across restarts). */
  #revivalLine: string | undefined;
  readonly #config: ResolvedMemoryConfig;
  readonly #log: ServiceLog;

  private constructor(memory: MemoryServer, config: ResolvedMemoryConfig, log: ServiceLog, revival: HandoverRevival | undefined, owners: OwnerNames) {
    this.memory = memory;
    this.#config = config;
    this.#log = log;
    this.revival = revival;
    this.#revivalLine = revival ? describeRevival(revival, config.preservedOwners[0] ?? KERNEL_NAME) : undefined;
    this.owners = owners;
    owners.changed = () => memory.extensionChanged();
    memory.useExtension({
      save: (): ServiceRecords => ({ names: owners.records(), preservedFdt: this.#preservedFdt ?? null, revivalLine: this.#revivalLine ?? null }),
      restore: (data) => this.#restoreRecords(data as ServiceRecords),
    });
  }

  #restoreRecords(records: ServiceRecords): void {
    this.owners.restore(records.names);
    this.#preservedFdt = records.preservedFdt ?? undefined;
    this.#revivalLine = records.revivalLine ?? undefined;
  }

  /**
   * Starts the service: formats its state (or the heap without config `state`) on a first
   * start, reattaches on a `restart`. Throws an Error, serving nothing, if a restart finds
   * no state it can trust: starting with every page free would hand out pages in use.
   */
  static start(ram: Ram, config: ResolvedMemoryConfig, log: ServiceLog, start: StartKind): MemoryService {
    if (config.state && start === 'restart') {
      const found = StateRegion.attach(ram, config.state.base, config.state.size);
      if ('region' in found) return MemoryService.#reattach(ram, config, log, found.region);
      if ('reason' in found) throw new Error(`cannot reattach to the memory server's state, refusing to start with every page free: ${found.reason}`);
      log.warn('the previous generation stopped while formatting its state, before serving anything: formatting again');
    }
    return MemoryService.boot(ram, config, log);
  }

  static #reattach(ram: Ram, config: ResolvedMemoryConfig, log: ServiceLog, region: StateRegion): MemoryService {
    const map = MemoryService.#map(config);
    const { memory, rolledBack, extension } = MemoryServer.attach(ram, map, region, { checked: config.checked });
    const service = new MemoryService(memory, config, log, undefined, new OwnerNames());
    service.#restoreRecords(extension as ServiceRecords);
    const info = memory.buddy.buddyInfo();
    const report = memory.report();
    log.info(`reattached to the state at 0x${region.base.toString(16)}: ${info.usedPages} of ${info.totalPages} pages in use by ${info.owners.filter((row) => row.pages > 0).length} owners, ` +
      `${report.grants.length} grants, ${report.spaces.length} address spaces${rolledBack ? `; rolled back the operation a crash cut short (${rolledBack} words)` : ''}`);
    return service;
  }

  static #map(config: ResolvedMemoryConfig): MemoryMap {
    const map = MemoryMap.build({ ram: config.ram, scratch: config.scratch });
    for (const region of config.reserved) map.reserve(region, region.purpose);
    return map;
  }

  /**
   * What `name` (this server) held in its previous generation goes back: pages it lent for
   * bulk replies that died with it. Run once after a reattach, before serving.
   */
  reclaimOwn(name: string): void {
    const id = this.owners.find(name);
    if (id === undefined) return;
    const result = this.memory.transaction(() => this.memory.reclaim(id));
    if (result.pagesFreed + result.grantsRevoked > 0) this.#log.info(`reclaimed what ${name}'s previous generation held: ${result.pagesFreed} pages, ${result.grantsRevoked} grants`);
  }

  /**
   * Builds the memory map and page allocator from `config`, applies the manifest limits and,
   * on a KHO boot, reserves every preserved block. Logs what it manages and the revival.
   * Throws InvalidArgumentError for a config that does not describe RAM.
   */
  static boot(ram: Ram, config: ResolvedMemoryConfig, log: ServiceLog): MemoryService {
    const map = MemoryService.#map(config);
    const state = config.state ? StateRegion.format(ram, config.state.base, config.state.size) : undefined;
    const memory = new MemoryServer(ram, map, { checked: config.checked, state });
    const owners = new OwnerNames();
    for (const [name, pages] of config.limits) memory.setLimit(owners.idOf(name), pages);
    const info = memory.buddy.buddyInfo();
    log.info(`managing ${info.totalPages} pages (${formatSize(info.totalPages * PAGE_SIZE)}) of ${formatSize(map.totals().ram)} RAM; ${config.reserved.length} regions reserved by the kernel`);
    let revival: HandoverRevival | undefined;
    if (config.handover) {
      const preservedOwner = config.preservedOwners[0] ?? KERNEL_NAME;
      revival = reserveHandover(memory, config.handover, owners.idOf(preservedOwner));
      if (revival.revived) log.info(describeRevival(revival, preservedOwner));
      else log.warn(`disabling KHO revival: ${revival.reason}`);
    }
    const service = new MemoryService(memory, config, log, revival, owners);
    memory.markReady();
    if (state) log.info(`state kept at 0x${state.base.toString(16)} (${formatSize(state.size)}): a restarted memory server reattaches to it`);
    return service;
  }

  /** The `mem` text. */
  formatReport(): string {
    const lines = this.memory.formatReport(this.owners.names);
    if (this.#revivalLine) lines.push(this.#revivalLine);
    return lines.join('\n');
  }

  usage(): MemoryUsage {
    const report = this.memory.report();
    const { buddy } = report;
    return {
      totalPages: buddy.totalPages,
      freePages: buddy.freePages,
      usedPages: buddy.usedPages,
      reservedPages: buddy.reservedPages,
      freeBlocks: [...buddy.freeBlocks],
      owners: buddy.owners.map((row) => ({ name: this.owners.nameOf(row.owner), pages: row.pages, ...(row.limit === undefined ? {} : { limit: row.limit }) })),
      grants: report.grants.length,
      spaces: report.spaces.length,
    };
  }

  /** The interface's handlers, each run as one transaction. */
  handlers(): Handlers {
    const memory = this.memory;
    const handlers = this.#handlers() as Record<string, (args: unknown, call: CallContext) => unknown>;
    return Object.fromEntries(Object.entries(handlers).map(([name, handler]) => [name, (args: unknown, call: CallContext) => memory.transaction(() => handler(args, call))])) as unknown as Handlers;
  }

  #handlers(): Handlers {
    const memory = this.memory;
    return {
      allocate: ({ order, bytes, alignOrder, zeroed, onBehalfOf }, call) => {
        const owner = this.#actor(call, onBehalfOf);
        if (order !== undefined && bytes !== undefined) throw new InvalidArgumentError('allocate takes an order or a byte size, not both', { order, bytes });
        const pages = bytes === undefined ? 2 ** (order ?? 0) : Math.ceil(bytes / PAGE_SIZE);
        const sizeOrder = Math.ceil(Math.log2(pages));
        const alignment = PAGE_SIZE * 2 ** (alignOrder ?? 0);
        if (sizeOrder <= MAX_PAGE_ORDER && alignment <= PAGE_SIZE << sizeOrder) {
          return { pa: memory.allocate(owner, { order: sizeOrder, zeroed: zeroed ?? false }), order: sizeOrder, pages: 1 << sizeOrder };
        }
        const range = memory.allocateContiguous(owner, pages, { alignment, zeroed: zeroed ?? false });
        return { pa: range.base, order: sizeOrder, pages };
      },
      free: ({ pa, onBehalfOf }, call) => ({ freed: memory.free(this.#actor(call, onBehalfOf), pa) }),
      grant: ({ to, pa, length, mode, onBehalfOf }, call) => {
        const owner = this.#actor(call, onBehalfOf);
        return { grant: memory.grant(owner, this.owners.idOf(to), pa, length, mode).id };
      },
      revoke: ({ grant, onBehalfOf }, call) => {
        memory.revokeGrant(this.#actor(call, onBehalfOf), grant);
        return {};
      },
      checkAccess: ({ accessor, pa, length, access }, call) => {
        const name = accessor ?? this.#caller(call).name;
        const who = this.owners.find(name);
        // A name the server never saw owns nothing and was lent nothing (and gets no id).
        const violation: AccessViolation | undefined = who === undefined
          ? { accessor: -1, address: pa, length, access, owner: memory.buddy.ownerAt(pa), reason: 'not-owned' }
          : memory.checkAccess(who, pa, length, access);
        if (!violation) return { allowed: true };
        const description = this.#describeViolation(violation, name);
        if (memory.checked) {
          if (who !== undefined) {
            try {
              memory.enforceAccess(who, pa, length, access);
            } catch (error) {
              if (!(error instanceof AccessViolationError)) throw error;
            }
          }
          this.#log.warn(`access violation: ${description}`);
        }
        return { allowed: false, owner: violation.owner < 0 ? 'nobody' : this.owners.nameOf(violation.owner), reason: violation.reason, description };
      },

      createSpace: ({ onBehalfOf }, call) => {
        const owner = this.#actor(call, onBehalfOf), space = memory.createSpace(owner);
        return { space, root: memory.spaceRoot(owner, space) };
      },
      destroySpace: ({ space, onBehalfOf }, call) => {
        memory.destroySpace(this.#actor(call, onBehalfOf), space);
        return {};
      },
      map: ({ space, va, pa, permissions: spec, megapage, onBehalfOf }, call) => {
        memory.map(this.#actor(call, onBehalfOf), space, va, pa, permissions(spec), { megapage: megapage ?? false });
        return {};
      },
      unmap: ({ space, va, onBehalfOf }, call) => {
        memory.unmap(this.#actor(call, onBehalfOf), space, va);
        return {};
      },
      protect: ({ space, va, permissions: spec, onBehalfOf }, call) => {
        memory.protect(this.#actor(call, onBehalfOf), space, va, permissions(spec));
        return {};
      },
      translate: ({ space, va, access, mode, resolve, onBehalfOf }, call) => {
        const owner = this.#actor(call, onBehalfOf);
        const target = memory.space(space);
        if (target.owner !== owner) {
          throw new InvalidBlockError('NOT_OWNER', `address space ${space} belongs to ${this.owners.nameOf(target.owner)}, not ${this.owners.nameOf(owner)}`, { space });
        }
        let result: number | PageFault;
        if (resolve) {
          try {
            result = memory.access(space, va, access, mode ?? 'user');
          } catch (error) {
            if (!(error instanceof PageFaultError)) throw error;
            result = error.fault;
          }
        } else {
          result = memory.translate(space, va, access, mode ?? 'user');
        }
        if (result instanceof PageFault) return { fault: { cause: result.cause, reason: result.reason, description: result.describe() } };
        return { pa: result };
      },
      fork: ({ space, childOwner, onBehalfOf }, call) => {
        const owner = this.#actor(call, onBehalfOf);
        const child = childOwner === undefined ? owner : this.owners.idOf(childOwner);
        if (child !== owner) this.#requireKernel(call, `fork address space ${space} into ${childOwner}`);
        return { space: memory.fork(owner, space, child) };
      },
      reserveRegion: ({ space, va, length, permissions: spec, onBehalfOf }, call) => {
        memory.reserveRegion(this.#actor(call, onBehalfOf), space, va, length, permissions(spec));
        return {};
      },
      unreserveRegion: ({ space, va, onBehalfOf }, call) => {
        memory.unreserveRegion(this.#actor(call, onBehalfOf), space, va);
        return {};
      },

      setLimit: ({ owner, pages }, call) => {
        this.#requireKernel(call, `set the page limit of ${owner}`);
        if (owner === SHARED_NAME) throw new InvalidArgumentError('"shared" is not a server and has no limit');
        memory.setLimit(this.owners.idOf(owner), pages ?? undefined);
        return {};
      },
      reclaim: ({ owner, includePreserved }, call) => {
        this.#requireKernel(call, `reclaim the memory of ${owner}`);
        if (owner === KERNEL_NAME || owner === SHARED_NAME) throw new InvalidArgumentError(`"${owner}" cannot be reclaimed: it is not a server that can die`, { owner });
        if (this.#config.preservedOwners.includes(owner) && !includePreserved) {
          throw new PermissionDeniedError(`${owner} holds KHO-preserved state: reclaim it only with includePreserved: true`, { owner });
        }
        const id = this.owners.find(owner);
        if (id === undefined) return { pagesFreed: 0, grantsRevoked: 0, spacesDestroyed: 0 };
        const kept = this.#keepPreserved(id);
        if (kept > 0) this.#log.info(`${owner}: ${kept} blocks it preserved through KHO handed to ${this.#config.preservedOwners.at(-1)} before reclaim`);
        const freeBefore = memory.buddy.freePages;
        const result = memory.reclaim(id);
        const pagesFreed = memory.buddy.freePages - freeBefore;
        this.#log.info(`reclaimed ${owner}: ${pagesFreed} pages freed, ${result.grantsRevoked} grants revoked, ${result.spacesDestroyed} address spaces destroyed`);
        return { pagesFreed, grantsRevoked: result.grantsRevoked, spacesDestroyed: result.spacesDestroyed };
      },

      trackPreserved: ({ fdtPa }, call) => {
        if (!call.clientName || !this.#config.preservedOwners.includes(call.clientName)) {
          throw new PermissionDeniedError(`only the KHO service may name the preserved-memory tree (${call.clientName ?? 'unnamed'} tried)`);
        }
        this.#preservedFdt = { pa: fdtPa, owner: call.clientName };
        memory.extensionChanged();
        return {};
      },
      report: () => ({ text: this.formatReport() }),
      usage: () => this.usage(),
      pageMap: ({ cells }) => this.pageMap(cells ?? DEFAULT_PAGE_MAP_CELLS),
    };
  }

  /**
   * Physical memory as at most `cells` cells of whole pages each, every cell marked with the
   * owner of most of its pages (ties: the lower page's); owners[0] is "free", owners[1]
   * "unavailable" (pages the allocator does not manage).
   */
  pageMap(cells: number): PageMap {
    const buddy = this.memory.buddy;
    const { base, pages } = buddy.span;
    const cellPages = Math.max(1, Math.ceil(pages / cells));
    const cellCount = Math.ceil(pages / cellPages);
    const owners = ['free', 'unavailable'];
    const indexOf = new Map<number, number>([[FREE_BLOCK, 0], [UNAVAILABLE_BLOCK, 1]]);
    // Blocks come in address order: tally the owners of one cell at a time, and mark it when the next begins.
    const marks = new Uint8Array(cellCount);
    const tally = new Map<number, number>();
    let cell = 0;
    const mark = () => {
      let best = 1, most = 0;
      for (const [ownerIndex, count] of tally) if (count > most) [best, most] = [ownerIndex, count];
      marks[cell] = Math.min(best, 255);
      tally.clear();
    };
    buddy.visitBlocks((firstPage, blockPages, owner) => {
      let ownerIndex = indexOf.get(owner);
      if (ownerIndex === undefined) {
        ownerIndex = owners.length;
        indexOf.set(owner, ownerIndex);
        owners.push(this.owners.nameOf(owner));
      }
      const blockEnd = Math.min(firstPage + blockPages, pages);
      for (let page = firstPage; page < blockEnd;) {
        const pageCell = Math.floor(page / cellPages);
        while (cell < pageCell) {
          mark();
          cell++;
        }
        const end = Math.min(blockEnd, (pageCell + 1) * cellPages);
        tally.set(ownerIndex, (tally.get(ownerIndex) ?? 0) + end - page);
        page = end;
      }
    });
    while (cell < cellCount) {
      mark();
      cell++;
    }
    return { base, pages, cellPages, owners: owners.slice(0, 256), cells: marks };
  }

  /** The caller's name and whether it counts as the kernel. PERMISSION_DENIED for an unnamed client. */
  #caller(call: CallContext): { name: string; kernel: boolean } {
    const name = call.clientName;
    if (!name) throw new PermissionDeniedError('the memory server serves named clients only: this channel has no client name');
    return { name, kernel: this.#config.kernelClients.has(name) };
  }

  /** The owner id an operation acts for: the caller, or (kernel clients only) `onBehalfOf`. */
  #actor(call: CallContext, onBehalfOf: string | undefined): number {
    const caller = this.#caller(call);
    if (onBehalfOf === undefined || onBehalfOf === caller.name) return this.owners.idOf(caller.name);
    if (!caller.kernel) throw new PermissionDeniedError(`${caller.name} may not act on behalf of ${onBehalfOf}: only the kernel may`, { caller: caller.name, onBehalfOf });
    if (onBehalfOf === SHARED_NAME) throw new InvalidArgumentError('nobody acts as "shared"');
    return this.owners.idOf(onBehalfOf);
  }

  /**
   * Hands every block `owner` preserved in the outgoing KHO tree to the KHO service's owner,
   * so reclaiming `owner` leaves them alone (issue: "except what it preserved through KHO").
   * Returns how many blocks changed hands; a tree that cannot be read keeps nothing.
   */
  #keepPreserved(owner: number): number {
    const tracked = this.#preservedFdt;
    if (!tracked) return 0;
    const memory = this.memory;
    const keeper = this.owners.idOf(tracked.owner);
    let moved = 0;
    try {
      const fdt = KhoOutgoingFdt.open(memory.ram, tracked.pa);
      const tree = KhoRadixTree.open(memory.ram, fdt.treeRootPa, { allocatePage: () => null, freePage: () => undefined });
      tree.walk((pa) => {
        const block = memory.buddy.blockAt(pa);
        if (block?.state === 'allocated' && block.owner === owner) {
          memory.buddy.transfer(block.base, keeper);
          moved++;
        }
      });
    } catch (error) {
      this.#log.warn(`the preserved-memory tree at 0x${tracked.pa.toString(16)} could not be read: ${(error as Error).message}`);
    }
    return moved;
  }

  #requireKernel(call: CallContext, what: string): void {
    const caller = this.#caller(call);
    if (!caller.kernel) throw new PermissionDeniedError(`only the kernel may ${what}; ${caller.name} asked`, { caller: caller.name });
  }

  #describeViolation(violation: AccessViolation, accessor: string): string {
    return describeViolation(violation, (owner) => (owner === violation.accessor ? accessor : this.owners.nameOf(owner)));
  }
}
