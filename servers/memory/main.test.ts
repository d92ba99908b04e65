// The memory server in its own worker, called over IPC through the ServerHarness. The
// harness's client name is "harness": tests of the kernel's operations name it a kernel
// client in the config (kernelClients), and act for other servers with onBehalfOf.

import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../hal/address.js';
import { Ram } from '../../hal/ram.js';
import { PermissionDeniedError } from '../../ipc/errors.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { pack, unpack } from 'msgpackr';
import { compileInterface } from '../../ipc/define.js';
import { Ring } from '../../ipc/ring.js';
import {
  InvalidBlockError, LimitExceededError, MEMORY_MAX_ORDER, OutOfMemoryError, memoryInterface,
} from '../../ipc/interfaces/memory.js';
import type { HandoverPointers } from '../../microkernel/kho/incoming.js';
import { KhoOutgoing } from '../../microkernel/kho/outgoing.js';
import { PageFrameAllocator } from '../../microkernel/kho/page_allocator.js';
import { DEFAULT_SCRATCH_CONFIG, placeScratchAreas, scratchSizes } from '../../microkernel/kho/scratch.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import type { MemoryServerConfig } from './config.js';
import { translate as walkTables } from './sv32.js';
import { memoryStateBytes } from '../../ipc/interfaces/memory_state.js';

const MiB = 1024 * 1024;

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** A fake log service that lets a test wait for a record. */
function logCollector() {
  const messages: string[] = [];
  const waiters: { pattern: RegExp; resolve: (message: string) => void }[] = [];
  const peer = fakePeer('log', logInterface, {
    write: ({ records }) => {
      for (const record of records) {
        messages.push(record.msg);
        for (const waiter of waiters.filter((candidate) => candidate.pattern.test(record.msg))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(record.msg);
        }
      }
    },
  });
  const waitFor = (pattern: RegExp): Promise<string> => {
    const seen = messages.find((message) => pattern.test(message));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ pattern, resolve }));
  };
  return { peer, waitFor };
}

async function startMemory(config: MemoryServerConfig = {}, ram?: Ram) {
  const log = logCollector();
  harness = await ServerHarness.start({
    module: 'servers/memory/main',
    name: 'memory',
    config: config as Record<string, unknown>,
    peers: [log.peer],
    ...(ram ? { ram } : {}),
  });
  return { harness, memory: harness.client(memoryInterface), log };
}

const asKernel: MemoryServerConfig = { kernelClients: ['harness'] };

function overlaps(a: { base: number; size: number }, b: { base: number; size: number }): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

describe('memory server', () => {
  it('memory.allocate and free round trip: zeroed blocks of the asked size, all pages back afterwards', async () => {
    const ram = Ram.allocate(16 * MiB);
    ram.fill(ram.base, ram.size, 0xaa);
    const { memory } = await startMemory({}, ram);
    const before = await memory.usage({});
    const block = await memory.allocate({ order: 3, zeroed: true });
    expect(block).toMatchObject({ order: 3, pages: 8 });
    expect(block.pa % (8 * PAGE_SIZE)).toBe(0);
    expect(ram.read(block.pa, 8 * PAGE_SIZE).every((byte) => byte === 0)).toBe(true);
    expect(await memory.allocate({ bytes: 12 * 1024 })).toMatchObject({ order: 2, pages: 4 });
    const aligned = await memory.allocate({ bytes: PAGE_SIZE, alignOrder: 8 });
    expect(aligned.pa % MiB).toBe(0);
    const run = await memory.allocate({ bytes: 6 * MiB, alignOrder: MEMORY_MAX_ORDER, zeroed: true });
    expect(run).toMatchObject({ order: 11, pages: 1536 });
    expect(run.pa % (4 * MiB)).toBe(0);
    expect((await memory.usage({})).owners).toContainEqual({ name: 'harness', pages: 8 + 4 + 1 + 1536 });

    expect(await memory.free({ pa: block.pa })).toEqual({ freed: true });
    await expect(memory.free({ pa: block.pa })).rejects.toMatchObject({ code: 'DOUBLE_FREE' });
    await expect(memory.free({ pa: run.pa + 4 * MiB })).rejects.toMatchObject({ code: 'NOT_BLOCK_HEAD' });
    await memory.free({ pa: run.pa });
    await memory.free({ pa: aligned.pa });
    const small = (await memory.usage({})).owners.find((row) => row.name === 'harness');
    expect(small?.pages).toBe(4);
    await expect(memory.allocate({ order: 1, bytes: 4096 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.allocate({ order: MEMORY_MAX_ORDER + 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.allocate({ bytes: 2 ** 50 })).rejects.toBeInstanceOf(OutOfMemoryError);
    await expect(memory.free({ pa: 0x1000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await memory.usage({})).freePages).toBe(before.freePages - 4);
  });

  it('memory.pageMap marks each cell with the owner of most of its pages, and agrees with usage', async () => {
    const ram = Ram.allocate(16 * MiB);
    const { memory } = await startMemory({}, ram);
    const onePerPage = await memory.pageMap({ cells: 65536 });
    expect(onePerPage).toMatchObject({ base: ram.base, pages: 4096, cellPages: 1 });
    expect(onePerPage.owners.slice(0, 2)).toEqual(['free', 'unavailable']);
    const block = await memory.allocate({ order: 4 });
    const map = await memory.pageMap({ cells: 65536 });
    const harnessIndex = map.owners.indexOf('harness');
    expect(harnessIndex).toBeGreaterThan(1);
    const first = (block.pa - map.base) / PAGE_SIZE;
    expect([...map.cells.subarray(first, first + 16)]).toEqual(new Array(16).fill(harnessIndex));
    // Every page of the picture is what usage counts: free pages are marked free, the harness's its own.
    const usage = await memory.usage({});
    expect(map.cells.filter((cell) => cell === 0).length).toBe(usage.freePages);
    expect(map.cells.filter((cell) => cell === harnessIndex).length).toBe(usage.owners.find((row) => row.name === 'harness')!.pages);
    // Coarser cells: 16 pages each, the allocated block one whole cell of the harness's.
    const coarse = await memory.pageMap({ cells: 256 });
    expect(coarse).toMatchObject({ cellPages: 16 });
    expect(coarse.cells.length).toBe(256);
    expect(coarse.cells[first / 16]).toBe(coarse.owners.indexOf('harness'));
    await expect(memory.pageMap({ cells: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('memory.allocate out of memory is a typed error and the server keeps serving', async () => {
    const { harness, memory } = await startMemory({ reserved: [{ base: 0x8000_0000, size: MiB, purpose: 'kernel image' }] });
    const blocks: number[] = [];
    for (;;) {
      try {
        blocks.push((await memory.allocate({ order: 7 })).pa);
      } catch (error) {
        expect(error).toBeInstanceOf(OutOfMemoryError);
        expect(error).toMatchObject({ code: 'OUT_OF_MEMORY', data: { order: 7 } });
        break;
      }
    }
    expect(blocks).toHaveLength(14); // 8 MiB RAM - 1 MiB reserved = 14 blocks of 512 KiB
    await expect(memory.allocate({ order: 0 })).rejects.toBeInstanceOf(OutOfMemoryError);
    await memory.free({ pa: blocks[0]! });
    expect((await memory.allocate({ order: 0 })).pages).toBe(1);
    expect(harness.crashes).toEqual([]);
  });

  it('memory.setLimit and the config limits cap a server; over the limit is LIMIT_EXCEEDED', async () => {
    const { memory } = await startMemory({ limits: { harness: 4, 'virtio-blk': 2 }, kernelClients: ['harness'] });
    await memory.allocate({ order: 2 });
    await expect(memory.allocate({ order: 0 })).rejects.toBeInstanceOf(LimitExceededError);
    await expect(memory.allocate({ order: 2, onBehalfOf: 'virtio-blk' })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED', data: { limit: 2 } });
    await memory.setLimit({ owner: 'harness', pages: 5 });
    await memory.allocate({ order: 0 });
    await memory.setLimit({ owner: 'harness', pages: null });
    await memory.allocate({ order: 4 });
    expect((await memory.usage({})).owners).toContainEqual({ name: 'virtio-blk', pages: 0, limit: 2 });
  });

  it('memory.reclaim, setLimit and onBehalfOf are refused to clients that are not the kernel', async () => {
    const { memory } = await startMemory();
    await memory.allocate({ order: 0 });
    await expect(memory.reclaim({ owner: 'harness' })).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(memory.setLimit({ owner: 'harness', pages: 1 })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(memory.allocate({ order: 0, onBehalfOf: 'virtio-blk' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const { space } = await memory.createSpace({});
    await expect(memory.fork({ space, childOwner: 'virtio-blk' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((await memory.usage({})).owners.find((row) => row.name === 'harness')?.pages).toBe(2);
  });

  it('memory.reclaim by the kernel frees what a server held and lent, and revokes its grants both ways', async () => {
    const { memory } = await startMemory(asKernel, Ram.allocate(16 * MiB));
    const initial = await memory.usage({});
    const lent = await memory.allocate({ order: 2, onBehalfOf: 'virtio-blk' });
    await memory.allocate({ bytes: 5 * MiB, onBehalfOf: 'virtio-blk' });
    const { space } = await memory.createSpace({ onBehalfOf: 'virtio-blk' });
    await memory.reserveRegion({ space, va: 0x1000_0000, length: 8 * PAGE_SIZE, permissions: 'rwu', onBehalfOf: 'virtio-blk' });
    await memory.translate({ space, va: 0x1000_0000, access: 'write', resolve: true, onBehalfOf: 'virtio-blk' });
    await memory.grant({ to: 'console', pa: lent.pa, length: 4 * PAGE_SIZE, mode: 'read', onBehalfOf: 'virtio-blk' });
    const received = await memory.allocate({ order: 0, onBehalfOf: 'console' });
    await memory.grant({ to: 'virtio-blk', pa: received.pa, length: PAGE_SIZE, mode: 'read-write', onBehalfOf: 'console' });
    expect(await memory.checkAccess({ accessor: 'console', pa: lent.pa, length: 4 * PAGE_SIZE, access: 'read' })).toEqual({ allowed: true });
    expect((await memory.usage({})).grants).toBe(2);

    const result = await memory.reclaim({ owner: 'virtio-blk' });
    expect(result).toEqual({ pagesFreed: 4 + 1280 + 3, grantsRevoked: 2, spacesDestroyed: 1 }); // blocks, root + leaf table + one demand-zero page
    const after = await memory.usage({});
    expect(after.grants).toBe(0);
    expect(after.spaces).toBe(0);
    expect(after.owners.find((row) => row.name === 'virtio-blk')).toBeUndefined();
    expect(after.freePages).toBe(initial.freePages - 1);
    expect(await memory.checkAccess({ accessor: 'console', pa: lent.pa, length: PAGE_SIZE, access: 'read' })).toMatchObject({ allowed: false, owner: 'nobody' });
    expect(await memory.reclaim({ owner: 'virtio-blk' })).toEqual({ pagesFreed: 0, grantsRevoked: 0, spacesDestroyed: 0 });
    await expect(memory.reclaim({ owner: 'kernel' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.reclaim({ owner: 'shared' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('memory.reclaim of the KHO owner is refused unless includePreserved, so preserved state outlives other servers', async () => {
    const { memory } = await startMemory(asKernel);
    const preserved = await memory.allocate({ order: 3, onBehalfOf: 'kho' });
    await memory.allocate({ order: 3, onBehalfOf: 'vfs' });
    expect((await memory.reclaim({ owner: 'vfs' })).pagesFreed).toBe(8);
    await expect(memory.reclaim({ owner: 'kho' })).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/KHO-preserved/) });
    expect(await memory.checkAccess({ accessor: 'kho', pa: preserved.pa, length: 8 * PAGE_SIZE, access: 'write' })).toEqual({ allowed: true });
    expect((await memory.reclaim({ owner: 'kho', includePreserved: true })).pagesFreed).toBe(8);
  });

  it('memory.grant lifecycle: read-only and read-write access, revoke by either side, revoked when the pages are freed', async () => {
    const { memory, log } = await startMemory({ checked: true });
    const { pa } = await memory.allocate({ order: 1 });
    const readOnly = await memory.grant({ to: 'virtio-blk', pa, length: 2 * PAGE_SIZE, mode: 'read' });
    expect(await memory.checkAccess({ accessor: 'virtio-blk', pa: pa + 100, length: 200, access: 'read' })).toEqual({ allowed: true });
    const refused = await memory.checkAccess({ accessor: 'virtio-blk', pa, length: 8, access: 'write' });
    expect(refused).toMatchObject({ allowed: false, owner: 'harness', reason: 'read-only-grant' });
    expect(refused.description).toMatch(/^virtio-blk wrote 0x[0-9a-f]+ .*a page of harness, lent read-only$/);
    await log.waitFor(/^access violation: virtio-blk wrote/);
    await expect(memory.grant({ to: 'harness', pa, length: PAGE_SIZE, mode: 'read' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.grant({ to: 'console', pa, length: 100, mode: 'read' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.grant({ to: 'console', pa: pa + 2 * PAGE_SIZE, length: PAGE_SIZE, mode: 'read' })).rejects.toBeInstanceOf(InvalidBlockError);

    await memory.revoke({ grant: readOnly.grant });
    await expect(memory.revoke({ grant: readOnly.grant })).rejects.toMatchObject({ code: 'NO_SUCH_GRANT' });
    expect(await memory.checkAccess({ accessor: 'virtio-blk', pa, length: 8, access: 'read' })).toMatchObject({ allowed: false, reason: 'not-owned' });
    await memory.grant({ to: 'virtio-blk', pa, length: PAGE_SIZE, mode: 'read-write' });
    expect(await memory.checkAccess({ accessor: 'virtio-blk', pa, length: PAGE_SIZE, access: 'write' })).toEqual({ allowed: true });
    await memory.free({ pa });
    expect((await memory.usage({})).grants).toBe(0);
    expect(await memory.checkAccess({ accessor: 'virtio-blk', pa, length: 8, access: 'read' })).toMatchObject({ allowed: false, owner: 'nobody' });
    expect(await memory.checkAccess({ accessor: 'never-seen', pa, length: 8, access: 'read' })).toMatchObject({ allowed: false });
    expect((await memory.report({})).text).toMatch(/access violations \(last 3\):\n {2}virtio-blk wrote 0x[0-9a-f]+ .*a page of harness, lent read-only$/m);
  });

  it('memory address spaces: map, translate, protect, demand-zero and copy-on-write over IPC', async () => {
    const { memory, harness } = await startMemory();
    const { space, root } = await memory.createSpace({});
    const { pa } = await memory.allocate({ order: 0, zeroed: true });
    harness.ram.writeU32(pa + 16, 0xfeed_beef);
    await memory.map({ space, va: 0x4000, pa, permissions: 'rwu' });
    expect(await memory.translate({ space, va: 0x4010, access: 'read' })).toEqual({ pa: pa + 16 });
    // The root the reply names is the table a hart walks (satp's PPN).
    expect(walkTables(harness.ram, root, 0x4010, 'read', 'user')).toBe(pa + 16);
    await memory.protect({ space, va: 0x4000, permissions: 'ru' });
    expect((await memory.translate({ space, va: 0x4010, access: 'write' })).fault).toMatchObject({ cause: 15, reason: 'permission' });
    await expect(memory.map({ space, va: 0x4000, pa, permissions: 'ru' })).rejects.toMatchObject({ code: 'MAPPING_EXISTS' });
    await expect(memory.map({ space, va: 0x5000, pa, permissions: 'wu' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.map({ space, va: 0x5000, pa, permissions: 'rwz' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    await memory.reserveRegion({ space, va: 0x10_0000, length: 4 * PAGE_SIZE, permissions: 'rwu' });
    expect((await memory.translate({ space, va: 0x10_0000, access: 'write' })).fault).toMatchObject({ cause: 15 });
    const resolved = await memory.translate({ space, va: 0x10_0000, access: 'write', resolve: true });
    expect(resolved.pa).toBeTypeOf('number');
    const child = await memory.fork({ space });
    expect(await memory.translate({ space: child.space, va: 0x10_0000, access: 'read' })).toEqual(resolved);
    const copied = await memory.translate({ space: child.space, va: 0x10_0000, access: 'write', resolve: true });
    expect(copied.pa).not.toBe(resolved.pa);
    await memory.unmap({ space, va: 0x4000 });
    expect((await memory.translate({ space, va: 0x4000, access: 'read' })).fault).toMatchObject({ reason: 'invalid' });
    await memory.destroySpace({ space: child.space });
    await expect(memory.translate({ space: child.space, va: 0, access: 'read' })).rejects.toMatchObject({ code: 'NO_SUCH_SPACE' });
  });

  it('memory.report prints each region with its purpose, buddyinfo, totals and usage per server', async () => {
    const base = 0x8000_0000;
    const { memory } = await startMemory({
      ...asKernel,
      reserved: [
        { base, size: MiB, purpose: 'kernel image' },
        { base: base + 0x7f_0000, size: 0x2345, purpose: 'device tree blob' },
        { base: base + 0x7e_0000, size: 0x1000, purpose: 'initrd (boot manifest)' },
      ],
      scratch: [{ base: base + 4 * MiB, size: 2 * MiB }],
    });
    await memory.allocate({ order: 4, onBehalfOf: 'virtio-blk' });
    await memory.setLimit({ owner: 'console', pages: 64 });
    const { text } = await memory.report({});
    const lines = text.split('\n');
    expect(lines).toContain('  0x80000000-0x800fffff      1 MiB  reserved  kernel image');
    expect(lines).toContain('  0x80400000-0x805fffff      2 MiB  scratch   KHO scratch');
    expect(lines).toContain('  0x807e0000-0x807e0fff      4 KiB  reserved  initrd (boot manifest)');
    expect(lines).toContain('  0x807f0000-0x807f2fff     12 KiB  reserved  device tree blob');
    expect(lines).toContain('  order     0    1    2    3    4    5    6    7    8    9   10');
    expect(text).toMatch(/^total \d+ pages \(.*\), free \d+ pages \(.*\), used 16 pages \(64 KiB\), reserved 0 pages \(0 B\)$/m);
    expect(lines).toContain(`  ${'virtio-blk'.padEnd(16)} 16 pages (64 KiB)`);
    expect(lines).toContain(`  ${'console'.padEnd(16)} 0 pages (0 B), limit 64`);
  });

  it('memory server killed and started again reattaches to its state region: nothing owned is handed out again, grants and page tables intact', async () => {
    const ram = Ram.allocate(16 * MiB);
    const state = { base: ram.base + MiB, size: memoryStateBytes(ram.base, ram.size) };
    const config: MemoryServerConfig = { ...asKernel, state, reserved: [{ base: ram.base, size: MiB, purpose: 'kernel image' }, { ...state, purpose: 'memory server state' }] };
    const first = await startMemory(config, ram);
    const held: { base: number; size: number }[] = [];
    for (const [owner, order] of [['virtio-blk', 3], ['virtio-rng', 0], ['console', 5], ['kho', 2], ['virtio-blk', 0]] as const) {
      const block = await first.memory.allocate({ order, onBehalfOf: owner });
      held.push({ base: block.pa, size: block.pages * PAGE_SIZE });
    }
    const run = await first.memory.allocate({ bytes: 5 * MiB, onBehalfOf: 'console' });
    held.push({ base: run.pa, size: run.pages * PAGE_SIZE });
    const { grant } = await first.memory.grant({ to: 'virtio-blk', pa: held[2]!.base, length: 4 * PAGE_SIZE, mode: 'read', onBehalfOf: 'console' });
    const { space } = await first.memory.createSpace({ onBehalfOf: 'virtio-blk' });
    await first.memory.map({ space, va: 0x4000_0000, pa: held[0]!.base, permissions: 'rwu', onBehalfOf: 'virtio-blk' });
    await first.memory.reserveRegion({ space, va: 0x1000_0000, length: 16 * PAGE_SIZE, permissions: 'rwu', onBehalfOf: 'virtio-blk' });
    const frame = (await first.memory.translate({ space, va: 0x1000_0000, access: 'write', resolve: true, onBehalfOf: 'virtio-blk' })).pa!;
    held.push({ base: frame - (frame % PAGE_SIZE), size: PAGE_SIZE });
    const usageBefore = await first.memory.usage({});
    expect(first.harness.remembered).toBe(state.base);
    await first.harness.crash();
    await first.harness.stop();

    const log = logCollector();
    harness = await ServerHarness.start({ module: 'servers/memory/main', name: 'memory', config: config as Record<string, unknown>, peers: [log.peer], ram, start: 'restart', generation: 2 });
    const memory = harness.client(memoryInterface);
    expect(await log.waitFor(/^reattached to the state at /)).toMatch(/ 1 grants, 1 address spaces$/);
    expect(await memory.usage({})).toEqual(usageBefore);
    expect(await memory.checkAccess({ accessor: 'virtio-blk', pa: held[2]!.base, length: 4 * PAGE_SIZE, access: 'read' })).toEqual({ allowed: true });
    expect(await memory.translate({ space, va: 0x4000_0000, access: 'read', onBehalfOf: 'virtio-blk' })).toEqual({ pa: held[0]!.base });
    expect(await memory.translate({ space, va: 0x1000_0000, access: 'read', onBehalfOf: 'virtio-blk' })).toEqual({ pa: frame });
    // Every page left goes to someone new: none of them is a page held before the crash.
    for (;;) {
      let block;
      try {
        block = await memory.allocate({ order: 0, onBehalfOf: 'virtio-net' });
      } catch (error) {
        expect(error).toBeInstanceOf(OutOfMemoryError);
        break;
      }
      const page = { base: block.pa, size: PAGE_SIZE };
      const clash = held.find((range) => overlaps(range, page)) ?? (overlaps(page, state) ? state : undefined);
      expect(clash, `page 0x${block.pa.toString(16)} handed out again`).toBeUndefined();
    }
    expect((await memory.usage({})).freePages).toBe(0);
    await memory.revoke({ grant, onBehalfOf: 'console' });
    expect((await memory.reclaim({ owner: 'virtio-blk' })).spacesDestroyed).toBe(1);
    expect(harness.crashes).toEqual([]);
  });

  it('memory server started again without state it can trust refuses to start instead of treating every page as free', async () => {
    const ram = Ram.allocate(16 * MiB);
    const state = { base: ram.base + MiB, size: memoryStateBytes(ram.base, ram.size) };
    const log = logCollector();
    // init fails and the thread ends: the kernel's restart policy decides, and nothing was served.
    await expect(ServerHarness.start({ module: 'servers/memory/main', name: 'memory', config: { state } as Record<string, unknown>, peers: [log.peer], ram, start: 'restart', generation: 2 }))
      .rejects.toThrow(/cannot reattach to the memory server's state, refusing to start with every page free: no memory server state/);
  });

  it('memory server answers malformed requests with typed errors on the reply ring and keeps serving', async () => {
    const { harness, memory } = await startMemory();
    const channel = harness.connectToServer('memory');
    const compiled = compileInterface(memoryInterface);
    const opId = (name: string) => compiled.operationsByName.get(name)!.id;
    const requests = new Ring(channel.requests);
    const replies = new Ring(channel.replies);
    const frames = [
      new Uint8Array([0xc1]), // not msgpack: dropped, nothing to answer
      pack([1, 11, opId('allocate'), { order: 'three' }]), // fails the operation's schema
      pack([1, 12, 9999, {}]), // no such operation
      pack([1, 13, opId('free'), { pa: 0x1000 }]), // valid shape, not a page of RAM
      pack([1, 14, opId('free'), { pa: 0x8000_0000 }]), // a page of RAM that is free
      pack([1, 15, opId('allocate'), {}]), // still serving
    ];
    for (const frame of frames) expect(requests.tryWrite(frame)).toBe(true);
    harness.doorbells.ring(channel.serverSlot);
    const received = new Map<number, unknown[]>();
    const deadline = Date.now() + 10_000;
    while (!received.has(15)) {
      const seen = harness.doorbells.sequence(channel.clientSlot);
      for (let frame = replies.tryRead(); frame; frame = replies.tryRead()) {
        const reply = unpack(frame) as unknown[];
        received.set(reply[1] as number, reply);
      }
      if (received.has(15)) break;
      if (Date.now() > deadline) throw new Error(`no answer to call 15 on the reply ring; received ${JSON.stringify([...received.values()])}`);
      await harness.doorbells.waitAsync(channel.clientSlot, seen, { timeoutMs: 500 });
    }
    expect([...received.keys()].sort()).toEqual([11, 12, 13, 14, 15]);
    expect(received.get(11)!.slice(0, 3)).toEqual([4, 11, 'INVALID_ARGUMENT']);
    expect(received.get(12)!.slice(0, 3)).toEqual([4, 12, 'UNKNOWN_OPERATION']);
    expect(received.get(13)!.slice(0, 3)).toEqual([4, 13, 'INVALID_ARGUMENT']);
    expect(String(received.get(13)![3])).toContain('not a page of RAM');
    expect(received.get(14)!.slice(0, 3)).toEqual([4, 14, 'DOUBLE_FREE']);
    expect(received.get(15)![0]).toBe(3);
    expect(received.get(15)![2]).toMatchObject({ order: 0, pages: 1 });
    await expect(memory.checkAccess({ pa: 0x8000_0000, length: 0, access: 'read' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(memory.map({ space: 7, va: 0, pa: 0, permissions: 'r' })).rejects.toMatchObject({ code: 'NO_SUCH_SPACE' });
    expect(harness.crashes).toEqual([]);
  });
});

/**
 * A first boot's handover over `ram`, as Linux's lib/test_kho.c makes one: scratch at the top
 * of RAM, folios of several orders filled with a pattern and preserved, then prepareHandover.
 * Returns the /chosen pointers and, for the test only, what was preserved.
 */
function buildHandover(ram: Ram) {
  const scratch = placeScratchAreas(scratchSizes(DEFAULT_SCRATCH_CONFIG, { total: MiB, belowLowLimit: MiB }), [{ start: ram.base, end: ram.end }]);
  const lowest = Math.min(...scratch.map((area) => area.addr));
  const allocator = new PageFrameAllocator(ram, [{ start: ram.base + MiB, end: lowest }]);
  const kho = KhoOutgoing.create(ram, allocator, scratch);
  const folios: { pa: number; order: number }[] = [];
  for (const [index, order] of [0, 0, 1, 3, 5, 9, 2, 0, 7].entries()) {
    const pa = allocator.allocatePages(order)!;
    ram.fill(pa, PAGE_SIZE << order, 0x40 + index);
    kho.preserver.preserveFolio(pa, order);
    folios.push({ pa, order });
  }
  const pages = allocator.allocatePages(3)!;
  kho.preserver.preservePages(pages, 5);
  const preserved: { base: number; size: number }[] = [];
  kho.tree.walk((pa, order) => void preserved.push({ base: pa, size: PAGE_SIZE << order }));
  const treePages: number[] = [];
  kho.tree.forEachPage((pa) => void treePages.push(pa));
  const { pointers } = kho.prepareHandover();
  return { pointers, folios, preserved, treePages, scratch: scratch.map((area) => ({ base: area.addr, size: area.size })) };
}

describe('memory server on a KHO boot', () => {
  it('memory server reserves every preserved block before serving: no allocation ever returns a preserved page', async () => {
    const ram = Ram.allocate(16 * MiB);
    const handover = buildHandover(ram);
    const kernelImage = { base: ram.base, size: MiB, purpose: 'kernel image' };
    const { memory, log } = await startMemory({ ...asKernel, reserved: [kernelImage], scratch: handover.scratch, handover: handover.pointers }, ram);
    const revived = await log.waitFor(/^KHO handover: /);
    expect(revived).toMatch(new RegExp(`^KHO handover: ${handover.preserved.length} preserved blocks \\(.*\\) reserved for kho, with the scratch array and ${handover.treePages.length} radix tree pages`));

    const forbidden = [
      ...handover.preserved,
      ...handover.treePages.map((pa) => ({ base: pa, size: PAGE_SIZE })),
      { base: handover.pointers.scratchPa, size: handover.pointers.scratchSize },
      kernelImage,
    ];
    const allocated: { base: number; size: number }[] = [];
    for (let order = MEMORY_MAX_ORDER; order >= 0; order--) {
      for (;;) {
        try {
          const block = await memory.allocate({ order, zeroed: true, onBehalfOf: 'vfs' });
          allocated.push({ base: block.pa, size: block.pages * PAGE_SIZE });
        } catch (error) {
          expect(error).toBeInstanceOf(OutOfMemoryError);
          break;
        }
      }
    }
    const clash = allocated.find((block) => forbidden.some((range) => overlaps(block, range)));
    expect(clash).toBeUndefined();
    const usage = await memory.usage({});
    expect(usage.freePages).toBe(0);
    expect(usage.reservedPages).toBe(usage.owners.find((row) => row.name === 'kho')?.pages);
    const preservedPages = handover.preserved.reduce((sum, block) => sum + block.size / PAGE_SIZE, 0);
    expect(usage.totalPages).toBe(16 * MiB / PAGE_SIZE - MiB / PAGE_SIZE);
    expect(allocated.reduce((sum, block) => sum + block.size / PAGE_SIZE, 0)).toBe(usage.totalPages - usage.reservedPages);
    expect(usage.reservedPages).toBe(preservedPages + handover.treePages.length + 1);
    // Every preserved folio still holds what the first boot wrote.
    handover.folios.forEach(({ pa, order }, index) => {
      expect(ram.read(pa, PAGE_SIZE << order).every((byte) => byte === 0x40 + index)).toBe(true);
    });
    // Reclaiming the server that took everything else leaves the preserved blocks alone.
    expect((await memory.reclaim({ owner: 'vfs' })).pagesFreed).toBe(usage.totalPages - usage.reservedPages);
    const { text } = await memory.report({});
    expect(text).toMatch(/reserved {2}KHO preserved$/m);
    expect(text).toMatch(/reserved {2}KHO scratch array$/m);
    expect(text).toMatch(/reserved {2}KHO incoming radix tree$/m);
    expect(text).toContain(revived);
  });

  it('memory server on a KHO boot with the scratch areas reserved counts the scratch array as already out of the allocator', async () => {
    const ram = Ram.allocate(16 * MiB);
    const handover = buildHandover(ram);
    const reserved = [{ base: ram.base, size: MiB, purpose: 'kernel image' }, ...handover.scratch.map((area, index) => ({ ...area, purpose: `KHO scratch ${index}` }))];
    const { memory, log } = await startMemory({ reserved, handover: handover.pointers, preservedOwners: ['kho-preserved', 'kho'] }, ram);
    expect(await log.waitFor(/^KHO handover: /)).toMatch(/reserved for kho-preserved, .*\(1 page was already out of it\)$/);
    const usage = await memory.usage({});
    const preservedPages = handover.preserved.reduce((sum, block) => sum + block.size / PAGE_SIZE, 0);
    expect(usage.owners).toContainEqual({ name: 'kho-preserved', pages: preservedPages + handover.treePages.length });
    const scratchBytes = handover.scratch.reduce((sum, area) => sum + area.size, 0);
    expect(usage.totalPages).toBe((15 * MiB - scratchBytes) / PAGE_SIZE);
  });

  it.each([
    ['a corrupt FDT', (ram: Ram, pointers: HandoverPointers) => { ram.writeU32(pointers.fdtPa, 0); return pointers; }, /handover FDT \(0x[0-9a-f]+\) is invalid/],
    ['pointers outside RAM', (_ram: Ram, pointers: HandoverPointers) => ({ ...pointers, fdtPa: 0x1000 }), /failed to map FDT/],
    ['a scratch array outside RAM', (_ram: Ram, pointers: HandoverPointers) => ({ ...pointers, scratchSize: 64 * MiB }), /scratch array .* is not inside RAM/],
  ])('memory server with %s disables KHO revival with the reason and still serves', async (_what, corrupt, reason) => {
    const ram = Ram.allocate(16 * MiB);
    const handover = buildHandover(ram);
    const pointers = corrupt(ram, handover.pointers);
    const { memory, log, harness } = await startMemory({ scratch: handover.scratch, handover: pointers }, ram);
    expect(await log.waitFor(/^disabling KHO revival: /)).toMatch(reason);
    const usage = await memory.usage({});
    expect(usage.reservedPages).toBe(0);
    expect(usage.freePages).toBe(16 * MiB / PAGE_SIZE);
    expect((await memory.allocate({ order: 5 })).pages).toBe(32);
    expect((await memory.report({})).text).toMatch(/^KHO handover: revival disabled: /m);
    expect(harness.crashes).toEqual([]);
  });
});
