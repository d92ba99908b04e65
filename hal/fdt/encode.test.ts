import { describe, it, expect } from 'vitest';
import { encodeFdt } from './encode.js';
import { decodeFdt, readFdtHeader } from './decode.js';
import { dtcCompile, dtcDecompile, hasDtc } from './dtc.js';
import { FdtError, node, type Fdt } from './tree.js';
import { fdtValue } from './values.js';

const { u32, u64, string, strings, empty } = fdtValue;

function smallTree(): Fdt {
  return {
    root: node('', { '#address-cells': u32(2), '#size-cells': u32(2), compatible: string('baton,test'), model: string('test') }, [
      node('chosen', { bootargs: string('console=hvc0'), 'linux,kho-fdt': u64(0x8010_0000, 0x1000) }),
      node('memory@80000000', { device_type: string('memory'), reg: u64(0x8000_0000, 0x800_0000) }),
      node('soc', { '#address-cells': u32(2), '#size-cells': u32(2), compatible: strings(['simple-bus']), ranges: empty() }, [
        node('serial@10000000', { compatible: string('ns16550a'), reg: u64(0x1000_0000, 0x100) }),
      ]),
    ]),
    reservations: [{ address: 0x8000_0000n, size: 0x1000n }],
    bootCpuId: 0,
  };
}

describe('encodeFdt', () => {
  it('encodeFdt lays out a minimal blob byte for byte', () => {
    const blob = encodeFdt({ root: node('', { a: u32(1) }), reservations: [], bootCpuId: 0 });
    const words = (...values: number[]) => Array.from(u32(...values));
    const expected = [
      ...words(0xd00dfeed, 90, 56, 88, 40, 17, 16, 0, 2, 32), // header
      ...words(0, 0, 0, 0), // reservation block: the terminating zero entry
      ...words(1, 0, 3, 4, 0, 1, 2, 9), // BEGIN_NODE "", PROP len 4 nameoff 0 <1>, END_NODE, END
      0x61, 0, // strings: "a"
    ];
    expect(Array.from(blob)).toEqual(expected);
  });

  it('encodeFdt writes the header, 8-aligned reservations and a deduplicated strings block', () => {
    const blob = encodeFdt(smallTree());
    const header = readFdtHeader(blob);
    expect(header).toMatchObject({ magic: 0xd00dfeed, totalSize: blob.length, offMemRsvmap: 40, version: 17, lastCompVersion: 16, bootCpuId: 0 });
    expect(header.offMemRsvmap % 8).toBe(0);
    expect(header.offDtStruct).toBe(40 + 2 * 16);
    expect(header.offDtStrings).toBe(header.offDtStruct + header.sizeDtStruct);
    expect(header.offDtStrings + header.sizeDtStrings).toBe(blob.length);
    const stringsBlock = new TextDecoder().decode(blob.subarray(header.offDtStrings)).split('\0');
    expect(stringsBlock.filter((name) => name === 'reg')).toHaveLength(1);
    expect(stringsBlock.filter((name) => name === 'compatible')).toHaveLength(1);
  });

  it('encodeFdt with capacity makes a blob of exactly that size with free space at the end', () => {
    const tree = smallTree();
    const blob = encodeFdt(tree, { capacity: 4096 });
    expect(blob.length).toBe(4096);
    expect(readFdtHeader(blob).totalSize).toBe(4096);
    const plain = encodeFdt(tree);
    expect(blob.subarray(0, plain.length).subarray(8)).toEqual(plain.subarray(8)); // only totalsize differs
    expect(blob.subarray(plain.length).every((byte) => byte === 0)).toBe(true);
    expect(decodeFdt(blob)).toEqual(tree);
    expect(encodeFdt(tree, { capacity: plain.length })).toEqual(plain);
  });

  it('encodeFdt throws FdtError when the tree does not fit the capacity', () => {
    const tree = smallTree();
    const needed = encodeFdt(tree).length;
    expect(() => encodeFdt(tree, { capacity: needed - 1 })).toThrow(FdtError);
    expect(() => encodeFdt(tree, { capacity: 64 })).toThrow(/needs \d+ bytes, more than the capacity of 64/);
    expect(() => encodeFdt(tree, { capacity: 4096.5 })).toThrow(FdtError);
    expect(() => encodeFdt(tree, { capacity: -1 })).toThrow(FdtError);
  });

  it('encodeFdt rejects names and duplicates dtc would reject', () => {
    const withChild = (name: string): Fdt => ({ root: node('', {}, [node(name)]), reservations: [], bootCpuId: 0 });
    for (const name of ['', 'a/b', 'a@1@2', 'a@', 'with space', 'é']) expect(() => encodeFdt(withChild(name)), name).toThrow(FdtError);
    const twins: Fdt = { root: node('', {}, [node('a@1'), node('a@1')]), reservations: [], bootCpuId: 0 };
    expect(() => encodeFdt(twins)).toThrow(/duplicate node \/a@1/);
    const badProperty: Fdt = { root: { name: '', properties: [{ name: 'bad name', value: empty() }], children: [] }, reservations: [], bootCpuId: 0 };
    expect(() => encodeFdt(badProperty)).toThrow(FdtError);
    const twinProperties: Fdt = { root: { name: '', properties: [{ name: 'a', value: empty() }, { name: 'a', value: empty() }], children: [] }, reservations: [], bootCpuId: 0 };
    expect(() => encodeFdt(twinProperties)).toThrow(/duplicate property a/);
    expect(() => encodeFdt({ root: node('named'), reservations: [], bootCpuId: 0 })).toThrow(FdtError);
  });

  it('encodeFdt rejects reservations and boot cpu ids that do not fit the header', () => {
    const tree = smallTree();
    expect(() => encodeFdt({ ...tree, reservations: [{ address: -1n, size: 1n }] })).toThrow(FdtError);
    expect(() => encodeFdt({ ...tree, reservations: [{ address: 1n << 64n, size: 1n }] })).toThrow(FdtError);
    expect(() => encodeFdt({ ...tree, reservations: [{ address: 0x1000n, size: 0n }] })).toThrow(/size 0/);
    expect(() => encodeFdt({ ...tree, bootCpuId: -1 })).toThrow(FdtError);
  });

  it.skipIf(!hasDtc())('encodeFdt output reads in dtc without any warning, with and without free space', () => {
    for (const blob of [encodeFdt(smallTree()), encodeFdt(smallTree(), { capacity: 8192 })]) {
      const { status, stderr, dts } = dtcDecompile(blob);
      expect(stderr).toBe('');
      expect(status).toBe(0);
      expect(dts).toContain('/memreserve/\t0x0000000080000000 0x0000000000001000;');
      expect(dts).toContain('bootargs = "console=hvc0";');
    }
  });

  it.skipIf(!hasDtc())('encodeFdt reproduces dtc -O dtb byte for byte, shared string tails included', () => {
    const source = `/dts-v1/;
/memreserve/ 0x80000000 0x2000;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "baton,board";
	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 { reg = <0>; device_type = "cpu"; status = "okay"; };
	};
	soc {
		#address-cells = <2>;
		#size-cells = <2>;
		ranges;
		compatible = "simple-bus";
		dev@1000 { reg = <0 0x1000 0 0x100>; cells = <1>; status = "disabled"; bytes = [01 02 03]; };
	};
};
`;
    const compiled = dtcCompile(source);
    expect(encodeFdt(decodeFdt(compiled))).toEqual(compiled);
  });
});
