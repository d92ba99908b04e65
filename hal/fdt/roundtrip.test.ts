// Round trips over random trees: our encoder and decoder, dtc reading and rewriting our
// blobs, and dtc compiling our DTS text.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { decodeFdt } from './decode.js';
import { encodeFdt } from './encode.js';
import { toDts } from './dts.js';
import { hasDtc, runDtc } from './dtc.js';
import type { Fdt, FdtNode, FdtProperty } from './tree.js';

const NODE_CHARACTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+-';
const PROPERTY_CHARACTERS = NODE_CHARACTERS + '#?*';

const nodeName = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...NODE_CHARACTERS), minLength: 1, maxLength: 10 }),
    fc.option(fc.string({ unit: fc.constantFrom(...'0123456789abcdef,'), minLength: 1, maxLength: 9 }), { nil: undefined }),
  )
  .map(([base, unit]) => (unit === undefined ? base : `${base}@${unit}`));

// Prefixed with "p" so that no name means something to dtc (name, phandle, linux,phandle).
const propertyName = fc.string({ unit: fc.constantFrom(...PROPERTY_CHARACTERS), minLength: 0, maxLength: 10 }).map((tail) => `p${tail}`);

const propertyValue = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.array(fc.string({ unit: fc.constantFrom(...'abc xyz,./\\"\t\n'), maxLength: 8 }), { minLength: 1, maxLength: 3 }).map((list) => new TextEncoder().encode(list.map((item) => item + '\0').join(''))),
  fc.array(fc.nat({ max: 0xffff_ffff }), { maxLength: 4 }).map((cells) => {
    const value = new Uint8Array(cells.length * 4);
    cells.forEach((cell, index) => new DataView(value.buffer).setUint32(index * 4, cell));
    return value;
  }),
);

const properties: fc.Arbitrary<FdtProperty[]> = fc.uniqueArray(fc.record({ name: propertyName, value: propertyValue }), {
  selector: (property) => property.name,
  maxLength: 5,
});

function nodeArbitrary(name: fc.Arbitrary<string>, depth: number): fc.Arbitrary<FdtNode> {
  const children: fc.Arbitrary<FdtNode[]> =
    depth === 0 ? fc.constant([]) : fc.uniqueArray(nodeArbitrary(nodeName, depth - 1), { selector: (child) => child.name, maxLength: 3 });
  return fc.record({ name, properties, children });
}

const reservation = fc.record({ address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), size: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }) });

const tree: fc.Arbitrary<Fdt> = fc.record({
  root: nodeArbitrary(fc.constant(''), 3),
  reservations: fc.array(reservation, { maxLength: 3 }),
  bootCpuId: fc.nat({ max: 0xffff_ffff }),
});

describe('round trips', () => {
  it('decodeFdt(encodeFdt(tree)) equals the tree', () => {
    fc.assert(
      fc.property(tree, (original) => {
        expect(decodeFdt(encodeFdt(original))).toEqual(original);
      }),
      { numRuns: 300 },
    );
  });

  it('encodeFdt with spare capacity still decodes to the same tree', () => {
    fc.assert(
      fc.property(tree, fc.nat({ max: 512 }), (original, spare) => {
        const size = encodeFdt(original).length + spare;
        expect(decodeFdt(encodeFdt(original, { capacity: size }))).toEqual(original);
      }),
      { numRuns: 100 },
    );
  });

  it.skipIf(!hasDtc())('dtc reads our blobs and rewrites them into blobs that decode to the same tree', () => {
    fc.assert(
      fc.property(tree, (original) => {
        const result = runDtc('dtb', 'dtb', encodeFdt(original), ['-q']);
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(decodeFdt(new Uint8Array(result.stdout))).toEqual(original);
      }),
      { numRuns: 40 },
    );
  });

  it.skipIf(!hasDtc())('dtc compiles toDts text back into the same tree', () => {
    fc.assert(
      fc.property(tree, (original) => {
        // DTS has no boot cpu id; dtc takes it as an option.
        const result = runDtc('dts', 'dtb', toDts(original), ['-q', '-b', String(original.bootCpuId)]);
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(decodeFdt(new Uint8Array(result.stdout))).toEqual(original);
      }),
      { numRuns: 40 },
    );
  });
});
