import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { decodeFdt, readFdtHeader } from './decode.js';
import { encodeFdt } from './encode.js';
import { dtcCompile, dtcDecompile, hasDtc } from './dtc.js';
import { FdtError, findNode, getProperty, node, type Fdt } from './tree.js';
import { fdtRead, fdtValue } from './values.js';

const { u32, u64, string, strings, empty } = fdtValue;

const SOURCE = `/dts-v1/;
/memreserve/ 0x80000000 0x1000;
/memreserve/ 0x100000000 0x200000;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "baton,board", "riscv-virtio";
	model = "dtc compiled";
	chosen {
		bootargs = "console=hvc0 quiet";
		nopme = <0x12345678>;
	};
	gone {
	};
	memory@80000000 {
		device_type = "memory";
		reg = <0x0 0x80000000 0x0 0x8000000>;
	};
	soc {
		#address-cells = <2>;
		#size-cells = <2>;
		compatible = "simple-bus";
		ranges;
		bytes@1000 { reg = <0 0x1000 0 0x10>; data = [de ad be ef 01]; flag; };
	};
};
`;

/** The tree SOURCE describes, built by hand. */
function expectedTree(): Fdt {
  return {
    root: node('', { '#address-cells': u32(2), '#size-cells': u32(2), compatible: strings(['baton,board', 'riscv-virtio']), model: string('dtc compiled') }, [
      node('chosen', { bootargs: string('console=hvc0 quiet'), nopme: u32(0x1234_5678) }),
      node('gone'),
      node('memory@80000000', { device_type: string('memory'), reg: u64(0x8000_0000, 0x800_0000) }),
      node('soc', { '#address-cells': u32(2), '#size-cells': u32(2), compatible: string('simple-bus'), ranges: empty() }, [
        node('bytes@1000', { reg: u64(0x1000, 0x10), data: new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01]), flag: empty() }),
      ]),
    ]),
    reservations: [
      { address: 0x8000_0000n, size: 0x1000n },
      { address: 0x1_0000_0000n, size: 0x20_0000n },
    ],
    bootCpuId: 0,
  };
}

/** A valid blob built without dtc, for the malformed-input tests. */
function validBlob(): Uint8Array {
  return encodeFdt(expectedTree());
}

function setWord(blob: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = blob.slice();
  new DataView(copy.buffer).setUint32(offset, value);
  return copy;
}

/** Overwrites every occurrence of `pattern` (whole words) with FDT_NOP tokens, as libfdt's fdt_nop_property/fdt_nop_node do. */
function replaceWithNops(blob: Uint8Array, pattern: number[]): Uint8Array {
  const copy = blob.slice();
  const needle = Buffer.from(pattern);
  const at = Buffer.from(copy).indexOf(needle);
  expect(at).toBeGreaterThan(0);
  for (let offset = at; offset < at + pattern.length; offset += 4) new DataView(copy.buffer).setUint32(offset, 4);
  return copy;
}

function expectFdtError(bytes: Uint8Array, message?: RegExp): void {
  let caught: unknown;
  try {
    decodeFdt(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FdtError);
  expect((caught as FdtError).code).toBe('FDT_INVALID');
  if (message) expect((caught as FdtError).message).toMatch(message);
}

/** decodeFdt either returns a tree or throws FdtError. */
function decodesOrFdtError(bytes: Uint8Array): boolean {
  try {
    decodeFdt(bytes);
    return true;
  } catch (error) {
    if (error instanceof FdtError) return true;
    throw error;
  }
}

describe('decodeFdt of dtc output', () => {
  it.skipIf(!hasDtc())('decodeFdt reads a dtc-compiled blob into the tree its source describes', () => {
    expect(decodeFdt(dtcCompile(SOURCE))).toEqual(expectedTree());
  });

  it.skipIf(!hasDtc())('decodeFdt accepts dtc padding, spare reservation slots and a boot cpu id', () => {
    const blob = dtcCompile(SOURCE, ['-p', '100', '-R', '3', '-b', '2']);
    expect(readFdtHeader(blob).totalSize).toBe(blob.length);
    expect(decodeFdt(blob)).toEqual({ ...expectedTree(), bootCpuId: 2 });
  });

  it.skipIf(!hasDtc())('decodeFdt skips FDT_NOP tokens left by a removed property and a removed node', () => {
    const compiled = dtcCompile(SOURCE);
    const strings = readFdtHeader(compiled);
    const nameOffset = Buffer.from(compiled.subarray(strings.offDtStrings)).indexOf('nopme\0');
    let blob = replaceWithNops(compiled, [...u32(3, 4, nameOffset, 0x1234_5678)]);
    blob = replaceWithNops(blob, [...u32(1), ...new TextEncoder().encode('gone'), 0, 0, 0, 0, ...u32(2)]);
    const tree = decodeFdt(blob);
    expect(getProperty(findNode(tree.root, '/chosen')!, 'nopme')).toBeUndefined();
    expect(findNode(tree.root, '/gone')).toBeUndefined();
    expect(fdtRead.string(getProperty(findNode(tree.root, '/chosen')!, 'bootargs')!)).toBe('console=hvc0 quiet');
    expect(dtcDecompile(blob).status).toBe(0); // dtc agrees the patched blob is valid
  });

  it('decodeFdt ignores bytes after totalsize and does not alias its input', () => {
    const blob = validBlob();
    const longer = new Uint8Array(blob.length + 64).fill(0xff);
    longer.set(blob);
    const tree = decodeFdt(longer);
    expect(tree).toEqual(expectedTree());
    longer.fill(0);
    expect(tree).toEqual(expectedTree());
  });

  it('decodeFdt reads a blob inside shared memory at an offset, as placed in RAM', () => {
    const blob = validBlob();
    const ram = new Uint8Array(new SharedArrayBuffer(blob.length + 4096));
    ram.set(blob, 4096);
    const tree = decodeFdt(ram.subarray(4096));
    expect(tree).toEqual(expectedTree());
    expect(getProperty(tree.root, 'model')!.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  it('readFdtHeader returns the ten header fields', () => {
    const blob = validBlob();
    const header = readFdtHeader(blob);
    expect(header).toEqual({
      magic: 0xd00dfeed,
      totalSize: blob.length,
      offDtStruct: 40 + 3 * 16,
      offDtStrings: header.offDtStruct + header.sizeDtStruct,
      offMemRsvmap: 40,
      version: 17,
      lastCompVersion: 16,
      bootCpuId: 0,
      sizeDtStrings: header.sizeDtStrings,
      sizeDtStruct: header.sizeDtStruct,
    });
    expect(() => readFdtHeader(blob.subarray(0, 39))).toThrow(FdtError);
    expect(() => readFdtHeader(setWord(blob, 0, 0xedfe0dd0))).toThrow(/bad magic 0xedfe0dd0/);
  });
});

describe('decodeFdt of malformed input', () => {
  const blob = validBlob();
  const header = readFdtHeader(blob);

  it('decodeFdt rejects truncated blobs', () => {
    for (let length = 0; length < blob.length; length++) expectFdtError(blob.subarray(0, length));
    expectFdtError(blob.subarray(0, 20), /truncated header/);
    expectFdtError(blob.subarray(0, blob.length - 1), /truncated blob/);
  });

  it('decodeFdt rejects a bad magic and unsupported versions', () => {
    expectFdtError(setWord(blob, 0, 0), /bad magic/);
    expectFdtError(setWord(blob, 20, 16), /unsupported version 16/);
    expectFdtError(setWord(blob, 24, 18), /last_comp_version 18/);
    expectFdtError(setWord(blob, 24, 2), /last_comp_version 2/);
    expect(decodeFdt(setWord(setWord(blob, 20, 18), 24, 17))).toEqual(expectedTree()); // newer but compatible
  });

  it('decodeFdt rejects blocks outside totalsize, inside the header or misaligned', () => {
    expectFdtError(setWord(blob, 4, 39), /smaller than the header/);
    expectFdtError(setWord(blob, 8, blob.length), /structure block/);
    expectFdtError(setWord(blob, 8, 0), /structure block offset 0 lies inside the header/);
    expectFdtError(setWord(blob, 8, header.offDtStruct + 2), /not 4-byte aligned/);
    expectFdtError(setWord(blob, 36, header.sizeDtStruct + header.sizeDtStrings + 4), /structure block .* extends past totalsize/);
    expectFdtError(setWord(blob, 36, header.sizeDtStruct - 2), /not a multiple of 4/);
    expectFdtError(setWord(blob, 12, blob.length), /strings block/);
    expectFdtError(setWord(blob, 32, 0xffff_ffff), /strings block/);
    expectFdtError(setWord(blob, 16, 44), /not 8-byte aligned/);
    expectFdtError(setWord(blob, 16, 0xffff_fff0), /memory reservation block/);
  });

  it('decodeFdt rejects a reservation block without a terminating entry', () => {
    const noTerminator = blob.slice();
    noTerminator.fill(0xee, header.offMemRsvmap, blob.length);
    expectFdtError(noTerminator, /terminating zero entry/);
  });

  it('decodeFdt rejects broken structure tokens, names and string offsets', () => {
    const struct = header.offDtStruct;
    expectFdtError(setWord(blob, struct, 2), /must start with BEGIN_NODE/);
    expectFdtError(setWord(blob, struct + 4, 0x2f000000), /root node must have an empty name/);
    expectFdtError(setWord(blob, struct + 8, 0x7), /unknown token 0x7/);
    expectFdtError(setWord(blob, struct + 12, 0x1000), /runs past the structure block/); // property length
    expectFdtError(setWord(blob, struct + 16, header.sizeDtStrings), /outside the strings block/); // name offset
    expectFdtError(setWord(blob, struct + 8, 9), /END token .* inside an unclosed node/);
    expectFdtError(setWord(blob, header.offDtStruct + header.sizeDtStruct - 4, 4), /ends inside a token/);
    expectFdtError(setWord(blob, header.offDtStruct + header.sizeDtStruct - 4, 2), /expected END after the root node/);
    const unterminatedStrings = blob.slice();
    unterminatedStrings[blob.length - 1] = 0x41;
    expectFdtError(unterminatedStrings, /not NUL-terminated/);
    const emptyName = setWord(blob, struct + 16, blob.length - header.offDtStrings - 1);
    expectFdtError(emptyName, /empty name/);
  });

  it('decodeFdt rejects a property after a subnode and an unterminated node name', () => {
    const tree: Fdt = { root: node('', {}, [node('a'), node('b', { x: u32(1) })]), reservations: [], bootCpuId: 0 };
    const encoded = encodeFdt(tree);
    const struct = readFdtHeader(encoded).offDtStruct;
    // Words: BEGIN_NODE "" | BEGIN_NODE "a" | END_NODE | BEGIN_NODE "b" | PROP x ... Hiding "b"'s
    // BEGIN_NODE and name behind NOPs leaves x in the root after subnode a.
    expectFdtError(setWord(setWord(encoded, struct + 20, 4), struct + 24, 4), /property x at offset \d+ follows a subnode/);
    const unterminated = encoded.slice();
    unterminated.fill(0x61, struct + 12, encoded.length);
    expectFdtError(unterminated, /node name at offset \d+ is not NUL-terminated/);
  });

  it('decodeFdt gives FdtError and nothing else for random mutations of a valid blob', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: blob.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), (changes) => {
        const mutated = blob.slice();
        for (const [index, value] of changes) mutated[index] = value;
        return decodesOrFdtError(mutated);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeFdt gives FdtError and nothing else for random header fields and random bodies', () => {
    fc.assert(
      fc.property(fc.nat({ max: 9 }), fc.nat({ max: 0xffff_ffff }), (field, value) => decodesOrFdtError(setWord(blob, field * 4, value))),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat({ max: 300 }), (body, cut) => {
        const random = new Uint8Array(Math.max(40, body.length));
        random.set(body.subarray(0, random.length));
        random.set(blob.subarray(0, 40)); // a plausible header over random content
        return decodesOrFdtError(random) && decodesOrFdtError(blob.subarray(0, Math.min(cut, blob.length)));
      }),
      { numRuns: 1000 },
    );
  });

  it('decodeFdt survives deep nesting without a stack overflow', () => {
    const tree = decodeFdt(deepChainBlob(20_000));
    let depth = 0;
    for (let current = tree.root; current.children.length > 0; current = current.children[0]!) depth++;
    expect(depth).toBe(20_000);
  });
});

/** A blob whose root holds a chain of `depth` nested nodes named "n", written word by word. */
function deepChainBlob(depth: number): Uint8Array {
  const structSize = 8 + depth * 8 + (depth + 1) * 4 + 4;
  const blob = new Uint8Array(56 + structSize);
  const view = new DataView(blob.buffer);
  [0xd00dfeed, blob.length, 56, 56 + structSize, 40, 17, 16, 0, 0, structSize].forEach((value, index) => view.setUint32(index * 4, value));
  let at = 56;
  view.setUint32(at, 1); // root BEGIN_NODE, name ""
  at += 8;
  for (let index = 0; index < depth; index++, at += 8) {
    view.setUint32(at, 1);
    blob[at + 4] = 0x6e; // "n", NUL-padded
  }
  for (let index = 0; index <= depth; index++, at += 4) view.setUint32(at, 2);
  view.setUint32(at, 9);
  return blob;
}
