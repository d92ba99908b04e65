// An address space: one Sv32 page-table tree in guest RAM, the frames it maps, and the memory
// server acting as its pager.
//
// Every leaf PTE records in its two RSW bits what kind of frame it maps, so that unmapping,
// forking and destroying know which references they hold:
//
//   RAW        memory the page allocator does not manage (device registers, reserved memory);
//              no reference is held
//   REFERENCED a block someone allocated and mapped here with map(); the mapping holds one
//              reference, so the block outlives a free() by its owner until it is unmapped
//   ANONYMOUS  a frame the pager allocated for this space (demand-zero or a copy-on-write copy),
//              owned by the space's owner; each mapping of it holds one reference
//   COPY_ON_WRITE  an ANONYMOUS frame shared read-only after fork(); the first write copies it,
//              or, if this is the last mapping, simply makes it writable again
//
// Demand-zero regions are virtual ranges reserved with reserve(); the first touch of a page
// there allocates a zeroed frame. Faults are resolved by resolveFault(); access() translates and
// resolves in one step. Every PTE change is followed by the matching TLB invalidation.
//
// Anonymous frames are allocated with AllocationFlags.Anonymous and charged to the owner of the
// space that created them, even while forks share them. If that owner is reclaimed while other
// owners' spaces still map them they move to SHARED_OWNER (buddy.ts freeAll), and a space that
// writes to one as its last holder adopts it.

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import type { Ram } from '../../hal/ram.js';
import { AllocationFlags, type BuddyAllocator } from './buddy.js';
import { InvalidArgumentError, MappingError, NotFoundError } from './errors.js';
import {
  type Access, type PrivilegeMode, type TablePages, type TranslateOptions, type WalkStep,
  PageFault, PageFaultError, PTE_ACCESSED, PTE_DIRTY, PTE_EXECUTE, PTE_READ, PTE_VALID, PTE_WRITE, PERMISSION_BITS,
  MEGAPAGE_SIZE, checkLeaf, encodePte, faultCause, findLeaf, forEachLeaf, freeTables, installLeaf, leafPhysical, pteAddress,
  map as mapPte, protect as protectPte, unmap as unmapPte, updateLeaf, walk,
} from './sv32.js';
import { MISS, type TranslationCache } from './tlb.js';

/** What the RSW bits of a leaf say about its frame. */
export const FrameKind = { Raw: 0, Referenced: 1, Anonymous: 2, CopyOnWrite: 3 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];
const KIND_SHIFT = 8;
const KIND_MASK = 3 << KIND_SHIFT;

export function frameKindOf(pte: number): FrameKind {
  return ((pte & KIND_MASK) >>> KIND_SHIFT) as FrameKind;
}

const NO_OPTIONS: TranslateOptions = {};

/** The shared machinery every address space uses. */
export interface AddressSpaceContext {
  readonly ram: Ram;
  readonly buddy: BuddyAllocator;
  readonly tlb: TranslationCache;
  /** Called when a space's demand-zero regions change (the memory server's tables must be written again). */
  readonly changed?: () => void;
}

export interface DemandZeroRegion {
  readonly start: number;
  readonly end: number;
  readonly permissions: number;
}

export interface Mapping {
  readonly va: number;
  readonly pa: number;
  readonly size: number;
  readonly permissions: number;
  readonly kind: FrameKind;
}

export class AddressSpace {
  readonly id: number;
  readonly owner: number;
  readonly root: PhysAddr;
  readonly #context: AddressSpaceContext;
  readonly #tables: TablePages;
  #regions: DemandZeroRegion[] = [];
  #destroyed = false;

  private constructor(context: AddressSpaceContext, id: number, owner: number, root: PhysAddr) {
    this.#context = context;
    this.id = id;
    this.owner = owner;
    this.root = root;
    this.#tables = {
      allocateTable: () => context.buddy.allocate(owner, 0, AllocationFlags.Zeroed),
      freeTable: (address) => void context.buddy.free(address, owner),
    };
  }

  /** A new empty space whose root table (and later tables and anonymous frames) are charged to `owner`. */
  static create(context: AddressSpaceContext, id: number, owner: number): AddressSpace {
    if (!(Number.isInteger(id) && id >= 0 && id <= 0x7fff_ffff)) throw new InvalidArgumentError(`address space id must be a non-negative 31-bit integer, got ${id}`, { id });
    const root = context.buddy.allocate(owner, 0, AllocationFlags.Zeroed);
    return new AddressSpace(context, id, owner, root);
  }

  /** A space a previous generation of the memory server left: its tables are in RAM already. */
  static attach(context: AddressSpaceContext, id: number, owner: number, root: number, regions: readonly DemandZeroRegion[]): AddressSpace {
    const space = new AddressSpace(context, id, owner, root as PhysAddr);
    space.#regions = regions.map((region) => ({ ...region }));
    return space;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  get regions(): readonly DemandZeroRegion[] {
    return this.#regions;
  }

  /**
   * Maps `va` to `pa` (a page, or with `megapage` a 4 MiB megapage). If `pa` is in an allocated
   * block the mapping holds a reference to it (a megapage must be exactly one order-10 block);
   * a free page cannot be mapped; memory the allocator does not manage is mapped raw.
   */
  map(va: number, pa: number, permissions: number, options: { megapage?: boolean } = {}): void {
    this.#checkAlive();
    const kind = this.#kindForMapping(pa, options.megapage ? MEGAPAGE_SIZE : PAGE_SIZE);
    mapPte(this.#context.ram, this.#tables, this.root, va, pa, permissions, { megapage: options.megapage ?? false, software: kind << KIND_SHIFT });
    if (kind === FrameKind.Referenced) this.#context.buddy.retain(pa);
  }

  /** Removes the mapping of `va` (a page or a megapage) and drops its frame reference. Throws NOT_MAPPED. */
  unmap(va: number): void {
    this.#checkAlive();
    const leaf = unmapPte(this.#context.ram, this.root, va);
    this.#context.tlb.invalidatePage(this.id, va);
    this.#releaseFrame(leaf.pte);
  }

  /**
   * Sets the R W X U G bits of the mapping of `va`. Making a shared anonymous frame writable
   * marks it copy-on-write instead, so the other holders never see the writes.
   */
  protect(va: number, permissions: number): void {
    this.#checkAlive();
    const { leaf } = walk(this.#context.ram, this.root, va);
    if (!leaf) throw new MappingError('NOT_MAPPED', `${hex(va)} is not mapped`, { va });
    const kind = frameKindOf(leaf.pte);
    if (kind === FrameKind.Anonymous || kind === FrameKind.CopyOnWrite) {
      const shared = permissions & PTE_WRITE && this.#context.buddy.blockAt(pteAddress(leaf.pte))!.references > 1;
      protectPte(this.#context.ram, this.root, va, shared ? permissions & ~PTE_WRITE : permissions);
      const newKind = shared ? FrameKind.CopyOnWrite : FrameKind.Anonymous;
      updateLeaf(this.#context.ram, this.root, va, (pte) => (pte & ~KIND_MASK) | (newKind << KIND_SHIFT));
    } else {
      protectPte(this.#context.ram, this.root, va, permissions);
    }
    this.#context.tlb.invalidatePage(this.id, va);
  }

  /**
   * Translates without resolving faults: the physical address, or the PageFault the hardware
   * would raise. Uses and fills the translation cache.
   */
  translate(va: number, access: Access, mode: PrivilegeMode, options: TranslateOptions = NO_OPTIONS): number | PageFault {
    this.#checkAlive();
    const tlb = this.#context.tlb;
    const cached = tlb.lookup(this.id, va, access, mode, options);
    if (cached !== MISS) return cached;
    const leaf = findLeaf(this.#context.ram, this.root, va, access);
    if (typeof leaf !== 'number') return leaf;
    const level = leaf % 2;
    const pte = (leaf - level) / 2;
    const reason = checkLeaf(pte, level, access, mode, options);
    if (reason) return new PageFault(faultCause(access), va, access, reason, level);
    tlb.insert(this.id, va, pte, level);
    return leafPhysical(pte, level, va);
  }

  /** Translates, letting the pager resolve a fault once; throws PageFaultError if it cannot. */
  access(va: number, access: Access, mode: PrivilegeMode, options: TranslateOptions = NO_OPTIONS): number {
    const first = this.translate(va, access, mode, options);
    if (typeof first === 'number') return first;
    if (!this.resolveFault(va, access)) throw new PageFaultError(first);
    const second = this.translate(va, access, mode, options);
    if (typeof second === 'number') return second;
    throw new PageFaultError(second);
  }

  /**
   * The pager: fixes what a fault at `va` for `access` needs, if it is one the pager handles (a
   * first touch in a demand-zero region, a write to a copy-on-write page, a clear A or D bit).
   * Returns true if the access should be retried, false if the fault is the program's. May throw
   * OutOfMemoryError or LimitExceededError, leaving the space as it was.
   */
  resolveFault(va: number, access: Access): boolean {
    this.#checkAlive();
    const { ram, buddy, tlb } = this.#context;
    const { leaf } = walk(ram, this.root, va);
    if (leaf) {
      const kind = frameKindOf(leaf.pte);
      if (access === 'write' && kind === FrameKind.CopyOnWrite) {
        this.#breakCopyOnWrite(va, leaf);
        return true;
      }
      const allowed = access === 'write' ? leaf.pte & PTE_WRITE : access === 'execute' ? leaf.pte & PTE_EXECUTE : leaf.pte & (PTE_READ | PTE_EXECUTE);
      const missing = PTE_ACCESSED | (access === 'write' ? PTE_DIRTY : 0);
      if (allowed && (leaf.pte & missing) !== missing) {
        updateLeaf(ram, this.root, va, (pte) => pte | missing);
        tlb.invalidatePage(this.id, va);
        return true;
      }
      return false;
    }
    const region = this.#regionAt(va);
    if (!region) return false;
    const allowed = access === 'write' ? region.permissions & PTE_WRITE : access === 'execute' ? region.permissions & PTE_EXECUTE : region.permissions & PTE_READ;
    if (!allowed) return false;
    const frame = buddy.allocate(this.owner, 0, AllocationFlags.Zeroed | AllocationFlags.Anonymous);
    const page = va - (va % PAGE_SIZE);
    const dirty = region.permissions & PTE_WRITE ? PTE_DIRTY : 0;
    try {
      installLeaf(ram, this.#tables, this.root, page, encodePte(frame, region.permissions | PTE_VALID | PTE_ACCESSED | dirty | (FrameKind.Anonymous << KIND_SHIFT)), 0);
    } catch (error) {
      buddy.release(frame);
      throw error;
    }
    return true;
  }

  /** Reserves [va, va + length) (page aligned, not overlapping another region) as demand-zero memory. */
  reserve(va: number, length: number, permissions: number): void {
    this.#checkAlive();
    const end = va + length;
    if (!(Number.isInteger(va) && Number.isInteger(length) && va >= 0 && length > 0 && end <= 2 ** 32 && va % PAGE_SIZE === 0 && length % PAGE_SIZE === 0)) {
      throw new InvalidArgumentError(`demand-zero region ${hex(va)}+${length} must be whole pages of the 32-bit space`, { va, length });
    }
    if (!(permissions & PTE_READ) || (permissions & ~PERMISSION_BITS) !== 0) throw new InvalidArgumentError('demand-zero regions must be readable and hold only R W X U G bits', { permissions });
    if (this.#regions.some((region) => region.start < end && va < region.end)) throw new MappingError('MAPPING_EXISTS', `demand-zero region ${hex(va)}+${length} overlaps another region`, { va, length });
    this.#regions.push({ start: va, end, permissions });
    this.#regions.sort((a, b) => a.start - b.start);
    this.#context.changed?.();
  }

  /** Removes the demand-zero region starting at `va` and unmaps the pages it mapped. Throws NOT_MAPPED. */
  unreserve(va: number): void {
    this.#checkAlive();
    const region = this.#regions.find((candidate) => candidate.start === va);
    if (!region) throw new MappingError('NOT_MAPPED', `no demand-zero region starts at ${hex(va)}`, { va });
    this.#regions = this.#regions.filter((candidate) => candidate !== region);
    this.#context.changed?.();
    const inside: number[] = [];
    forEachLeaf(this.#context.ram, this.root, (page, leaf) => {
      if (leaf.level === 0 && page >= region.start && page < region.end && frameKindOf(leaf.pte) >= FrameKind.Anonymous) inside.push(page);
    });
    for (const page of inside) this.unmap(page);
  }

  /**
   * Duplicates this space as space `id` owned by `owner`: every frame is shared with one more
   * reference; writable anonymous pages become copy-on-write in both. Other mappings (raw,
   * referenced) stay shared as they are. On failure the new space is destroyed and nothing
   * that matters changes (pages already marked copy-on-write simply become writable again on
   * their next write).
   */
  fork(id: number, owner: number = this.owner): AddressSpace {
    this.#checkAlive();
    const { ram, buddy, tlb } = this.#context;
    const child = AddressSpace.create(this.#context, id, owner);
    try {
      forEachLeaf(ram, this.root, (va, leaf) => {
        let pte = leaf.pte;
        const kind = frameKindOf(pte);
        if (kind >= FrameKind.Anonymous && (pte & PTE_WRITE || kind === FrameKind.CopyOnWrite)) {
          pte = ((pte & ~(PTE_WRITE | KIND_MASK)) | (FrameKind.CopyOnWrite << KIND_SHIFT)) >>> 0;
          ram.writeU32(leaf.address, pte);
        }
        installLeaf(ram, child.#tables, child.root, va, pte, leaf.level);
        if (kind !== FrameKind.Raw) buddy.retain(pteAddress(pte));
      });
    } catch (error) {
      child.destroy();
      throw error;
    } finally {
      tlb.invalidateSpace(this.id);
    }
    child.#regions = this.#regions.map((region) => ({ ...region }));
    return child;
  }

  /** Every mapping, in address order. */
  mappings(): Mapping[] {
    const result: Mapping[] = [];
    forEachLeaf(this.#context.ram, this.root, (va, leaf) => {
      result.push({ va, pa: leafPhysical(leaf.pte, leaf.level, 0), size: leaf.level === 1 ? MEGAPAGE_SIZE : PAGE_SIZE, permissions: leaf.pte & PERMISSION_BITS, kind: frameKindOf(leaf.pte) });
    });
    return result;
  }

  /**
   * Unmaps everything (dropping frame references), frees every table and the root, and forgets
   * the space's TLB entries. `afterEachLeaf` runs after each mapping is gone (the memory
   * server commits its journal there: each step leaves a consistent, smaller space).
   */
  destroy(afterEachLeaf?: () => void): void {
    this.#checkAlive();
    const { ram, tlb } = this.#context;
    const leaves: number[] = [];
    forEachLeaf(ram, this.root, (va) => leaves.push(va));
    for (const va of leaves) {
      const leaf = unmapPte(ram, this.root, va);
      tlb.invalidatePage(this.id, va);
      this.#releaseFrame(leaf.pte);
      afterEachLeaf?.();
    }
    freeTables(ram, this.#tables, this.root);
    tlb.invalidateSpace(this.id);
    this.#regions = [];
    this.#destroyed = true;
  }

  /**
   * Referenced if [pa, pa + size) is one allocated block, or a page of one (4 KiB); Raw if no
   * page of it is managed. Throws INVALID_ARGUMENT for free pages or a range mixing blocks.
   */
  #kindForMapping(pa: number, size: number): FrameKind {
    const buddy = this.#context.buddy;
    const first = buddy.blockAt(pa);
    if (first?.state === 'allocated' && (size === PAGE_SIZE || (first.base === pa && PAGE_SIZE << first.order === size))) return FrameKind.Referenced;
    for (let page = pa; page < pa + size; page += PAGE_SIZE) {
      const block = page === pa ? first : buddy.blockAt(page);
      if (block && block.state !== 'unavailable') {
        throw new InvalidArgumentError(`cannot map ${hex(pa)}+${size}: ${hex(page)} is a ${block.state} page${size > PAGE_SIZE ? ' (a megapage must be exactly one order-10 block, or unmanaged memory)' : ''}`, { pa, page });
      }
    }
    return FrameKind.Raw;
  }

  /** Gives the copy-on-write page at `va` a frame of its own (or its frame back, if it is the last holder). */
  #breakCopyOnWrite(va: number, leaf: WalkStep): void {
    const { ram, buddy, tlb } = this.#context;
    const old = pteAddress(leaf.pte);
    const block = buddy.blockAt(old)!;
    const writable = (leaf.pte & ~KIND_MASK) | PTE_WRITE | PTE_DIRTY | PTE_ACCESSED | (FrameKind.Anonymous << KIND_SHIFT);
    if (block.references === 1) {
      if (block.owner !== this.owner) buddy.transfer(old, this.owner);
      ram.writeU32(leaf.address, writable >>> 0);
    } else {
      const frame = buddy.allocate(this.owner, 0, AllocationFlags.Anonymous);
      ram.bytes.copyWithin(frame - ram.base, old - ram.base, old - ram.base + PAGE_SIZE);
      ram.writeU32(leaf.address, encodePte(frame, writable));
      this.#releaseFrame(leaf.pte);
    }
    tlb.invalidatePage(this.id, va);
  }

  /** Drops the reference a leaf held (none for raw mappings). */
  #releaseFrame(pte: number): void {
    if (frameKindOf(pte) !== FrameKind.Raw) this.#context.buddy.release(pteAddress(pte));
  }

  #regionAt(va: number): DemandZeroRegion | undefined {
    return this.#regions.find((region) => va >= region.start && va < region.end);
  }

  #checkAlive(): void {
    if (this.#destroyed) throw new NotFoundError('NO_SUCH_SPACE', `address space ${this.id} has been destroyed`, { id: this.id });
  }
}
