import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { BuddyAllocator, MAX_PAGE_ORDER, SHARED_OWNER } from './buddy.js';
import { TranslationCache } from './tlb.js';
import { AddressSpace, FrameKind, type AddressSpaceContext } from './address_space.js';
import { ExceptionCause, PageFault, PageFaultError, permissions } from './sv32.js';
import { LimitExceededError, MemoryError } from './errors.js';

const OWNER = 7;
const HEAP = 0x1000_0000;

function context(size = 4 << 20): AddressSpaceContext & { initialFree: number } {
  const ram = Ram.allocate(size);
  const buddy = new BuddyAllocator(ram);
  buddy.addFreeRange(ram.base, ram.size);
  return { ram, buddy, tlb: new TranslationCache(), initialFree: buddy.freePages };
}

function write32(space: AddressSpace, context: AddressSpaceContext, va: number, value: number): void {
  context.ram.writeU32(space.access(va, 'write', 'user'), value);
}

function read32(space: AddressSpace, context: AddressSpaceContext, va: number): number {
  return context.ram.readU32(space.access(va, 'read', 'user'));
}

function faultOf(action: () => unknown): PageFault {
  try {
    action();
  } catch (error) {
    if (error instanceof PageFaultError) return error.fault;
    throw error;
  }
  throw new Error('expected a page fault');
}

describe('AddressSpace', () => {
  it('create, map, translate, unmap and destroy give every page back', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    const frame = shared.buddy.allocate(OWNER, 0);
    space.map(0x4000, frame, permissions('rwu'));
    expect(space.translate(0x4abc, 'write', 'user')).toBe(frame + 0xabc);
    expect(shared.buddy.blockAt(frame)?.references).toBe(2);
    space.unmap(0x4000);
    expect(space.translate(0x4abc, 'read', 'user')).toBeInstanceOf(PageFault);
    expect(shared.buddy.blockAt(frame)?.references).toBe(1);
    space.map(0x4000, frame, permissions('ru'));
    space.destroy();
    expect(shared.buddy.blockAt(frame)?.references).toBe(1);
    shared.buddy.free(frame, OWNER);
    expect(shared.buddy.usageOf(OWNER)).toBe(0);
    expect(shared.buddy.freePages).toBe(shared.initialFree);
    expect(() => space.translate(0x4000, 'read', 'user')).toThrow(MemoryError);
  });

  it('map keeps a block alive after its owner frees it, until the mapping goes', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    const frame = shared.buddy.allocate(3, 0);
    space.map(0x4000, frame, permissions('ru'));
    expect(shared.buddy.free(frame, 3)).toBe(false);
    expect(shared.buddy.blockAt(frame)).toMatchObject({ state: 'allocated', owner: SHARED_OWNER });
    space.unmap(0x4000);
    expect(shared.buddy.blockAt(frame)?.state).toBe('free');
  });

  it('map accepts a megapage only as one whole order-10 block and refuses free pages', () => {
    const shared = context(8 << 20);
    const space = AddressSpace.create(shared, 1, OWNER);
    const block = shared.buddy.allocate(OWNER, MAX_PAGE_ORDER);
    space.map(0x0040_0000, block, permissions('rwu'), { megapage: true });
    expect(space.translate(0x0071_2345, 'write', 'user')).toBe(block + 0x31_2345);
    expect(space.mappings()).toEqual([{ va: 0x0040_0000, pa: block, size: 4 << 20, permissions: permissions('rwu'), kind: FrameKind.Referenced }]);
    const small = shared.buddy.allocate(OWNER, 0);
    const code = (action: () => void): string | undefined => {
      try {
        action();
      } catch (error) {
        return (error as MemoryError).code;
      }
      return undefined;
    };
    shared.buddy.free(small, OWNER);
    shared.buddy.drainCache();
    expect(code(() => space.map(0x1000, small, permissions('r')))).toBe('INVALID_ARGUMENT');
    space.destroy();
    expect(shared.buddy.blockAt(block)?.references).toBe(1);
  });

  it('map of memory the allocator does not manage (device registers) holds no reference', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    space.map(0x2000, 0x1000_1000, permissions('rw'));
    expect(space.mappings()[0]).toMatchObject({ pa: 0x1000_1000, kind: FrameKind.Raw });
    expect(space.translate(0x2008, 'write', 'supervisor')).toBe(0x1000_1008);
    space.destroy();
    expect(shared.buddy.freePages).toBe(shared.initialFree);
  });

  it('access on a demand-zero region allocates a zeroed frame on first touch only', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    space.reserve(HEAP, 16 * PAGE_SIZE, permissions('rwu'));
    const before = shared.buddy.usageOf(OWNER);
    // The frame the pager will hand out next is dirty: the page must still read as zero.
    const dirty = shared.buddy.allocate(OWNER, 0);
    shared.ram.fill(dirty, PAGE_SIZE, 0x5a);
    shared.buddy.free(dirty, OWNER);
    expect(read32(space, shared, HEAP + 0x10)).toBe(0);
    write32(space, shared, HEAP + 0x10, 0xdead_beef);
    expect(read32(space, shared, HEAP + 0x10)).toBe(0xdead_beef);
    // The first touch also needed a level-0 table.
    expect(shared.buddy.usageOf(OWNER)).toBe(before + 2);
    expect(space.mappings()[0]).toMatchObject({ va: HEAP, kind: FrameKind.Anonymous });
    write32(space, shared, HEAP + 5 * PAGE_SIZE, 1);
    expect(shared.buddy.usageOf(OWNER)).toBe(before + 3);
  });

  it('access outside any region, or against the region permissions, raises the page fault the spec defines', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    space.reserve(HEAP, 4 * PAGE_SIZE, permissions('ru'));
    expect(faultOf(() => space.access(HEAP - 4, 'read', 'user'))).toMatchObject({ cause: ExceptionCause.LoadPageFault, reason: 'invalid' });
    expect(faultOf(() => space.access(HEAP, 'write', 'user'))).toMatchObject({ cause: ExceptionCause.StorePageFault });
    expect(faultOf(() => space.access(HEAP, 'execute', 'user'))).toMatchObject({ cause: ExceptionCause.InstructionPageFault });
    expect(faultOf(() => space.access(HEAP, 'read', 'supervisor'))).toMatchObject({ cause: ExceptionCause.LoadPageFault, reason: 'user-page-from-supervisor' });
    expect(space.access(HEAP, 'read', 'user')).toBeTypeOf('number');
    expect(() => space.reserve(HEAP + PAGE_SIZE, PAGE_SIZE, permissions('r'))).toThrow(MemoryError);
  });

  it('fork shares frames copy-on-write: the first write copies, the last holder just regains write access', () => {
    const shared = context();
    const parent = AddressSpace.create(shared, 1, OWNER);
    parent.reserve(HEAP, 4 * PAGE_SIZE, permissions('rwu'));
    write32(parent, shared, HEAP, 111);
    const frame = parent.access(HEAP, 'read', 'user');
    const child = parent.fork(2);
    expect(shared.buddy.blockAt(frame)?.references).toBe(2);
    expect(parent.mappings()[0]?.kind).toBe(FrameKind.CopyOnWrite);
    // Both read the same frame.
    expect(child.access(HEAP, 'read', 'user')).toBe(frame);
    expect(read32(child, shared, HEAP)).toBe(111);
    // The child writes: it gets a copy; the parent keeps the original.
    write32(child, shared, HEAP, 222);
    const copy = child.access(HEAP, 'read', 'user');
    expect(copy).not.toBe(frame);
    expect(read32(child, shared, HEAP)).toBe(222);
    expect(read32(parent, shared, HEAP)).toBe(111);
    expect(shared.buddy.blockAt(frame)?.references).toBe(1);
    // The parent is now the only holder: writing re-enables write access without copying.
    write32(parent, shared, HEAP, 333);
    expect(parent.access(HEAP, 'write', 'user')).toBe(frame);
    expect(parent.mappings()[0]?.kind).toBe(FrameKind.Anonymous);
    expect(read32(child, shared, HEAP)).toBe(222);
    // Untouched demand-zero pages stay demand-zero in both, with separate frames.
    write32(child, shared, HEAP + PAGE_SIZE, 5);
    expect(read32(parent, shared, HEAP + PAGE_SIZE)).toBe(0);
    child.destroy();
    parent.destroy();
    expect(shared.buddy.usageOf(OWNER)).toBe(0);
    expect(shared.buddy.freePages).toBe(shared.initialFree);
  });

  it('fork into another owner: a frame stays charged to its creator, moves to SHARED when the creator is reclaimed, and is adopted on write', () => {
    const shared = context();
    const parent = AddressSpace.create(shared, 1, OWNER);
    parent.reserve(HEAP, PAGE_SIZE, permissions('rwu'));
    write32(parent, shared, HEAP, 42);
    const frame = parent.access(HEAP, 'read', 'user');
    const child = parent.fork(2, 9);
    parent.destroy();
    expect(shared.buddy.blockAt(frame)).toMatchObject({ owner: OWNER, references: 1, anonymous: true });
    // The creator dies: its spaces are gone; what others still map survives under SHARED.
    shared.buddy.freeAll(OWNER);
    expect(shared.buddy.blockAt(frame)).toMatchObject({ owner: SHARED_OWNER, references: 1 });
    expect(shared.buddy.usageOf(OWNER)).toBe(0);
    expect(read32(child, shared, HEAP)).toBe(42);
    write32(child, shared, HEAP, 43);
    expect(child.access(HEAP, 'read', 'user')).toBe(frame);
    expect(shared.buddy.blockAt(frame)?.owner).toBe(9);
    child.destroy();
    expect(shared.buddy.usageOf(9)).toBe(0);
    expect(shared.buddy.usageOf(SHARED_OWNER)).toBe(0);
    expect(shared.buddy.freePages).toBe(shared.initialFree);
  });

  it('free refuses an address-space frame: only unmapping releases it', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    space.reserve(HEAP, PAGE_SIZE, permissions('rwu'));
    const frame = space.access(HEAP, 'write', 'user');
    expect(() => shared.buddy.free(frame, OWNER)).toThrow(MemoryError);
    expect(read32(space, shared, HEAP)).toBe(0);
  });

  it('protect on a shared anonymous page marks it copy-on-write instead of exposing writes', () => {
    const shared = context();
    const parent = AddressSpace.create(shared, 1, OWNER);
    parent.reserve(HEAP, PAGE_SIZE, permissions('ru'));
    read32(parent, shared, HEAP);
    const child = parent.fork(2);
    child.protect(HEAP, permissions('rwu'));
    expect(child.mappings()[0]?.kind).toBe(FrameKind.CopyOnWrite);
    write32(child, shared, HEAP, 7);
    expect(read32(parent, shared, HEAP)).toBe(0);
    expect(read32(child, shared, HEAP)).toBe(7);
  });

  it('a fault that hits the owner limit throws LimitExceededError and leaves the space working', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    space.reserve(HEAP, 64 * PAGE_SIZE, permissions('rwu'));
    shared.buddy.setLimit(OWNER, 4); // root + one table + two frames
    write32(space, shared, HEAP, 1);
    write32(space, shared, HEAP + PAGE_SIZE, 2);
    expect(() => write32(space, shared, HEAP + 2 * PAGE_SIZE, 3)).toThrow(LimitExceededError);
    expect(space.translate(HEAP + 2 * PAGE_SIZE, 'read', 'user')).toBeInstanceOf(PageFault);
    expect(read32(space, shared, HEAP + PAGE_SIZE)).toBe(2);
    shared.buddy.checkConsistency();
    shared.buddy.setLimit(OWNER, undefined);
    write32(space, shared, HEAP + 2 * PAGE_SIZE, 3);
    space.destroy();
    expect(shared.buddy.usageOf(OWNER)).toBe(0);
  });

  it('fork that runs out of memory destroys the half-made child and the parent keeps working', () => {
    const shared = context();
    const parent = AddressSpace.create(shared, 1, OWNER);
    parent.reserve(0, 4 << 20, permissions('rwu'));
    parent.reserve(0x0040_0000, 4 << 20, permissions('rwu'));
    write32(parent, shared, 0, 1);
    write32(parent, shared, 0x0040_0000, 2);
    const usage = shared.buddy.usageOf(OWNER);
    // The child needs a root and two tables: allow only the root and one table.
    shared.buddy.setLimit(OWNER, usage + 2);
    expect(() => parent.fork(2)).toThrow(LimitExceededError);
    expect(shared.buddy.usageOf(OWNER)).toBe(usage);
    shared.buddy.checkConsistency();
    write32(parent, shared, 0, 10);
    expect(read32(parent, shared, 0)).toBe(10);
    expect(parent.mappings().every((mapping) => shared.buddy.blockAt(mapping.pa)?.references === 1)).toBe(true);
  });

  it('unreserve unmaps the region and frees its frames', () => {
    const shared = context();
    const space = AddressSpace.create(shared, 1, OWNER);
    space.reserve(HEAP, 8 * PAGE_SIZE, permissions('rwu'));
    for (let page = 0; page < 8; page++) write32(space, shared, HEAP + page * PAGE_SIZE, page);
    const usage = shared.buddy.usageOf(OWNER);
    space.unreserve(HEAP);
    expect(shared.buddy.usageOf(OWNER)).toBe(usage - 8);
    expect(space.resolveFault(HEAP, 'read')).toBe(false);
  });
});
