// Two boots over one RAM, mirroring Linux's lib/test_kho.c: the first kernel preserves
// random folios of random orders filled with random bytes, their list as a vmalloc array
// and a "kho_test" sub-FDT with a checksum; the second kernel, built from fresh objects that
// know only the /chosen pointers, restores every folio with its order and checks the sum.

import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { encodeFdt } from '../../hal/fdt/encode.js';
import { findNode, getProperty, node } from '../../hal/fdt/tree.js';
import { fdtRead, fdtValue } from '../../hal/fdt/values.js';
import { dtcDecompile, hasDtc } from '../../hal/fdt/dtc.js';
import { PageFrameAllocator } from './page_allocator.js';
import { KhoOutgoing } from './outgoing.js';
import { readFdtBlob, reviveHandover, type HandoverPointers } from './incoming.js';
import { getOrder } from './preserve.js';
import { placeScratchAreas, scratchSizes, DEFAULT_SCRATCH_CONFIG } from './scratch.js';
import { decodeVmallocDescriptor, encodeVmallocDescriptor, preserveVmalloc, restoreVmalloc, KHO_VMALLOC_ALLOC } from './vmalloc.js';
import { MAX_PAGE_ORDER } from './key.js';

const MiB = 2 ** 20;
const PAGE = 4096;
const KHO_TEST_MAGIC = 0x4b484f21; // 'KHO!'
const KHO_TEST_COMPAT = 'kho-test-v1';
const MAX_MEM = (PAGE << MAX_PAGE_ORDER) * 2; // 8 MiB

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return (value ^ (value >>> 14)) >>> 0;
  };
}

/** csum_partial: 32-bit ones' complement sum of little-endian 16-bit words (even lengths). */
function csumPartial(bytes: Uint8Array, sum: number): number {
  const words = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  let total = sum;
  for (let index = 0; index < words.length; index++) total += words[index]!;
  while (total > 0xffff_ffff) total = (total % 2 ** 32) + Math.floor(total / 2 ** 32);
  return total;
}

function u32Native(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function readU32Native(bytes: Uint8Array): number {
  expect(bytes).toHaveLength(4);
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
}

interface FirstBoot {
  pointers: HandoverPointers;
  rootFdt: Uint8Array;
  testFdt: Uint8Array;
  /** Known to the first kernel only; tests use it to corrupt data, the second boot never sees it. */
  folios: { pa: number; order: number }[];
}

function firstBoot(ram: Ram, seed: number): FirstBoot {
  // Scratch as kho_reserve_scratch sizes it: 200 % of 3 MiB reserved at boot, one node.
  const sizes = scratchSizes(DEFAULT_SCRATCH_CONFIG, { total: 3 * MiB, belowLowLimit: 3 * MiB });
  const scratch = placeScratchAreas(sizes, [{ start: ram.base, end: ram.end }]);
  const lowest = Math.min(...scratch.map((area) => area.addr));
  const allocator = new PageFrameAllocator(ram, [{ start: ram.base, end: lowest }]);
  const kho = KhoOutgoing.create(ram, allocator, scratch);
  const random = prng(seed);

  // kho_test_generate_data
  const folios: { pa: number; order: number }[] = [];
  let allocated = 0;
  let csum = 0;
  while (allocated < MAX_MEM) {
    let order = random() % (MAX_PAGE_ORDER + 1);
    if (allocated + (PAGE << order) > MAX_MEM) {
      order = getOrder(MAX_MEM - allocated);
      if (order) order--;
    }
    const size = PAGE << order;
    const pa = allocator.allocatePages(order)!;
    const words = new Uint32Array(ram.buffer, ram.offset(pa, size), size / 4);
    for (let index = 0; index < words.length; index++) words[index] = random();
    csum = csumPartial(ram.subarray(pa, size), csum);
    folios.push({ pa, order });
    allocated += size;
  }

  // kho_test_preserve: the FDT folio, then kho_test_preserve_data (vmalloc array + folios).
  const fdtSize = folios.length * 8 + PAGE;
  const fdtOrder = getOrder(fdtSize);
  const fdtPa = allocator.allocatePages(fdtOrder)!;
  kho.preserver.preserveFolio(fdtPa, fdtOrder);
  const infoPages = Array.from({ length: Math.ceil((folios.length * 8) / PAGE) }, () => allocator.allocatePages(0)!);
  const info = preserveVmalloc(kho.preserver, { blocks: infoPages, order: 0, flags: KHO_VMALLOC_ALLOC });
  folios.forEach((folio, index) => {
    const at = infoPages[Math.floor((index * 8) / PAGE)]! + ((index * 8) % PAGE);
    ram.writeU64Number(at, folio.pa + folio.order); // virt_to_phys(folio) | order
    kho.preserver.preserveFolio(folio.pa, folio.order);
  });

  // kho_test_prepare_fdt
  const testFdt = encodeFdt({
    root: node('', { compatible: fdtValue.string(KHO_TEST_COMPAT), magic: u32Native(KHO_TEST_MAGIC) }, [
      node('data', { nr_folios: u32Native(folios.length), folios_info: encodeVmallocDescriptor(info), csum: u32Native(csum) }),
    ]),
    reservations: [],
    bootCpuId: 0,
  });
  expect(testFdt.length).toBeLessThanOrEqual(PAGE << fdtOrder);
  ram.write(fdtPa, testFdt);
  kho.fdt.addSubtree('kho_test', fdtPa);

  // kexec: the scratch array, kho_poison, and the two /chosen values; nothing else survives.
  const { pointers } = kho.prepareHandover({ poison: true });
  return { pointers, rootFdt: kho.fdt.bytes(), testFdt, folios };
}

/** The second kernel's kho_test_restore; returns the log line test_kho prints. */
function secondBoot(ram: Ram, pointers: HandoverPointers): { message: string; restored: number } {
  const allocator = new PageFrameAllocator(ram, []);
  const revival = reviveHandover(ram, pointers, { reserve: (pa, size) => allocator.reserve(pa, size), allocator });
  if (!revival.revived) return { message: `disabling KHO revival: ${revival.reason}`, restored: 0 };
  const incoming = revival.handover;
  // Early allocations came from scratch only; now the rest of RAM goes to the page allocator.
  for (const area of incoming.scratchAreas) allocator.addRange({ start: area.addr, end: area.addr + area.size });
  allocator.addRange({ start: ram.base, end: ram.end });
  // The new kernel starts its own KHO (chained kexec) and scribbles over every free page.
  KhoOutgoing.create(ram, allocator, incoming.scratchAreas);
  let scribbled: number | null;
  while ((scribbled = allocator.allocatePages(0)) !== null) ram.fill(scribbled, PAGE, 0xee);

  const blob = readFdtBlob(ram, incoming.retrieveSubtree('kho_test'));
  expect(blob).not.toBeNull();
  const fdt = decodeFdt(blob!);
  if (!fdtRead.strings(getProperty(fdt.root, 'compatible')!).includes(KHO_TEST_COMPAT)) return { message: 'KHO restore failed', restored: 0 };
  if (readU32Native(getProperty(fdt.root, 'magic')!) !== KHO_TEST_MAGIC) return { message: 'KHO restore failed', restored: 0 };
  const data = findNode(fdt.root, '/data')!;
  const nrFolios = readU32Native(getProperty(data, 'nr_folios')!);
  const oldCsum = readU32Native(getProperty(data, 'csum')!);
  const area = restoreVmalloc(incoming.restorer, decodeVmallocDescriptor(getProperty(data, 'folios_info')!), (pa) => allocator.freePages(pa, 0));
  let csum = 0;
  let restored = 0;
  for (let index = 0; index < nrFolios; index++) {
    const entry = ram.readU64Number(area.blocks[Math.floor((index * 8) / PAGE)]! + ((index * 8) % PAGE));
    const order = entry % PAGE;
    const pa = entry - order;
    if (incoming.restorer.restoreFolio(pa) !== order) break;
    csum = csumPartial(ram.subarray(pa, PAGE << order), csum);
    restored++;
  }
  return { message: csum === oldCsum ? 'KHO restore succeeded' : 'KHO restore failed', restored };
}

describe('KHO two-boot handover (lib/test_kho.c)', () => {
  it('restores every random folio with its order and the same checksum after kexec', () => {
    const ram = Ram.allocate(128 * MiB);
    const first = firstBoot(ram, 0x5eed);
    expect(first.folios.length).toBeGreaterThan(1);
    const second = secondBoot(ram, first.pointers);
    expect(second.message).toBe('KHO restore succeeded');
    expect(second.restored).toBe(first.folios.length);
  });

  it('reports "KHO restore failed" when a preserved byte changed across kexec', () => {
    const ram = Ram.allocate(128 * MiB);
    const first = firstBoot(ram, 7);
    const folio = first.folios[first.folios.length >> 1]!;
    ram.writeU8(folio.pa + 100, ram.readU8(folio.pa + 100) ^ 0xff);
    expect(secondBoot(ram, first.pointers).message).toBe('KHO restore failed');
  });

  it('boots without revival when the handover FDT is not kho-v2', () => {
    const ram = Ram.allocate(128 * MiB);
    const first = firstBoot(ram, 3);
    const compatible = ram.read(first.pointers.fdtPa, PAGE);
    const at = new TextDecoder('latin1').decode(compatible).indexOf('kho-v2');
    ram.writeU8(first.pointers.fdtPa + at + 5, '1'.charCodeAt(0));
    expect(secondBoot(ram, first.pointers).message).toMatch(/^disabling KHO revival: .*incompatible with 'kho-v2'/);
  });

  it.skipIf(!hasDtc())('the root KHO FDT and the kho_test FDT decode with dtc', () => {
    const ram = Ram.allocate(128 * MiB);
    const first = firstBoot(ram, 11);
    const root = dtcDecompile(first.rootFdt);
    expect(root.status, root.stderr).toBe(0);
    expect(root.dts).toMatch(/kho_test \{\s*preserved-data = </);
    const test = dtcDecompile(first.testFdt);
    expect(test.status, test.stderr).toBe(0);
    expect(test.dts).toContain('compatible = "kho-test-v1";');
    expect(test.dts).toContain('magic = <0x214f484b>;'); // 0x4b484f21 native LE, shown as a BE cell
    expect(test.dts).toMatch(/data \{\s*nr_folios = <0x[0-9a-f]+>;\s*folios_info = /);
  });
});
