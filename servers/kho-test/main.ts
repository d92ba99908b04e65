// kho-test: baton's lib/test_kho.c. On a fresh boot it preserves random folios of random
// orders filled with random bytes, lists them (pa | order) in a vmalloc-preserved array,
// and registers a sub-FDT "kho_test" {compatible "kho-test-v1", magic, data {nr_folios,
// folios_info, csum}}. After a kexec it restores every folio with its order, recomputes
// the checksum and logs "KHO restore succeeded" or "KHO restore failed: why".
//
// Boot it with `npm start -- --manifest kho-test`, then `kexec`, then `dmesg`. Boot
// arguments kho-test.maximumBytes=N and kho-test.maximumOrder=N size the test;
// kho-test.verify=0 leaves the preserved folios unverified (for the kexec benchmark).

import { PAGE_SIZE } from '../../hal/address.js';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { encodeFdt } from '../../hal/fdt/encode.js';
import { findNode, getProperty, node } from '../../hal/fdt/tree.js';
import { fdtRead, fdtValue } from '../../hal/fdt/values.js';
import { khoInterface } from '../../ipc/interfaces/kho.js';
import { defineServer, type ServerContext } from '../../microkernel/userlib/server.js';
import { Type, type Static } from '../../ipc/typebox.js';

const MAGIC = 0x4b484f21;
const COMPATIBLE = 'kho-test-v1';
const SUBTREE = 'kho_test';
/** Largest folio order preserved (config maximumOrder; Linux's test uses up to MAX_PAGE_ORDER). */
const DEFAULT_MAXIMUM_ORDER = 4;

/** kho-test's config (its manifest.json; kho-test.NAME=VALUE on the command line). */
const khoTestConfig = Type.Object({
  /** Bytes of random folios to preserve. */
  maximumBytes: Type.Integer({ minimum: 4096, maximum: 1024 * 1024 * 1024, default: 2 * 1024 * 1024 }),
  /** Largest folio order. */
  maximumOrder: Type.Integer({ minimum: 0, maximum: 10, default: DEFAULT_MAXIMUM_ORDER }),
  /** Verify the restored folios after a kexec (false for the kexec benchmark, which measures the handover). */
  verify: Type.Boolean({ default: true }),
}, { additionalProperties: false });
type KhoTestContext = ServerContext<Static<typeof khoTestConfig>>;

export default defineServer({
  config: khoTestConfig,
  async init(context) {
    const kho = context.connect(khoInterface);
    if (context.start === 'handover') {
      const found = await kho.retrieveSubtree({ name: SUBTREE, from: 'incoming' }).catch(() => undefined);
      if (found) {
        // As test_kho's late initcall: the system does not wait for the verification.
        if (!context.config.verify) return; // benchmarks measure the handover, not this test's checksum
        void restore(context, found.pa).then(
          (verdict) => (verdict === undefined ? context.log.info('KHO restore succeeded') : context.log.error(`KHO restore failed: ${verdict}`)),
          (error: unknown) => context.log.error(`KHO restore failed: ${(error as Error).message}`),
        );
        return;
      }
    }
    const existing = await kho.retrieveSubtree({ name: SUBTREE, from: 'outgoing' }).catch(() => undefined);
    if (existing) return; // preserved earlier in this boot (this is a restart)
    await preserve(context, context.config.maximumBytes, context.config.maximumOrder);
  },
});

async function preserve(context: KhoTestContext, maximumBytes: number, maximumOrder: number): Promise<void> {
  const kho = context.connect(khoInterface);
  const folios: { pa: number; order: number }[] = [];
  let checksum = 0;
  let total = 0;
  while (total < maximumBytes) {
    const order = Math.floor(Math.random() * (maximumOrder + 1));
    const size = PAGE_SIZE << order;
    const pa = await context.allocateDma(size, size);
    const bytes = context.ram.subarray(pa, size);
    crypto.getRandomValues(bytes.subarray(0, Math.min(size, 65536)));
    for (let offset = 65536; offset < size; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
    checksum = sum(checksum, bytes);
    await kho.preserveFolio({ pa, order });
    folios.push({ pa, order });
    total += size;
  }
  // The folio list: one u64 (pa | order) per folio, in pages preserved as a vmalloc area.
  const listPages = Math.ceil((folios.length * 8) / PAGE_SIZE);
  const blocks: number[] = [];
  for (let page = 0; page < listPages; page++) blocks.push(await context.allocateDma(PAGE_SIZE, PAGE_SIZE));
  folios.forEach((folio, index) => {
    const at = blocks[Math.floor((index * 8) / PAGE_SIZE)]! + ((index * 8) % PAGE_SIZE);
    context.ram.writeU64Number(at, folio.pa + folio.order);
  });
  const { descriptor } = await kho.preserveVmalloc({ blocks, order: 0 });
  const tree = encodeFdt({
    root: node('', { compatible: fdtValue.string(COMPATIBLE), magic: fdtValue.u32(MAGIC) }, [
      node('data', { nr_folios: fdtValue.u32(folios.length), folios_info: descriptor, csum: fdtValue.u32(checksum) }),
    ]),
    reservations: [],
    bootCpuId: 0,
  });
  const { pa } = await kho.allocPreserve({ size: tree.length });
  context.ram.write(pa, tree);
  await kho.addSubtree({ name: SUBTREE, pa });
  context.log.info({ folios: folios.length, bytes: total, checksum }, 'KHO test: folios preserved');
}

/** Returns undefined when everything came back intact, else what went wrong. */
async function restore(context: KhoTestContext, pa: number): Promise<string | undefined> {
  const kho = context.connect(khoInterface);
  const header = context.ram.read(pa, 40);
  const size = new DataView(header.buffer).getUint32(4, false);
  const tree = decodeFdt(context.ram.read(pa, size));
  const compatible = getProperty(tree.root, 'compatible');
  const magic = getProperty(tree.root, 'magic');
  if (!compatible || fdtRead.string(compatible) !== COMPATIBLE) return 'wrong compatible';
  if (!magic || fdtRead.u32(magic) !== MAGIC) return 'wrong magic';
  const data = findNode(tree.root, '/data');
  const count = data && getProperty(data, 'nr_folios');
  const info = data && getProperty(data, 'folios_info');
  const csum = data && getProperty(data, 'csum');
  if (!count || !info || !csum) return 'data node incomplete';
  const { blocks } = await kho.restoreVmalloc({ descriptor: info });
  let checksum = 0;
  const folios = fdtRead.u32(count);
  for (let index = 0; index < folios; index++) {
    const entry = context.ram.readU64Number(blocks[Math.floor((index * 8) / PAGE_SIZE)]! + ((index * 8) % PAGE_SIZE));
    const order = entry % PAGE_SIZE;
    const folio = entry - order;
    const restored = await kho.restoreFolio({ pa: folio });
    if (restored.order !== order) return `folio ${index} came back with order ${restored.order}, not ${order}`;
    checksum = sum(checksum, context.ram.subarray(folio, PAGE_SIZE << order));
  }
  if (checksum !== fdtRead.u32(csum)) return `checksum 0x${checksum.toString(16)} differs from 0x${fdtRead.u32(csum).toString(16)}`;
  context.log.info({ folios }, 'KHO test: every folio restored with its order and contents');
  return undefined;
}

/** A running 32-bit sum of 32-bit words, as an IP-style checksum over the folios. */
function sum(start: number, bytes: Uint8Array): number {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  let total = start;
  for (let index = 0; index < words.length; index++) total = (total + words[index]!) >>> 0;
  return total;
}

