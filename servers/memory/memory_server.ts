// The memory server's core: one object holding physical memory (buddy allocator), address
// spaces with their translation cache, and the grant table, with the operations its IPC
// interface exposes. Pure: no IPC, no host access. A thin layer (main.ts) decodes a request,
// passes the caller's owner id (the server id the runtime vouches for) and replies with the
// result or the typed error thrown here.
//
// Policy lives here, mechanism in the modules below it:
//   - a server may only manipulate its own address spaces;
//   - it may map only pages it owns or was granted (read-only grants map read-only);
//   - revoking a grant unmaps the lent pages from every space but the granter's;
//   - freeing pages revokes the grants that lent them;
//   - reclaim(owner) on a server's exit or restart: revoke its grants, destroy its spaces,
//     free its pages. Pages preserved through KHO belong to the KHO server's owner, so
//     reclaiming another owner never touches them (the IPC layer refuses to reclaim that
//     owner unless asked explicitly).
//   - a contiguous range larger than one block (allocateContiguous) is freed as a whole by
//     its base address; its other block heads are not separately freeable.
//
// State: with a state region (options.state, state_region.ts) everything lives in RAM — the
// buddy's records and accounts as views of the region, page tables in guest RAM, and the
// grants, spaces, runs and the service's own records (`extension`) as tables written at the
// end of each operation — and every change goes through the region's undo journal. Callers
// run each operation in transaction(): it commits when the operation returns or throws a
// typed error (which leaves the state consistent), and rolls back anything else. attach()
// is the next generation: roll the journal back, check the allocator, read the tables.

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { AddressSpace, type AddressSpaceContext, FrameKind } from './address_space.js';
import { AllocationFlags, BuddyAllocator, type BuddyInfo, KERNEL_OWNER, MAX_PAGE_ORDER, SHARED_OWNER } from './buddy.js';
import { IpcError } from '../../ipc/errors.js';
import { InvalidBlockError, NotFoundError } from './errors.js';
import { JournalFullError, SimulatedCrash, journaledRam } from './journal.js';
import { type GrantRecords } from './grants.js';
import type { StateRegion } from './state_region.js';
import { type AccessViolation, AccessViolationError, type Grant, type GrantMode, GrantTable, type MemoryAccess, describeViolation } from './grants.js';
import { formatSize } from '../../hal/size_text.js';
import { tableLines } from '../../hal/text_table.js';
import { MemoryMap, type MemoryRegion } from './memory_map.js';
import { type Access, type PageFault, type PrivilegeMode, type TranslateOptions, MEGAPAGE_SIZE, PTE_WRITE } from './sv32.js';
import { type CacheStatistics, TranslationCache } from './tlb.js';

export interface MemoryServerOptions {
  /** Checked mode: enforceAccess() checks, logs and throws (on in tests). */
  readonly checked?: boolean;
  readonly translationCacheEntries?: number;
  /** Keep all state in this region (formatted, or attached with MemoryServer.attach). Default: the heap. */
  readonly state?: StateRegion;
}

/** The caller's own records, kept in the region's tables with the server's (useExtension). */
export interface StateExtension {
  save(): unknown;
  /** Back to `data` (what save() returned when the tables were last written): an operation was rolled back. */
  restore(data: unknown): void;
}

/** The tables a state region keeps besides the allocator's arrays. */
interface StateTables {
  readonly grants: GrantRecords;
  readonly spaces: readonly (readonly [id: number, owner: number, root: number, regions: readonly (readonly [start: number, end: number, permissions: number])[]])[];
  readonly nextSpaceId: number;
  readonly ranges: readonly (readonly [base: number, pages: number, heads: readonly number[], owner: number])[];
  readonly extension: unknown;
}

/** What attach() found. */
export interface Reattached {
  readonly memory: MemoryServer;
  /** Words the journal held from an operation the crash cut short (0: it stopped between operations). */
  readonly rolledBack: number;
  /** The caller's records as the last finished operation left them. */
  readonly extension: unknown;
}

export interface AllocateOptions {
  /** Block order 0..10 (2^order pages); default 0. */
  readonly order?: number;
  /** Zero the block in RAM. */
  readonly zeroed?: boolean;
}

/** A contiguous allocation (allocateContiguous). */
export interface ContiguousRange {
  readonly base: PhysAddr;
  readonly pages: number;
  /** The buddy blocks making it up, lowest first (the first is `base`). */
  readonly heads: readonly PhysAddr[];
}

export interface ReclaimResult {
  readonly spacesDestroyed: number;
  readonly grantsRevoked: number;
  readonly pagesFreed: number;
}

/** What `mem` shows. */
export interface MemoryReport {
  readonly regions: readonly MemoryRegion[];
  readonly buddy: BuddyInfo;
  readonly spaces: readonly { id: number; owner: number; mappings: number }[];
  readonly grants: readonly Grant[];
  readonly translationCache: CacheStatistics;
  readonly violations: readonly AccessViolation[];
}

export class MemoryServer {
  readonly ram: Ram;
  readonly memoryMap: MemoryMap;
  readonly buddy: BuddyAllocator;
  readonly tlb: TranslationCache;
  readonly grants: GrantTable;
  readonly checked: boolean;
  readonly #context: AddressSpaceContext;
  readonly #spaces = new Map<number, AddressSpace>();
  /** Contiguous ranges of more than one block, by base; and each of their heads → base. */
  readonly #ranges = new Map<number, ContiguousRange & { owner: number }>();
  readonly #rangeOfHead = new Map<number, number>();
  #nextSpaceId = 1;
  readonly #state: StateRegion | undefined;
  #extension: StateExtension | undefined;
  /** The tables changed in this operation: write them before committing. */
  #tablesChanged = false;

  /**
   * Takes over the free and scratch ranges of `memoryMap` (the early allocator has finished
   * with it). With options.state, formats the allocator in that region and marks it ready.
   */
  constructor(ram: Ram, memoryMap: MemoryMap, options: MemoryServerOptions = {}, attaching = false) {
    this.ram = ram;
    this.memoryMap = memoryMap;
    this.#state = options.state;
    const storage = options.state?.storage;
    this.buddy = attaching ? BuddyAllocator.attach(ram, storage!) : new BuddyAllocator(ram, storage);
    this.tlb = new TranslationCache(options.translationCacheEntries);
    const changed = () => void (this.#tablesChanged = true);
    this.grants = new GrantTable(this.buddy, changed);
    this.checked = options.checked ?? false;
    this.#context = { ram: storage ? journaledRam(ram, storage.journal) : ram, buddy: this.buddy, tlb: this.tlb, changed };
    if (attaching) return;
    // Nobody can attach before markReady(), so building the state needs no journal.
    storage?.journal.suspend();
    for (const range of memoryMap.freeRanges()) this.buddy.addFreeRange(range.base, range.size);
    this.#tablesChanged = true;
  }

  /**
   * The memory server a previous generation left in `state` (StateRegion.attach): the
   * unfinished operation's words are rolled back, the allocator's records are checked, the
   * tables read. Throws an Error if the records are inconsistent (nothing is then served).
   */
  static attach(ram: Ram, memoryMap: MemoryMap, state: StateRegion, options: Omit<MemoryServerOptions, 'state'> = {}): Reattached {
    const rolledBack = state.storage.journal.rollback();
    const memory = new MemoryServer(ram, memoryMap, { ...options, state }, true);
    const tables = state.readTables() as StateTables | undefined;
    if (!tables) throw new Error('the memory server state has no tables');
    memory.#restore(tables);
    return { memory, rolledBack, extension: tables.extension };
  }

  /** The region is complete (boot reservations done): later generations may attach to it. */
  markReady(): void {
    if (!this.#state) return;
    this.#commit();
    this.#state.storage.journal.resume();
    this.#state.markReady();
  }

  /** Keeps the caller's records in the tables from now on. */
  useExtension(extension: StateExtension): void {
    this.#extension = extension;
    this.#tablesChanged = true;
  }

  /** The caller's records changed: write them with this operation. */
  extensionChanged(): void {
    this.#tablesChanged = true;
  }

  /**
   * Runs one operation as a unit: committed when it returns or throws a typed error (the
   * core leaves its state consistent then); rolled back, tables included, when it throws
   * anything else (a bug, or more changes than the journal holds).
   */
  transaction<T>(operation: () => T): T {
    let result: T;
    try {
      result = operation();
    } catch (error) {
      if (error instanceof SimulatedCrash) throw error;
      if (error instanceof IpcError && !(error instanceof JournalFullError)) this.#commitOrAbort();
      else this.#abort();
      throw error;
    }
    this.#commitOrAbort();
    return result;
  }

  /** A server managing all of `ram` (for tests and tools). */
  static forRam(ram: Ram, options: MemoryServerOptions = {}): MemoryServer {
    return new MemoryServer(ram, MemoryMap.build({ ram: [{ base: ram.base, size: ram.size }] }), options);
  }

  // ---- physical pages ----

  allocate(owner: number, options: AllocateOptions = {}): PhysAddr {
    return this.buddy.allocate(owner, options.order ?? 0, options.zeroed ? AllocationFlags.Zeroed : AllocationFlags.None);
  }

  /**
   * `pages` contiguous pages aligned to `alignment` bytes (a power of two, at least a page):
   * one buddy block when `pages` is a power of two no larger than 2^MAX_PAGE_ORDER and the
   * alignment no larger than the block, else a run of blocks freed as a whole by its base.
   * Throws OUT_OF_MEMORY or LIMIT_EXCEEDED, changing nothing.
   */
  allocateContiguous(owner: number, pages: number, options: { alignment?: number; zeroed?: boolean } = {}): ContiguousRange {
    const alignment = options.alignment ?? PAGE_SIZE;
    const flags = options.zeroed ? AllocationFlags.Zeroed : AllocationFlags.None;
    const order = Math.log2(pages);
    if (Number.isInteger(order) && order <= MAX_PAGE_ORDER && alignment <= PAGE_SIZE << order) {
      const base = this.buddy.allocate(owner, order, flags);
      return { base, pages, heads: [base] };
    }
    const heads = this.buddy.allocateContiguous(owner, pages, alignment, flags);
    const range = { base: heads[0]!, pages, heads, owner };
    if (heads.length > 1) {
      this.#tablesChanged = true;
      this.#ranges.set(range.base, range);
      for (const head of heads) this.#rangeOfHead.set(head, range.base);
    }
    return { base: range.base, pages, heads };
  }

  /**
   * Frees `owner`'s block (or contiguous range) at `address`; grants lending it end and
   * grantees lose their mappings of it. Returns false if mappings still hold (part of) it: it
   * then belongs to SHARED_OWNER until they go.
   */
  free(owner: number, address: number): boolean {
    const rangeBase = this.#rangeOfHead.get(address);
    if (rangeBase !== undefined) return this.#freeRange(owner, address, rangeBase);
    const block = this.buddy.blockAt(address);
    const freed = this.buddy.free(address, owner);
    if (block) this.#revoked(this.grants.revokeRange(block.base, PAGE_SIZE << block.order));
    return freed;
  }

  setLimit(owner: number, pages: number | undefined): void {
    this.buddy.setLimit(owner, pages);
  }

  /** Takes [base, base + size) out of the free pages for `owner` (reserved memory, KHO-preserved blocks). */
  reserve(base: number, size: number, owner: number = KERNEL_OWNER): PhysAddr[] {
    return this.buddy.reserve(base, size, owner);
  }

  // ---- address spaces ----

  createSpace(owner: number): number {
    const id = this.#nextSpaceId;
    this.#spaces.set(id, AddressSpace.create(this.#context, id, owner));
    this.#nextSpaceId++;
    this.#tablesChanged = true;
    return id;
  }

  /** The physical address of space `id`'s root table (for satp: the kernel runs the space's processes on it). */
  spaceRoot(owner: number, id: number): number {
    return this.#space(owner, id).root;
  }

  destroySpace(owner: number, id: number): void {
    this.#space(owner, id).destroy();
    this.#spaces.delete(id);
    this.#tablesChanged = true;
  }

  /** Maps a page (or megapage) `owner` owns or was granted; a read-only grant may only be mapped without W. */
  map(owner: number, id: number, va: number, pa: number, permissions: number, options: { megapage?: boolean } = {}): void {
    const space = this.#space(owner, id);
    this.#authorize(owner, pa, options.megapage ? MEGAPAGE_SIZE : PAGE_SIZE, permissions);
    space.map(va, pa, permissions, options);
  }

  unmap(owner: number, id: number, va: number): void {
    this.#space(owner, id).unmap(va);
  }

  protect(owner: number, id: number, va: number, permissions: number): void {
    const space = this.#space(owner, id);
    const mapping = space.mappings().find((candidate) => va >= candidate.va && va < candidate.va + candidate.size);
    if (mapping && mapping.kind === FrameKind.Referenced && permissions & PTE_WRITE) this.#authorize(owner, mapping.pa, mapping.size, permissions);
    space.protect(va, permissions);
  }

  /** Reserves a demand-zero region in space `id`. */
  reserveRegion(owner: number, id: number, va: number, length: number, permissions: number): void {
    this.#space(owner, id).reserve(va, length, permissions);
  }

  unreserveRegion(owner: number, id: number, va: number): void {
    this.#space(owner, id).unreserve(va);
  }

  /** Copy-on-write duplicate of space `id`, owned by `childOwner`. Returns the new space's id. */
  fork(owner: number, id: number, childOwner: number = owner): number {
    const parent = this.#space(owner, id);
    const childId = this.#nextSpaceId;
    this.#spaces.set(childId, parent.fork(childId, childOwner));
    this.#nextSpaceId++;
    this.#tablesChanged = true;
    return childId;
  }

  /** Translation for executing code: physical address or the PageFault (no fault handling). */
  translate(id: number, va: number, access: Access, mode: PrivilegeMode, options?: TranslateOptions): number | PageFault {
    return this.#anySpace(id).translate(va, access, mode, options);
  }

  /** The pager entry: resolve a fault in space `id`; false if it is the program's own fault. */
  resolveFault(id: number, va: number, access: Access): boolean {
    return this.#anySpace(id).resolveFault(va, access);
  }

  /** Translate, resolving one fault; throws PageFaultError if it cannot be resolved. */
  access(id: number, va: number, access: Access, mode: PrivilegeMode, options?: TranslateOptions): number {
    return this.#anySpace(id).access(va, access, mode, options);
  }

  /** The space object itself, for the kernel side that runs code in it. */
  space(id: number): AddressSpace {
    return this.#anySpace(id);
  }

  // ---- grants ----

  grant(owner: number, grantee: number, base: number, length: number, mode: GrantMode): Grant {
    return this.grants.grant(owner, grantee, base, length, mode);
  }

  /** Ends a grant (either party may); the grantee's mappings of the pages go too. */
  revokeGrant(by: number, id: number): void {
    this.#revoked([this.grants.revoke(id, by)]);
  }

  /** Whether `accessor` may touch [address, address + length): undefined, or the violation. */
  checkAccess(accessor: number, address: number, length: number, access: MemoryAccess): AccessViolation | undefined {
    return this.grants.check(accessor, address, length, access);
  }

  /** In checked mode: check, log and throw AccessViolationError. Otherwise does nothing. */
  enforceAccess(accessor: number, address: number, length: number, access: MemoryAccess): void {
    if (this.checked) this.grants.enforce(accessor, address, length, access);
  }

  // ---- lifecycle ----

  /**
   * Everything `owner` held comes back: its grants (both ways), its address spaces, its pages.
   * With a state region it commits after each grant, each mapping and each block, so however
   * large, it never fills the journal; cut short by a crash, calling it again finishes it.
   */
  reclaim(owner: number): ReclaimResult {
    const step = () => this.#commit();
    const grants = this.grants.grantsOf(owner);
    for (const grant of grants) {
      this.#revoked([this.grants.revoke(grant.id, grant.owner)]);
      step();
    }
    let spacesDestroyed = 0;
    for (const [id, space] of [...this.#spaces]) {
      if (space.owner !== owner) continue;
      space.destroy(step);
      this.#spaces.delete(id);
      this.#tablesChanged = true;
      step();
      spacesDestroyed++;
    }
    for (const range of [...this.#ranges.values()]) if (range.owner === owner) this.#forgetRange(range.base);
    const pagesFreed = this.buddy.freeAll(owner, step);
    return { spacesDestroyed, grantsRevoked: grants.length, pagesFreed };
  }

  // ---- reporting ----

  report(): MemoryReport {
    return {
      regions: this.memoryMap.regions,
      buddy: this.buddy.buddyInfo(),
      spaces: [...this.#spaces.values()].map((space) => ({ id: space.id, owner: space.owner, mappings: space.mappings().length })),
      grants: this.grants.list(),
      translationCache: this.tlb.statistics(),
      violations: this.grants.violations,
    };
  }

  /** The `mem` text: memory map, free blocks per order, totals, usage per owner, spaces, grants. */
  formatReport(ownerNames: ReadonlyMap<number, string> = new Map()): string[] {
    const report = this.report();
    const name = (owner: number): string => ownerNames.get(owner) ?? (owner === KERNEL_OWNER ? 'kernel' : owner === SHARED_OWNER ? 'shared' : `owner ${owner}`);
    const pages = (count: number): string => `${count} pages (${formatSize(count * PAGE_SIZE)})`;
    const { buddy } = report;
    const orders = Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, order) => order);
    const lines = ['memory map:', ...this.memoryMap.format().map((line) => `  ${line}`)];
    lines.push('free blocks per order (buddyinfo):');
    lines.push(`  order ${orders.map((order) => String(order).padStart(5)).join('')}`);
    lines.push(`  free  ${buddy.freeBlocks.map((count) => String(count).padStart(5)).join('')}   + ${buddy.cachedPages} hot order-0 pages`);
    lines.push(`total ${pages(buddy.totalPages)}, free ${pages(buddy.freePages)}, used ${pages(buddy.usedPages)}, reserved ${pages(buddy.reservedPages)}`);
    lines.push('usage by owner:');
    lines.push(...tableLines([], buddy.owners.map((usage) => [name(usage.owner), `${pages(usage.pages)}${usage.limit === undefined ? '' : `, limit ${usage.limit}`}`]), { indent: '  ', minimumWidths: [15] }));
    lines.push(`address spaces: ${report.spaces.length}${report.spaces.map((space) => `  #${space.id} ${name(space.owner)} (${space.mappings} mappings)`).join(',')}`);
    lines.push(`grants: ${report.grants.length}`);
    for (const grant of report.grants) lines.push(`  #${grant.id} ${name(grant.owner)} -> ${name(grant.grantee)} ${hex(grant.base)}+${formatSize(grant.length)} ${grant.mode}`);
    lines.push(`translation cache: ${report.translationCache.hits} hits, ${report.translationCache.misses} misses`);
    if (report.violations.length > 0) {
      lines.push(`access violations (last ${report.violations.length}):`);
      for (const violation of report.violations) lines.push(`  ${describeViolation(violation, name)}`);
    }
    return lines;
  }

  // ---- internals ----

  /** Writes the tables if they changed, then empties the journal: what the operation did so far stays. */
  #commit(): void {
    const state = this.#state;
    if (!state) return;
    if (this.#tablesChanged) {
      state.writeTables(this.#tables());
      this.#tablesChanged = false;
    }
    state.storage.journal.commit();
  }

  #commitOrAbort(): void {
    try {
      this.#commit();
    } catch (error) {
      this.#abort();
      throw error;
    }
  }

  /** Undoes the unfinished operation: the journal's words, then the tables as last written. */
  #abort(): void {
    const state = this.#state;
    if (!state) return;
    state.storage.journal.rollback();
    this.#tablesChanged = false;
    this.tlb.invalidateAll();
    const tables = state.readTables() as StateTables | undefined;
    if (!tables) return;
    this.#restore(tables);
    this.#extension?.restore(tables.extension);
  }

  #tables(): StateTables {
    return {
      grants: this.grants.records(),
      spaces: [...this.#spaces.values()].map((space) => [space.id, space.owner, space.root, space.regions.map((region) => [region.start, region.end, region.permissions] as const)] as const),
      nextSpaceId: this.#nextSpaceId,
      ranges: [...this.#ranges.values()].map((range) => [range.base, range.pages, [...range.heads], range.owner] as const),
      extension: this.#extension?.save() ?? null,
    };
  }

  #restore(tables: StateTables): void {
    this.grants.restore(tables.grants);
    this.#spaces.clear();
    for (const [id, owner, root, regions] of tables.spaces) {
      this.#spaces.set(id, AddressSpace.attach(this.#context, id, owner, root, regions.map(([start, end, permissions]) => ({ start, end, permissions }))));
    }
    this.#nextSpaceId = tables.nextSpaceId;
    this.#ranges.clear();
    this.#rangeOfHead.clear();
    for (const [base, pages, heads, owner] of tables.ranges) {
      this.#ranges.set(base, { base: base as PhysAddr, pages, heads: heads as PhysAddr[], owner });
      for (const head of heads) this.#rangeOfHead.set(head, base);
    }
  }

  #freeRange(owner: number, address: number, base: number): boolean {
    const range = this.#ranges.get(base)!;
    if (address !== base) {
      throw new InvalidBlockError('NOT_BLOCK_HEAD', `${hex(address)} is inside the contiguous range at ${hex(base)} (${range.pages} pages): free ${hex(base)}`, { address, head: base });
    }
    for (const head of range.heads) {
      const block = this.buddy.blockAt(head);
      if (block?.state !== 'allocated' || block.owner !== owner) {
        throw new InvalidBlockError('NOT_OWNER', `the contiguous range at ${hex(base)} is not owner ${owner}'s`, { address, owner });
      }
    }
    this.#forgetRange(base);
    let freed = true;
    for (const head of range.heads) freed = this.buddy.free(head, owner) && freed;
    this.#revoked(this.grants.revokeRange(base, range.pages * PAGE_SIZE));
    return freed;
  }

  #forgetRange(base: number): void {
    const range = this.#ranges.get(base);
    if (!range) return;
    this.#tablesChanged = true;
    this.#ranges.delete(base);
    for (const head of range.heads) this.#rangeOfHead.delete(head);
  }

  /** Space `id` if `owner` owns it; NO_SUCH_SPACE or NOT_OWNER otherwise. */
  #space(owner: number, id: number): AddressSpace {
    const space = this.#anySpace(id);
    if (space.owner !== owner) throw new InvalidBlockError('NOT_OWNER', `address space ${id} belongs to owner ${space.owner}, not ${owner}`, { id, owner });
    return space;
  }

  #anySpace(id: number): AddressSpace {
    const space = this.#spaces.get(id);
    if (!space) throw new NotFoundError('NO_SUCH_SPACE', `no address space ${id}`, { id });
    return space;
  }

  /** Throws AccessViolationError unless `owner` owns or was granted [pa, pa + size) for the access `permissions` imply. */
  #authorize(owner: number, pa: number, size: number, permissions: number): void {
    const violation = this.grants.check(owner, pa, size, permissions & PTE_WRITE ? 'write' : 'read');
    if (violation) throw new AccessViolationError(violation);
  }

  /**
   * Unmaps revoked grants' pages from every space the granter does not own: the grantee's, and
   * any a grantee's space was forked into.
   */
  #revoked(grants: readonly Grant[]): void {
    for (const grant of grants) {
      for (const space of this.#spaces.values()) {
        if (space.owner === grant.owner) continue;
        for (const mapping of space.mappings()) {
          if (mapping.pa < grant.base + grant.length && grant.base < mapping.pa + mapping.size) space.unmap(mapping.va);
        }
      }
    }
  }
}
