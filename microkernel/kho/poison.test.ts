import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoOutgoing } from './outgoing.js';
import { reviveHandover } from './incoming.js';
import { KHO_POISON_PATTERN, poisonUnpreserved } from './poison.js';

const MiB = 2 ** 20;
const PAGE = 4096;
const BASE = 0x8000_0000;

describe('poisonUnpreserved', () => {
  it('poisonUnpreserved fills exactly the pages that are not preserved, tree, FDT, scratch array or kept', () => {
    const ram = Ram.allocate(16 * MiB);
    ram.fill(BASE, 16 * MiB, 0x11);
    const scratch = [{ addr: BASE + 14 * MiB, size: 2 * MiB }];
    const allocator = new PageFrameAllocator(ram, [{ start: BASE, end: scratch[0]!.addr }]);
    const outgoing = KhoOutgoing.create(ram, allocator, scratch);
    const folio = allocator.allocatePages(4)!;
    ram.fill(folio, 16 * PAGE, 0xa5);
    outgoing.preserver.preserveFolio(folio, 4);
    outgoing.preserver.preservePages(BASE + 8 * MiB + PAGE, 3);
    ram.fill(BASE + 8 * MiB + PAGE, 3 * PAGE, 0x22);
    const kept = { start: BASE + 10 * MiB, end: BASE + 10 * MiB + 100 }; // widened to one page
    const { pointers, poison } = outgoing.prepareHandover({ poison: true, keep: [kept] });

    const treePages = outgoing.tree.pageCount();
    const keptPages = 16 + 3 + 1 /* FDT */ + treePages + 1 /* scratch array */ + 1 /* kept */;
    expect(poison!.poisonedBytes).toBe(16 * MiB - keptPages * PAGE);
    expect(ram.read(folio, 16 * PAGE).every((byte) => byte === 0xa5)).toBe(true);
    expect(ram.read(BASE + 8 * MiB + PAGE, 3 * PAGE).every((byte) => byte === 0x22)).toBe(true);
    expect(ram.read(BASE + 10 * MiB, PAGE).every((byte) => byte === 0x11)).toBe(true);
    expect(ram.readU32(BASE + 8 * MiB)).toBe(KHO_POISON_PATTERN);
    expect(ram.readU32(BASE + 8 * MiB + 4 * PAGE)).toBe(KHO_POISON_PATTERN);
    expect(ram.readU32(scratch[0]!.addr)).toBe(KHO_POISON_PATTERN);
    // What the next kernel reads survived.
    const revival = reviveHandover(ram, pointers);
    expect(revival.revived).toBe(true);
  });

  it('poisonUnpreserved throws on a corrupt tree before writing anything', () => {
    const ram = Ram.allocate(8 * MiB);
    const allocator = new PageFrameAllocator(ram);
    const outgoing = KhoOutgoing.create(ram, allocator, []);
    outgoing.preserver.preserveFolio(BASE + MiB, 0);
    ram.writeU64(outgoing.tree.rootPa + 16, 0x10n);
    ram.fill(BASE + 2 * MiB, PAGE, 0x33);
    expect(() => poisonUnpreserved(outgoing.tree)).toThrow(/EUCLEAN/);
    expect(ram.readU8(BASE + 2 * MiB)).toBe(0x33);
  });
});
