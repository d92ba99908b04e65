import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { AllocationFlags, BuddyAllocator, HOT_CACHE_PAGES, KERNEL_OWNER, MAX_PAGE_ORDER, SHARED_OWNER } from './buddy.js';
import { IpcError } from '../../ipc/errors.js';
import { OutOfMemoryError, LimitExceededError } from './errors.js';

const RAM_SIZE = 4 << 20;

function freshAllocator(size = RAM_SIZE): { ram: Ram; buddy: BuddyAllocator } {
  const ram = Ram.allocate(size);
  const buddy = new BuddyAllocator(ram);
  buddy.addFreeRange(ram.base, ram.size);
  return { ram, buddy };
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof IpcError) return error.code;
    throw error;
  }
  return undefined;
}

describe('BuddyAllocator', () => {
  it('addFreeRange builds maximal aligned blocks', () => {
    const ram = Ram.allocate(8 << 20);
    const buddy = new BuddyAllocator(ram);
    buddy.addFreeRange(ram.base + 3 * PAGE_SIZE, ram.size - 3 * PAGE_SIZE);
    const info = buddy.buddyInfo();
    // Pages 3..2047: 3 (o0), 4..7 (o2), 8..15 (o3) ... 512..1023 (o9), 1024..2047 (o10).
    expect(info.freeBlocks).toEqual([1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(info.totalPages).toBe(2045);
    expect(info.freePages).toBe(2045);
    buddy.checkConsistency();
  });

  it('allocate splits the smallest block and free coalesces back to one block', () => {
    const { buddy } = freshAllocator();
    const first = buddy.allocate(1, 0);
    expect(buddy.buddyInfo().freeBlocks).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    const second = buddy.allocate(1, 0);
    expect(second).toBe(first + PAGE_SIZE);
    expect(buddy.buddyInfo().freeBlocks).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(buddy.free(first, 1)).toBe(true);
    expect(buddy.free(second, 1)).toBe(true);
    expect(buddy.buddyInfo().cachedPages).toBe(2);
    buddy.drainCache();
    expect(buddy.buddyInfo().freeBlocks).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    buddy.checkConsistency();
  });

  it('allocate reuses hot-cached order-0 pages first and drains the cache when a larger block is missing', () => {
    const { buddy } = freshAllocator();
    const pages: number[] = [];
    for (let index = 0; index < 1024; index++) pages.push(buddy.allocate(1, 0));
    const last = pages.pop()!;
    buddy.free(last, 1);
    expect(buddy.allocate(2, 0)).toBe(last);
    buddy.freeAll(2);
    for (const page of pages) buddy.free(page, 1);
    // Every page is free but most sit in the cache or unmerged; an order-10 request drains and merges.
    expect(buddy.buddyInfo().cachedPages).toBe(HOT_CACHE_PAGES);
    expect(buddy.allocate(3, MAX_PAGE_ORDER)).toBe(pages[0]);
    expect(buddy.buddyInfo().cachedPages).toBe(0);
    buddy.checkConsistency();
  });

  it('allocate returns blocks aligned to their order, including 4 MiB megapage blocks', () => {
    const { buddy, ram } = freshAllocator(16 << 20);
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const address = buddy.allocate(1, order);
      expect(address % (PAGE_SIZE << order)).toBe(0);
      expect(ram.contains(address, PAGE_SIZE << order)).toBe(true);
    }
    buddy.checkConsistency();
  });

  it('allocate with Zeroed clears the block in RAM', () => {
    const { buddy, ram } = freshAllocator();
    const address = buddy.allocate(1, 2);
    ram.fill(address, 4 * PAGE_SIZE, 0xab);
    buddy.free(address, 1);
    const again = buddy.allocate(1, 2, AllocationFlags.Zeroed);
    expect(again).toBe(address);
    expect(ram.read(again, 4 * PAGE_SIZE).every((byte) => byte === 0)).toBe(true);
  });

  it('free rejects a double free, a non-head address and the wrong owner without changing anything', () => {
    const { buddy } = freshAllocator();
    const block = buddy.allocate(7, 2);
    const before = buddy.buddyInfo();
    expect(codeOf(() => buddy.free(block + PAGE_SIZE, 7))).toBe('NOT_BLOCK_HEAD');
    expect(codeOf(() => buddy.free(block, 8))).toBe('NOT_OWNER');
    expect(codeOf(() => buddy.free(block + 1, 7))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => buddy.free(0x1000, 7))).toBe('INVALID_ARGUMENT');
    expect(buddy.buddyInfo()).toEqual(before);
    buddy.free(block, 7);
    expect(codeOf(() => buddy.free(block, 7))).toBe('DOUBLE_FREE');
    buddy.checkConsistency();
  });

  it('allocate throws OutOfMemoryError with a code and keeps serving afterwards', () => {
    const { buddy } = freshAllocator();
    const blocks: number[] = [];
    for (let index = 0; index < 1024; index++) blocks.push(buddy.allocate(1, 0));
    let caught: unknown;
    try {
      buddy.allocate(1, 0);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OutOfMemoryError);
    expect((caught as OutOfMemoryError).code).toBe('OUT_OF_MEMORY');
    buddy.checkConsistency();
    buddy.free(blocks.pop()!, 1);
    expect(buddy.allocate(1, 0)).toBeTypeOf('number');
    expect(codeOf(() => buddy.allocate(1, 1))).toBe('OUT_OF_MEMORY');
  });

  it('allocate enforces per-owner limits with LimitExceededError', () => {
    const { buddy } = freshAllocator();
    buddy.setLimit(3, 5);
    buddy.allocate(3, 2);
    expect(() => buddy.allocate(3, 1)).toThrow(LimitExceededError);
    buddy.allocate(3, 0);
    expect(buddy.usageOf(3)).toBe(5);
    expect(buddy.buddyInfo().owners).toContainEqual({ owner: 3, pages: 5, limit: 5 });
    buddy.setLimit(3, undefined);
    buddy.allocate(3, 1);
    expect(buddy.usageOf(3)).toBe(7);
  });

  it('freeAll reclaims every block of an owner and leaves others alone', () => {
    const { buddy } = freshAllocator();
    const kept = buddy.allocate(2, 3);
    for (let index = 0; index < 50; index++) buddy.allocate(5, index % 4);
    expect(buddy.freeAll(5)).toBe(13 * 1 + 13 * 2 + 12 * 4 + 12 * 8);
    expect(buddy.usageOf(5)).toBe(0);
    expect(buddy.blockAt(kept)?.owner).toBe(2);
    buddy.free(kept, 2);
    buddy.drainCache();
    expect(buddy.buddyInfo().freeBlocks).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    buddy.checkConsistency();
  });

  it('retain keeps a block alive past its owner: free and freeAll hand it to SHARED_OWNER', () => {
    const { buddy } = freshAllocator();
    const block = buddy.allocate(4, 1);
    expect(buddy.retain(block + PAGE_SIZE)).toBe(block);
    expect(buddy.free(block, 4)).toBe(false);
    expect(buddy.blockAt(block)).toMatchObject({ state: 'allocated', owner: SHARED_OWNER, references: 1 });
    expect(buddy.usageOf(4)).toBe(0);
    expect(buddy.release(block)).toBe(true);
    expect(buddy.blockAt(block)?.state).toBe('free');

    const other = buddy.allocate(4, 0);
    buddy.retain(other);
    expect(buddy.freeAll(4)).toBe(0);
    expect(buddy.blockAt(other)).toMatchObject({ owner: SHARED_OWNER, references: 1 });
    buddy.release(other);
    buddy.checkConsistency();
  });

  it('reserve takes exactly the given pages out and refuses pages in use', () => {
    const { buddy, ram } = freshAllocator();
    const base = ram.base + 5 * PAGE_SIZE;
    const heads = buddy.reserve(base, 11 * PAGE_SIZE);
    // Pages 5..15: 5 (o0), 6..7 (o1), 8..15 (o3).
    expect(heads).toEqual([base, base + PAGE_SIZE, base + 3 * PAGE_SIZE]);
    expect(buddy.usageOf(KERNEL_OWNER)).toBe(11);
    expect(buddy.blockAt(base + 4 * PAGE_SIZE)).toMatchObject({ reserved: true, owner: KERNEL_OWNER, order: 3 });
    expect(buddy.buddyInfo().reservedPages).toBe(11);
    buddy.checkConsistency();
    const before = buddy.freeBlocks();
    expect(codeOf(() => buddy.reserve(ram.base, 8 * PAGE_SIZE))).toBe('ADDRESS_IN_USE');
    expect(buddy.freeBlocks()).toEqual(before);
    // Nothing below page 5 was allocated, and the reserved blocks never come back from allocate.
    for (let index = 0; index < 1024 - 11; index++) {
      const page = buddy.allocate(1, 0);
      expect(page < base || page >= base + 11 * PAGE_SIZE).toBe(true);
    }
  });

  it('reserve then transfer then free hands a preserved block to its restorer', () => {
    const { buddy, ram } = freshAllocator();
    const [head] = buddy.reserve(ram.base + 64 * PAGE_SIZE, 64 * PAGE_SIZE);
    buddy.transfer(head!, 9);
    expect(buddy.usageOf(9)).toBe(64);
    expect(buddy.usageOf(KERNEL_OWNER)).toBe(0);
    buddy.free(head!, 9);
    expect(buddy.buddyInfo().freeBlocks[MAX_PAGE_ORDER]).toBe(1);
  });

  it('ownerAt finds the owner of any byte of a block', () => {
    const { buddy } = freshAllocator();
    buddy.allocate(1, 0);
    const block = buddy.allocate(2, 4);
    expect(buddy.ownerAt(block + 15 * PAGE_SIZE + 123)).toBe(2);
    expect(buddy.ownerAt(block + 16 * PAGE_SIZE)).toBe(-1);
    expect(buddy.ownerAt(0x10)).toBe(-1);
  });

  it('random alloc/free/retain/freeAll sequences: no overlap, no leak, exact accounting, full coalescing', () => {
    type Operation =
      | { kind: 'allocate'; owner: number; order: number; zeroed: boolean; anonymous: boolean }
      | { kind: 'free'; pick: number }
      | { kind: 'retain'; pick: number }
      | { kind: 'release'; pick: number }
      | { kind: 'freeAll'; owner: number };
    const operation: fc.Arbitrary<Operation> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('allocate' as const), owner: fc.integer({ min: 1, max: 3 }), order: fc.integer({ min: 0, max: 5 }), zeroed: fc.boolean(), anonymous: fc.boolean() }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('retain' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeAll' as const), owner: fc.integer({ min: 1, max: 3 }) }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.array(operation, { maxLength: 300, size: 'max' }), (skipLow, skipHigh, operations) => {
        const ram = Ram.allocate(RAM_SIZE);
        const buddy = new BuddyAllocator(ram);
        buddy.addFreeRange(ram.base + skipLow * PAGE_SIZE, ram.size - (skipLow + skipHigh) * PAGE_SIZE);
        buddy.setLimit(3, 40);
        const pageCount = ram.size / PAGE_SIZE;
        const initial = buddy.freeBlocks();
        const total = buddy.buddyInfo().totalPages;
        // The model: live blocks with owner (or SHARED) and reference counts; each block's RAM holds a tag.
        interface Live { base: number; order: number; owner: number; references: number; anonymous: boolean; tag: number }
        const live: Live[] = [];
        let nextTag = 1;
        const tagBlock = (block: Live): void => ram.fill(block.base, PAGE_SIZE << block.order, block.tag);
        // The first and last byte of every page carry the tag (checking every byte is needlessly slow).
        const pagesHold = (block: { base: number; order: number }, value: number): boolean => {
          for (let page = 0; page < 1 << block.order; page++) {
            const address = block.base + page * PAGE_SIZE;
            if (ram.readU8(address) !== value || ram.readU8(address + PAGE_SIZE - 1) !== value) return false;
          }
          return true;
        };
        const checkTag = (block: Live): void => {
          if (!pagesHold(block, block.tag)) expect.fail(`block ${block.base} was overwritten`);
        };
        const drop = (block: Live): void => {
          checkTag(block);
          live.splice(live.indexOf(block), 1);
        };
        for (const step of operations) {
          if (step.kind === 'allocate') {
            const usage = live.filter((block) => block.owner === step.owner).reduce((sum, block) => sum + (1 << block.order), 0);
            // Independent oracle: with full coalescing a block fits iff some aligned run of 2^order managed pages is free.
            const free = new Uint8Array(pageCount);
            free.fill(1, skipLow, pageCount - skipHigh);
            for (const block of live) free.fill(0, (block.base - ram.base) / PAGE_SIZE, (block.base - ram.base) / PAGE_SIZE + (1 << block.order));
            let fits = false;
            for (let first = 0; first < pageCount && !fits; first += 1 << step.order) fits = free.subarray(first, first + (1 << step.order)).every((page) => page === 1);
            const overLimit = step.owner === 3 && usage + (1 << step.order) > 40;
            const before = buddy.freePages;
            const code = codeOf(() => {
              const flags = (step.zeroed ? AllocationFlags.Zeroed : AllocationFlags.None) | (step.anonymous ? AllocationFlags.Anonymous : AllocationFlags.None);
              const base = buddy.allocate(step.owner, step.order, flags);
              if (step.zeroed && !pagesHold({ base, order: step.order }, 0)) expect.fail(`zeroed block ${base} is not zero`);
              const block = { base, order: step.order, owner: step.owner, references: 1, anonymous: step.anonymous, tag: (nextTag++ % 255) + 1 };
              tagBlock(block);
              live.push(block);
            });
            expect(code).toBe(overLimit ? 'LIMIT_EXCEEDED' : fits ? undefined : 'OUT_OF_MEMORY');
            if (code) expect(buddy.freePages).toBe(before);
          } else if (step.kind === 'freeAll') {
            for (const block of live.filter((candidate) => candidate.owner === step.owner)) {
              if (block.anonymous) {
                block.owner = SHARED_OWNER;
              } else if (block.references > 1) {
                block.references--;
                block.owner = SHARED_OWNER;
              } else drop(block);
            }
            buddy.freeAll(step.owner);
          } else if (live.length > 0) {
            const block = live[step.pick % live.length]!;
            if (step.kind === 'retain') {
              buddy.retain(block.base + ((step.pick >> 4) % (1 << block.order)) * PAGE_SIZE);
              block.references++;
            } else if (step.kind === 'release' || block.owner === SHARED_OWNER || block.anonymous) {
              if (step.kind === 'free' && block.anonymous) expect(codeOf(() => buddy.free(block.base, block.owner))).toBe('NOT_OWNER');
              const freed = buddy.release(block.base);
              expect(freed).toBe(block.references === 1);
              if (--block.references === 0) drop(block);
            } else {
              const freed = buddy.free(block.base, block.owner);
              expect(freed).toBe(block.references === 1);
              if (--block.references === 0) drop(block);
              else block.owner = SHARED_OWNER;
            }
          }
          buddy.checkConsistency();
          // Collect mismatches as plain strings: one expect per step keeps the property fast.
          const problems: string[] = [];
          // No overlap: sorted live blocks never intersect; every block is what the allocator says.
          const sorted = [...live].sort((a, b) => a.base - b.base);
          for (let index = 1; index < sorted.length; index++) {
            if (sorted[index]!.base < sorted[index - 1]!.base + (PAGE_SIZE << sorted[index - 1]!.order)) problems.push(`overlap at ${sorted[index]!.base}`);
          }
          for (const block of live) {
            const info = buddy.blockAt(block.base)!;
            if (info.base !== block.base || info.order !== block.order || info.owner !== block.owner || info.references !== block.references || info.anonymous !== block.anonymous || info.state !== 'allocated') {
              problems.push(`block ${block.base}: model ${JSON.stringify(block)}, allocator ${JSON.stringify(info)}`);
            }
          }
          // Accounting equals reality.
          for (const owner of [1, 2, 3, SHARED_OWNER]) {
            const pages = live.filter((block) => block.owner === owner).reduce((sum, block) => sum + (1 << block.order), 0);
            if (buddy.usageOf(owner) !== pages) problems.push(`owner ${owner} charged ${buddy.usageOf(owner)}, holds ${pages}`);
          }
          const used = live.reduce((sum, block) => sum + (1 << block.order), 0);
          if (buddy.freePages + used !== total) problems.push(`free ${buddy.freePages} + used ${used} != ${total}`);
          expect(problems).toEqual([]);
        }
        for (const block of [...live]) {
          checkTag(block);
          while (block.references > 0) {
            buddy.release(block.base);
            block.references--;
          }
        }
        // Full coalescing back to the initial free state.
        buddy.drainCache();
        expect(buddy.freeBlocks()).toEqual(initial);
        buddy.checkConsistency();
      }),
      { numRuns: 150 },
    );
  });

  it('random reserve calls succeed exactly on free pages and free back to the initial state', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ first: fc.integer({ min: 0, max: 1023 }), pages: fc.integer({ min: 1, max: 64 }) }), { maxLength: 20, size: 'max' }), (requests) => {
        const { buddy, ram } = freshAllocator();
        const initial = buddy.freeBlocks();
        const taken = new Uint8Array(1024);
        const heads: number[] = [];
        for (const { first, pages } of requests) {
          const count = Math.min(pages, 1024 - first);
          const free = taken.subarray(first, first + count).every((page) => page === 0);
          const code = codeOf(() => heads.push(...buddy.reserve(ram.base + first * PAGE_SIZE, count * PAGE_SIZE)));
          expect(code).toBe(free ? undefined : 'ADDRESS_IN_USE');
          if (free) taken.fill(1, first, first + count);
          buddy.checkConsistency();
        }
        expect(buddy.usageOf(KERNEL_OWNER)).toBe(taken.reduce((sum, page) => sum + page, 0));
        for (let page = 0; page < 1024; page++) expect(buddy.ownerAt(ram.base + page * PAGE_SIZE)).toBe(taken[page] ? KERNEL_OWNER : -1);
        for (const head of heads) buddy.free(head, KERNEL_OWNER);
        buddy.drainCache();
        expect(buddy.freeBlocks()).toEqual(initial);
      }),
      { numRuns: 100 },
    );
  });
});
