import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { getProperty } from '../../hal/fdt/tree.js';
import { fdtRead } from '../../hal/fdt/values.js';
import { dtcDecompile, hasDtc } from '../../hal/fdt/dtc.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoOutgoing } from './outgoing.js';
import { KhoOutgoingFdt } from './kho_fdt.js';
import { isKhoError } from './errors.js';

const MiB = 2 ** 20;

function setup() {
  const ram = Ram.allocate(32 * MiB);
  const allocator = new PageFrameAllocator(ram, [{ start: ram.base, end: ram.base + 30 * MiB }]);
  const outgoing = KhoOutgoing.create(ram, allocator, [{ addr: ram.base + 30 * MiB, size: 2 * MiB }]);
  return { ram, allocator, outgoing };
}

describe('KhoOutgoingFdt', () => {
  it('KhoOutgoingFdt.create writes compatible "kho-v2" and the tree root as 8 raw LE bytes in a preserved page', () => {
    const { ram, outgoing } = setup();
    const fdt = decodeFdt(ram.read(outgoing.fdt.pa, 4096));
    expect(fdtRead.string(getProperty(fdt.root, 'compatible')!)).toBe('kho-v2');
    const map = getProperty(fdt.root, 'preserved-memory-map')!;
    expect(map).toEqual(new Uint8Array(new BigUint64Array([BigInt(outgoing.tree.rootPa)]).buffer));
    expect(outgoing.preserver.isPreserved(outgoing.fdt.pa, 0)).toBe(true);
    expect(outgoing.fdt.treeRootPa).toBe(outgoing.tree.rootPa);
    // Packed: totalsize is what is used, the rest of the page is zero.
    const totalSize = new DataView(ram.buffer, ram.offset(outgoing.fdt.pa), 8).getUint32(4);
    expect(outgoing.fdt.bytes()).toHaveLength(totalSize);
    expect(ram.read(outgoing.fdt.pa + totalSize, 4096 - totalSize).every((byte) => byte === 0)).toBe(true);
  });

  it('KhoOutgoingFdt.addSubtree adds a child with preserved-data and refuses a duplicate name with EEXIST', () => {
    const { outgoing } = setup();
    outgoing.fdt.addSubtree('LUO', 0x8020_0000);
    outgoing.fdt.addSubtree('kho_test', 0x8030_0000);
    expect(outgoing.fdt.subtrees()).toEqual([{ name: 'LUO', pa: 0x8020_0000 }, { name: 'kho_test', pa: 0x8030_0000 }]);
    let error: unknown;
    try { outgoing.fdt.addSubtree('LUO', 0x8040_0000); } catch (caught) { error = caught; }
    expect(isKhoError(error, 'EEXIST')).toBe(true);
  });

  it('KhoOutgoingFdt.addSubtree rejects names the FDT format refuses with EINVAL and a full page with ENOMEM', () => {
    const { outgoing } = setup();
    for (const bad of ['', 'a/b', 'sp ace']) expect(() => outgoing.fdt.addSubtree(bad, 0x8020_0000), bad).toThrow(/EINVAL/);
    let added = 0;
    expect(() => {
      for (;;) outgoing.fdt.addSubtree(`client-with-a-long-name-${added++}`, 0x8020_0000 + added * 4096);
    }).toThrow(/ENOMEM/);
    expect(outgoing.fdt.subtrees()).toHaveLength(added - 1);
  });

  it('KhoOutgoingFdt.removeSubtree deletes the child whose preserved-data equals the blob address', () => {
    const { outgoing } = setup();
    outgoing.fdt.addSubtree('a', 0x8020_0000);
    outgoing.fdt.addSubtree('b', 0x8030_0000);
    expect(outgoing.fdt.removeSubtree(0x8030_0000)).toBe(true);
    expect(outgoing.fdt.removeSubtree(0x8030_0000)).toBe(false);
    expect(outgoing.fdt.subtrees().map((subtree) => subtree.name)).toEqual(['a']);
    outgoing.fdt.addSubtree('b', 0x8050_0000);
  });

  it('KhoOutgoing.open reattaches to the tree and FDT of an earlier instance from the FDT address', () => {
    const { ram, allocator, outgoing } = setup();
    outgoing.preserver.preserveFolio(0x8010_0000, 3);
    outgoing.fdt.addSubtree('log', 0x8010_0000);
    const again = KhoOutgoing.open(ram, outgoing.fdt.pa, allocator, outgoing.scratchAreas);
    expect(again.tree.rootPa).toBe(outgoing.tree.rootPa);
    expect(again.preserver.isPreserved(0x8010_0000, 3)).toBe(true);
    expect(again.fdt.subtrees()).toEqual([{ name: 'log', pa: 0x8010_0000 }]);
    expect(() => KhoOutgoingFdt.open(ram, 0x8010_0000)).toThrow(/EUCLEAN/);
  });

  it.skipIf(!hasDtc())('KhoOutgoingFdt blobs decode with dtc', () => {
    const { outgoing } = setup();
    outgoing.fdt.addSubtree('kho_test', 0x8030_0000);
    const { dts, status, stderr } = dtcDecompile(outgoing.fdt.bytes());
    expect(status, stderr).toBe(0);
    expect(dts).toContain('compatible = "kho-v2";');
    expect(dts).toContain('preserved-memory-map = ');
    // 0x8030_0000 as LE bytes 00 00 30 80 00 00 00 00, printed as big-endian cells.
    expect(dts).toMatch(/kho_test \{\s*preserved-data = <0x3080 0x00>;/);
  });
});
