import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { MemoryServer } from './memory_server.js';
import { MemoryMap } from './memory_map.js';
import { EarlyAllocator } from './early_allocator.js';
import { KERNEL_OWNER, MAX_PAGE_ORDER } from './buddy.js';
import { MemoryError, OutOfMemoryError } from './errors.js';
import { AccessViolationError } from './grants.js';
import { PageFault, permissions } from './sv32.js';

const CONSOLE = 1;
const BLOCK = 2;
const NET = 3;

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as MemoryError).code;
  }
  return undefined;
}

describe('MemoryServer', () => {
  it('boots from the memory map: early allocations and reservations are not handed out, the rest is', () => {
    const ram = Ram.allocate(4 << 20);
    const map = MemoryMap.build({ ram: [{ base: ram.base, size: ram.size }], deviceTree: { base: ram.base, size: 3000 }, kernel: [{ base: ram.base + PAGE_SIZE, size: 2 * PAGE_SIZE, name: 'image' }] });
    const early = new EarlyAllocator(map);
    const bootTable = early.allocate(PAGE_SIZE, 'boot page table');
    early.finish();
    const server = new MemoryServer(ram, map);
    expect(server.buddy.buddyInfo().totalPages).toBe(1024 - 4);
    const seen = new Set<number>();
    for (let index = 0; index < 1020; index++) seen.add(server.allocate(CONSOLE));
    expect(seen.has(ram.base)).toBe(false);
    expect(seen.has(bootTable)).toBe(false);
    expect(seen.size).toBe(1020);
  });

  it('allocate out of memory is a typed error and the server keeps serving', () => {
    const server = MemoryServer.forRam(Ram.allocate(4 << 20));
    const big = server.allocate(CONSOLE, { order: MAX_PAGE_ORDER });
    expect(() => server.allocate(BLOCK)).toThrow(OutOfMemoryError);
    expect(codeOf(() => server.allocate(BLOCK, { order: 3 }))).toBe('OUT_OF_MEMORY');
    server.free(CONSOLE, big);
    expect(server.allocate(BLOCK, { order: 3, zeroed: true })).toBeTypeOf('number');
    server.buddy.checkConsistency();
  });

  it('map allows owned and granted pages only; a read-only grant maps read-only', () => {
    const server = MemoryServer.forRam(Ram.allocate(4 << 20));
    const space = server.createSpace(BLOCK);
    const own = server.allocate(BLOCK);
    const lent = server.allocate(CONSOLE);
    const foreign = server.allocate(NET);
    server.map(BLOCK, space, 0x1000, own, permissions('rw'));
    expect(codeOf(() => server.map(BLOCK, space, 0x2000, foreign, permissions('r')))).toBe('ACCESS_VIOLATION');
    server.grant(CONSOLE, BLOCK, lent, PAGE_SIZE, 'read');
    expect(codeOf(() => server.map(BLOCK, space, 0x2000, lent, permissions('rw')))).toBe('ACCESS_VIOLATION');
    server.map(BLOCK, space, 0x2000, lent, permissions('r'));
    expect(codeOf(() => server.protect(BLOCK, space, 0x2000, permissions('rw')))).toBe('ACCESS_VIOLATION');
    expect(server.translate(space, 0x2004, 'read', 'supervisor')).toBe(lent + 4);
    expect(codeOf(() => server.map(CONSOLE, space, 0x3000, lent, permissions('r')))).toBe('NOT_OWNER');
    expect(codeOf(() => server.unmap(BLOCK, 99, 0x1000))).toBe('NO_SUCH_SPACE');
  });

  it('grant lifecycle: lend, map, revoke on the granter restart unmaps the grantee and frees the pages', () => {
    const server = MemoryServer.forRam(Ram.allocate(4 << 20), { checked: true });
    const payload = server.allocate(CONSOLE, { order: 1, zeroed: true });
    server.ram.writeU32(payload, 0x1234_5678);
    const grant = server.grant(CONSOLE, BLOCK, payload, 2 * PAGE_SIZE, 'read-write');
    const space = server.createSpace(BLOCK);
    server.map(BLOCK, space, 0x8000, payload, permissions('rw'));
    server.map(BLOCK, space, 0x9000, payload + PAGE_SIZE, permissions('rw'));
    server.enforceAccess(BLOCK, payload, 2 * PAGE_SIZE, 'write');
    expect(server.ram.readU32(server.access(space, 0x8000, 'read', 'supervisor'))).toBe(0x1234_5678);
    expect(server.grants.get(grant.id)).toBeDefined();
    // The console server crashes and restarts: everything it held comes back.
    const result = server.reclaim(CONSOLE);
    expect(result).toEqual({ spacesDestroyed: 0, grantsRevoked: 1, pagesFreed: 2 });
    expect(server.grants.list()).toEqual([]);
    expect(server.translate(space, 0x8000, 'read', 'supervisor')).toBeInstanceOf(PageFault);
    expect(server.space(space).mappings()).toEqual([]);
    expect(server.buddy.blockAt(payload)?.state).toBe('free');
    expect(() => server.enforceAccess(BLOCK, payload, 4, 'read')).toThrow(AccessViolationError);
    expect(server.report().violations).toMatchObject([{ accessor: BLOCK, address: payload, owner: -1 }]);
  });

  it('revokeGrant by the grantee and free by the granter both remove the grantee mappings', () => {
    const server = MemoryServer.forRam(Ram.allocate(4 << 20));
    const page = server.allocate(CONSOLE);
    const space = server.createSpace(BLOCK);
    const grant = server.grant(CONSOLE, BLOCK, page, PAGE_SIZE, 'read');
    server.map(BLOCK, space, 0x1000, page, permissions('r'));
    server.revokeGrant(BLOCK, grant.id);
    expect(server.space(space).mappings()).toEqual([]);
    server.grant(CONSOLE, BLOCK, page, PAGE_SIZE, 'read');
    server.map(BLOCK, space, 0x1000, page, permissions('r'));
    server.free(CONSOLE, page);
    expect(server.space(space).mappings()).toEqual([]);
    expect(server.buddy.blockAt(page)?.state).toBe('free');
  });

  it('revokeGrant also unmaps the lent pages from a space the grantee forked into another owner', () => {
    const server = MemoryServer.forRam(Ram.allocate(4 << 20));
    const page = server.allocate(CONSOLE);
    const space = server.createSpace(BLOCK);
    const grant = server.grant(CONSOLE, BLOCK, page, PAGE_SIZE, 'read');
    server.map(BLOCK, space, 0x1000, page, permissions('r'));
    const child = server.fork(BLOCK, space, NET);
    expect(server.translate(child, 0x1000, 'read', 'supervisor')).toBe(page);
    server.revokeGrant(CONSOLE, grant.id);
    expect(server.translate(child, 0x1000, 'read', 'supervisor')).toBeInstanceOf(PageFault);
    expect(server.buddy.blockAt(page)?.references).toBe(1);
  });

  it('reclaim after a crash returns every page, table and space the server held, and mem shows it', () => {
    const server = MemoryServer.forRam(Ram.allocate(4 << 20));
    const initialFree = server.buddy.freePages;
    server.setLimit(NET, 200);
    const space = server.createSpace(NET);
    server.reserveRegion(NET, space, 0x1000_0000, 64 * PAGE_SIZE, permissions('rwu'));
    for (let page = 0; page < 20; page++) server.access(space, 0x1000_0000 + page * PAGE_SIZE, 'write', 'user');
    const child = server.fork(NET, space);
    server.access(child, 0x1000_0000, 'write', 'user');
    for (let index = 0; index < 10; index++) server.allocate(NET, { order: index % 3 });
    const other = server.allocate(CONSOLE, { order: 2 });
    const before = server.formatReport(new Map([[NET, 'net'], [CONSOLE, 'console']]));
    expect(before.some((line) => /^ {2}net +\d+ pages .*limit 200$/.test(line))).toBe(true);
    const result = server.reclaim(NET);
    expect(result.spacesDestroyed).toBe(2);
    expect(server.buddy.usageOf(NET)).toBe(0);
    expect(server.buddy.freePages).toBe(initialFree - 4);
    expect(server.buddy.blockAt(other)?.owner).toBe(CONSOLE);
    const after = server.formatReport(new Map([[NET, 'net'], [CONSOLE, 'console']]));
    expect(after.find((line) => line.trimStart().startsWith('net'))).toMatch(/net +0 pages \(0 B\), limit 200/);
    expect(after).toContain('address spaces: 0');
    server.buddy.checkConsistency();
    expect(codeOf(() => server.access(space, 0x1000_0000, 'read', 'user'))).toBe('NO_SUCH_SPACE');
  });

  it('formatReport prints the map, buddyinfo, totals and owners', () => {
    const ram = Ram.allocate(4 << 20);
    const map = MemoryMap.build({ ram: [{ base: ram.base, size: ram.size }], deviceTree: { base: ram.base + (4 << 20) - PAGE_SIZE, size: 100 } });
    const server = new MemoryServer(ram, map);
    server.reserve(ram.base, 2 * PAGE_SIZE);
    server.allocate(CONSOLE, { order: 3 });
    const lines = server.formatReport(new Map([[CONSOLE, 'console']]));
    expect(lines[0]).toBe('memory map:');
    expect(lines).toContain('  0x803ff000-0x803fffff      4 KiB  reserved  device tree blob');
    expect(lines).toContain('free blocks per order (buddyinfo):');
    expect(lines).toContain('  order     0    1    2    3    4    5    6    7    8    9   10');
    // Free pages 0..1022 in maximal blocks, minus pages 0-1 (reserved: splits the order-9 block) and one order-3 block.
    expect(lines).toContain('  free      1    2    2    1    2    2    2    2    2    0    0   + 0 hot order-0 pages');
    expect(lines).toContain('total 1023 pages (4092 KiB), free 1013 pages (4052 KiB), used 10 pages (40 KiB), reserved 2 pages (8 KiB)');
    expect(lines).toContain(`  ${'kernel'.padEnd(16)} 2 pages (8 KiB)`);
    expect(lines).toContain(`  ${'console'.padEnd(16)} 8 pages (32 KiB)`);
    expect(server.buddy.usageOf(KERNEL_OWNER)).toBe(2);
  });
  it('allocateContiguous runs past MAX_PAGE_ORDER aligned as asked, freed as a whole by their base only', () => {
    const server = MemoryServer.forRam(Ram.allocate(16 << 20));
    const initialFree = server.buddy.freePages;
    server.allocate(NET); // the lowest page is taken, so the run cannot start at RAM's base
    const range = server.allocateContiguous(CONSOLE, 1536, { alignment: 4 << 20, zeroed: true });
    expect(range.base % (4 << 20)).toBe(0);
    expect(range.heads).toEqual([range.base, range.base + (4 << 20)]);
    expect(server.buddy.usageOf(CONSOLE)).toBe(1536);
    expect(codeOf(() => server.free(CONSOLE, range.heads[1]!))).toBe('NOT_BLOCK_HEAD');
    expect(codeOf(() => server.free(NET, range.base))).toBe('NOT_OWNER');
    server.grant(CONSOLE, BLOCK, range.base + (5 << 20), PAGE_SIZE, 'read');
    expect(server.free(CONSOLE, range.base)).toBe(true);
    expect(server.grants.list()).toEqual([]);
    expect(server.buddy.freePages).toBe(initialFree - 1);
    expect(codeOf(() => server.free(CONSOLE, range.base))).toBe('DOUBLE_FREE');
    server.buddy.checkConsistency();
  });

  it('allocateContiguous out of memory or over the limit changes nothing; reclaim frees a run', () => {
    const server = MemoryServer.forRam(Ram.allocate(8 << 20));
    expect(codeOf(() => server.allocateContiguous(CONSOLE, 2049))).toBe('OUT_OF_MEMORY');
    server.setLimit(BLOCK, 1000);
    expect(codeOf(() => server.allocateContiguous(BLOCK, 1025))).toBe('LIMIT_EXCEEDED');
    const single = server.allocateContiguous(BLOCK, 4, { alignment: 64 * PAGE_SIZE });
    expect(single.heads).toHaveLength(1);
    expect(single.base % (64 * PAGE_SIZE)).toBe(0);
    const run = server.allocateContiguous(CONSOLE, 1100);
    expect(server.reclaim(CONSOLE).pagesFreed).toBe(1100);
    expect(codeOf(() => server.free(CONSOLE, run.base))).toBe('DOUBLE_FREE');
    server.free(BLOCK, single.base);
    expect(server.buddy.freePages).toBe(2048);
    server.buddy.checkConsistency();
  });
});
