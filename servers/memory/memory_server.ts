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

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { AddressSpace, type AddressSpaceContext, FrameKind } from './address_space.js';
import { AllocationFlags, BuddyAllocator, type BuddyInfo, KERNEL_OWNER, MAX_PAGE_ORDER, SHARED_OWNER } from './buddy.js';
import { InvalidBlockError, NotFoundError } from './errors.js';
import { type AccessViolation, AccessViolationError, type Grant, type GrantMode, GrantTable, type MemoryAccess, describeViolation } from './grants.js';
import { MemoryMap, type MemoryRegion, formatSize } from './memory_map.js';
import { type Access, type PageFault, type PrivilegeMode, type TranslateOptions, MEGAPAGE_SIZE, PTE_WRITE } from './sv32.js';
import { type CacheStatistics, TranslationCache } from './tlb.js';

export interface MemoryServerOptions {
  /** Checked mode: enforceAccess() checks, logs and throws (on in tests). */
  readonly checked?: boolean;
  readonly translationCacheEntries?: number;
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

  /** Takes over the free and scratch ranges of `memoryMap` (the early allocator has finished with it). */
  constructor(ram: Ram, memoryMap: MemoryMap, options: MemoryServerOptions = {}) {
    this.ram = ram;
    this.memoryMap = memoryMap;
    this.buddy = new BuddyAllocator(ram);
    for (const range of memoryMap.freeRanges()) this.buddy.addFreeRange(range.base, range.size);
    this.tlb = new TranslationCache(options.translationCacheEntries);
    this.grants = new GrantTable(this.buddy);
    this.checked = options.checked ?? false;
    this.#context = { ram, buddy: this.buddy, tlb: this.tlb };
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
    const id = this.#nextSpaceId++;
    this.#spaces.set(id, AddressSpace.create(this.#context, id, owner));
    return id;
  }

  destroySpace(owner: number, id: number): void {
    this.#space(owner, id).destroy();
    this.#spaces.delete(id);
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
    const childId = this.#nextSpaceId++;
    this.#spaces.set(childId, parent.fork(childId, childOwner));
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

  /** Everything `owner` held comes back: its grants (both ways), its address spaces, its pages. */
  reclaim(owner: number): ReclaimResult {
    const grants = this.grants.revokeAllFor(owner);
    this.#revoked(grants);
    let spacesDestroyed = 0;
    for (const [id, space] of this.#spaces) {
      if (space.owner !== owner) continue;
      space.destroy();
      this.#spaces.delete(id);
      spacesDestroyed++;
    }
    const pagesFreed = this.buddy.freeAll(owner);
    for (const range of [...this.#ranges.values()]) if (range.owner === owner) this.#forgetRange(range.base);
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
    for (const usage of buddy.owners) lines.push(`  ${name(usage.owner).padEnd(16)} ${pages(usage.pages)}${usage.limit === undefined ? '' : `, limit ${usage.limit}`}`);
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
