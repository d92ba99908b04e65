import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { encodeFdt } from '../../hal/fdt/encode.js';
import { node } from '../../hal/fdt/tree.js';
import { fdtValue } from '../../hal/fdt/values.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoOutgoing } from './outgoing.js';
import { retrieveSubtree, reviveHandover, type HandoverPointers, type Revival } from './incoming.js';
import { KHO_PAGE_MAGIC } from './restore.js';
import { isKhoError, type KhoError } from './errors.js';

const MiB = 2 ** 20;
const PAGE = 4096;
const BASE = 0x8000_0000;
const SCRATCH = { addr: BASE + 56 * MiB, size: 8 * MiB };

function firstKernel() {
  const ram = Ram.allocate(64 * MiB);
  const allocator = new PageFrameAllocator(ram, [{ start: BASE, end: SCRATCH.addr }]);
  const outgoing = KhoOutgoing.create(ram, allocator, [SCRATCH]);
  return { ram, allocator, outgoing };
}

interface NextKernel {
  revival: Revival;
  allocator: PageFrameAllocator;
  reserved: [number, number][];
}

// The next kernel: nothing of the previous one but RAM and the /chosen pointers.
function nextKernel(ram: Ram, pointers: HandoverPointers): NextKernel {
  const allocator = new PageFrameAllocator(ram, []);
  const reserved: [number, number][] = [];
  const revival = reviveHandover(ram, pointers, {
    reserve: (pa, size) => { reserved.push([pa, size]); allocator.reserve(pa, size); },
    allocator,
  });
  if (revival.revived) for (const area of revival.handover.scratchAreas) allocator.addRange({ start: area.addr, end: area.addr + area.size });
  allocator.addRange({ start: ram.base, end: ram.end });
  return { revival, allocator, reserved };
}

function handover(revival: Revival) {
  if (!revival.revived) throw new Error(`revival disabled: ${revival.reason}`);
  return revival.handover;
}

function reasonOf(revival: Revival): string {
  if (revival.revived) throw new Error('expected revival to be disabled');
  return revival.reason;
}

function rejection(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (isKhoError(error, 'EINVAL')) return (error as KhoError).data?.reason as string | undefined;
    throw error;
  }
  return undefined;
}

function writeRootFdt(ram: Ram, pa: number, properties: Record<string, Uint8Array>, children = [node('c', { 'preserved-data': fdtValue.u64Native(0x8010_0000) })]): void {
  ram.fill(pa, PAGE, 0);
  ram.write(pa, encodeFdt({ root: node('', properties, children), reservations: [], bootCpuId: 0 }));
}

describe('reviveHandover', () => {
  it('reviveHandover reserves the scratch array and every preserved block and marks head pages with KHOP + order', () => {
    const { ram, outgoing } = firstKernel();
    outgoing.preserver.preserveFolio(0x8100_0000, 9);
    outgoing.preserver.preservePages(0x8000_3000, 5);
    outgoing.fdt.addSubtree('log', 0x8100_0000);
    const { pointers } = outgoing.prepareHandover();
    const { revival, allocator, reserved } = nextKernel(ram, pointers);
    const incoming = handover(revival);
    expect(reserved[0]).toEqual([pointers.scratchPa, pointers.scratchSize]);
    expect(incoming.scratchAreas).toEqual([SCRATCH]);
    expect(incoming.blockCount).toBe(4); // order 9, order 2, order 0 (the range) and the FDT page (order 0)
    expect(incoming.blockCountsByOrder().slice(0, 10)).toEqual([2, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    expect(incoming.restorer.pagePrivate(0x8100_0000)).toBe((BigInt(KHO_PAGE_MAGIC) << 32n) | 9n);
    expect(incoming.restorer.pagePrivate(0x8100_1000)).toBe(0n);
    for (const pa of [0x8100_0000, 0x811f_f000, 0x8000_3000, 0x8000_7000, pointers.fdtPa]) expect(allocator.isFree(pa)).toBe(false);
    expect(allocator.isFree(0x8000_8000)).toBe(true);
    expect(incoming.retrieveSubtree('log')).toBe(0x8100_0000);
    expect(incoming.subtrees()).toEqual([{ name: 'log', pa: 0x8100_0000 }]);
  });

  it('reviveHandover disables revival when the FDT compatible is not "kho-v2", reserving nothing', () => {
    const { ram, outgoing } = firstKernel();
    outgoing.preserver.preserveFolio(0x8100_0000, 0);
    const { pointers } = outgoing.prepareHandover();
    writeRootFdt(ram, pointers.fdtPa, { compatible: fdtValue.string('kho-v1'), 'preserved-memory-map': fdtValue.u64Native(outgoing.tree.rootPa) });
    const { revival, reserved } = nextKernel(ram, pointers);
    expect(reasonOf(revival)).toMatch(/incompatible with 'kho-v2' \(compatible: kho-v1\)/);
    expect(reserved).toEqual([]);
  });

  it('reviveHandover disables revival for a missing, short or zero preserved-memory-map', () => {
    const { ram, outgoing } = firstKernel();
    const { pointers } = outgoing.prepareHandover();
    const compatible = fdtValue.string('kho-v2');
    writeRootFdt(ram, pointers.fdtPa, { compatible });
    expect(reasonOf(nextKernel(ram, pointers).revival)).toMatch(/failed to get preserved memory map/);
    writeRootFdt(ram, pointers.fdtPa, { compatible, 'preserved-memory-map': fdtValue.u32(outgoing.tree.rootPa) });
    expect(reasonOf(nextKernel(ram, pointers).revival)).toMatch(/not 8 bytes/);
    writeRootFdt(ram, pointers.fdtPa, { compatible, 'preserved-memory-map': fdtValue.u64Native(0) });
    expect(reasonOf(nextKernel(ram, pointers).revival)).toMatch(/is 0/);
  });

  it('reviveHandover disables revival when a tree pointer lies outside RAM', () => {
    const { ram, outgoing } = firstKernel();
    outgoing.preserver.preserveFolio(0x8100_0000, 0);
    const { pointers } = outgoing.prepareHandover();
    ram.writeU64(outgoing.tree.rootPa + 8 * 2, 0x1_0000_0000n);
    const { revival, reserved } = nextKernel(ram, pointers);
    expect(reasonOf(revival)).toMatch(/corrupt KHO radix tree.*not a page inside RAM/);
    expect(reserved).toEqual([]);
  });

  it('reviveHandover disables revival when the root pointer itself lies outside RAM', () => {
    const { ram, outgoing } = firstKernel();
    const { pointers } = outgoing.prepareHandover();
    writeRootFdt(ram, pointers.fdtPa, { compatible: fdtValue.string('kho-v2'), 'preserved-memory-map': fdtValue.u64Native(0x4000_0000) });
    expect(reasonOf(nextKernel(ram, pointers).revival)).toMatch(/root pointer 0x40000000/);
  });

  it('reviveHandover disables revival for blocks outside RAM or inside scratch', () => {
    const outside = firstKernel();
    outside.outgoing.tree.add(0x1_0000_0000, 0);
    expect(reasonOf(nextKernel(outside.ram, outside.outgoing.prepareHandover().pointers).revival)).toMatch(/not inside RAM/);
    const inScratch = firstKernel();
    inScratch.outgoing.tree.add(SCRATCH.addr + MiB, 0);
    expect(reasonOf(nextKernel(inScratch.ram, inScratch.outgoing.prepareHandover().pointers).revival)).toMatch(/overlaps scratch/);
  });

  it('reviveHandover disables revival for an FDT or scratch array that is not there', () => {
    const { ram, outgoing } = firstKernel();
    const { pointers } = outgoing.prepareHandover();
    expect(reasonOf(nextKernel(ram, { ...pointers, fdtPa: 0x1000 }).revival)).toMatch(/failed to map FDT/);
    expect(reasonOf(nextKernel(ram, { ...pointers, fdtPa: pointers.fdtPa + PAGE }).revival)).toMatch(/invalid: bad magic/);
    expect(reasonOf(nextKernel(ram, { ...pointers, scratchPa: 0x1000 }).revival)).toMatch(/scratch array/);
    expect(reasonOf(nextKernel(ram, { ...pointers, scratchSize: 8 }).revival)).toMatch(/holds no area/);
    expect(reasonOf(nextKernel(ram, { ...pointers, fdtSize: Number.NaN }).revival)).toMatch(/not non-negative integers/);
  });

  it('KhoIncoming.retrieveSubtree gives ENOENT for an unknown name and EINVAL for a bad preserved-data', () => {
    const { ram, outgoing } = firstKernel();
    const { pointers } = outgoing.prepareHandover();
    writeRootFdt(ram, pointers.fdtPa, { compatible: fdtValue.string('kho-v2'), 'preserved-memory-map': fdtValue.u64Native(outgoing.tree.rootPa) }, [
      node('short', { 'preserved-data': fdtValue.u32(1) }),
      node('none'),
    ]);
    const incoming = handover(nextKernel(ram, pointers).revival);
    const codeOf = (name: string) => { try { incoming.retrieveSubtree(name); } catch (error) { return isKhoError(error) ? error.code : 'other'; } return 'none'; };
    expect(codeOf('missing')).toBe('ENOENT');
    expect(() => retrieveSubtree(null, 'short')).toThrow(/ENOENT: not a KHO boot/);
    expect(codeOf('short')).toBe('EINVAL');
    expect(codeOf('none')).toBe('EINVAL');
    expect(incoming.subtrees()).toEqual([{ name: 'short', pa: null }, { name: 'none', pa: null }]);
  });
});

describe('KhoRestorer', () => {
  function revived() {
    const { ram, outgoing } = firstKernel();
    outgoing.preserver.preserveFolio(0x8100_0000, 2);
    outgoing.preserver.preserveFolio(0x8200_0000, 11);
    outgoing.preserver.preservePages(0x8000_3000, 13);
    const next = nextKernel(ram, outgoing.prepareHandover().pointers);
    return { ...next, restorer: handover(next.revival).restorer };
  }

  it('restoreFolio returns the preserved order once, then rejects a second restore', () => {
    const { restorer } = revived();
    expect(restorer.restoreFolio(0x8100_0000)).toBe(2);
    expect(restorer.pagePrivate(0x8100_0000)).toBe(0n);
    expect(rejection(() => restorer.restoreFolio(0x8100_0000))).toBe('already-restored');
  });

  it('restoreFolio rejects never-preserved, misaligned, outside-RAM and order > MAX_PAGE_ORDER pages', () => {
    const { restorer } = revived();
    expect(rejection(() => restorer.restoreFolio(0x8300_0000))).toBe('not-preserved');
    expect(rejection(() => restorer.restoreFolio(0x8100_1000))).toBe('not-preserved'); // a tail page
    expect(rejection(() => restorer.restoreFolio(0x8100_0800))).toBe('misaligned');
    expect(rejection(() => restorer.restoreFolio(0x4000_0000))).toBe('outside-ram');
    expect(rejection(() => restorer.restoreFolio(0x8200_0000))).toBe('order-too-large');
  });

  it('restorePages restores the same split as preservePages, all or nothing', () => {
    const { restorer } = revived();
    expect(rejection(() => restorer.restorePages(0x8000_3000, 12))).toBe('order-mismatch');
    expect(restorer.markedOrder(0x8000_3000)).toBe(0);
    restorer.restorePages(0x8000_3000, 13);
    expect(restorer.markedOrder(0x8000_8000)).toBeUndefined();
    expect(rejection(() => restorer.restorePages(0x8000_3000, 13))).toBe('already-restored');
  });

  it('restoreFree gives the folio back to the new kernel allocator', () => {
    const { restorer, allocator } = revived();
    expect(allocator.isFree(0x8100_0000)).toBe(false);
    restorer.restoreFree(0x8100_0000);
    expect(allocator.isFree(0x8100_0000)).toBe(true);
    expect(allocator.isFree(0x8100_3000)).toBe(true);
  });
});
