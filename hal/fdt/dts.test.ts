import { describe, it, expect } from 'vitest';
import { formatValue, toDts } from './dts.js';
import { encodeFdt } from './encode.js';
import { dtcDecompile, hasDtc } from './dtc.js';
import { node, type Fdt } from './tree.js';
import { fdtValue } from './values.js';

const { u32, u64, string, strings, empty } = fdtValue;

function smallTree(): Fdt {
  return {
    root: node('', { '#address-cells': u32(2), '#size-cells': u32(2), compatible: strings(['baton,board', 'riscv-virtio']), model: string('baton') }, [
      node('chosen', { bootargs: string('console=hvc0 "quoted"\t\\'), 'linux,kho-fdt': u64(0x8010_0000, 0x1000) }),
      node('cpus', { '#address-cells': u32(1), '#size-cells': u32(0) }, [
        node('cpu@0', { device_type: string('cpu'), reg: u32(0) }, [node('interrupt-controller', { 'interrupt-controller': empty(), phandle: u32(1) })]),
      ]),
      node('blob', { mac: new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34]), zero: u32(0), 'kho-root': fdtValue.u64Native(0x8020_0000) }),
    ]),
    reservations: [{ address: 0x8000_0000n, size: 0x2000n }],
    bootCpuId: 0,
  };
}

const EXPECTED = `/dts-v1/;

/memreserve/\t0x0000000080000000 0x0000000000002000;
/ {
\t#address-cells = <0x02>;
\t#size-cells = <0x02>;
\tcompatible = "baton,board", "riscv-virtio";
\tmodel = "baton";

\tchosen {
\t\tbootargs = "console=hvc0 \\"quoted\\"\\t\\\\";
\t\tlinux,kho-fdt = <0x00 0x80100000 0x00 0x1000>;
\t};

\tcpus {
\t\t#address-cells = <0x01>;
\t\t#size-cells = <0x00>;

\t\tcpu@0 {
\t\t\tdevice_type = "cpu";
\t\t\treg = <0x00>;

\t\t\tinterrupt-controller {
\t\t\t\tinterrupt-controller;
\t\t\t\tphandle = <0x01>;
\t\t\t};
\t\t};
\t};

\tblob {
\t\tmac = [52 54 00 12 34];
\t\tzero = <0x00>;
\t\tkho-root = <0x2080 0x00>;
\t};
};
`;

describe('toDts', () => {
  it('toDts prints a small tree as dtc -O dts does', () => {
    expect(toDts(smallTree())).toBe(EXPECTED);
  });

  it('toDts omits /memreserve/ lines when there are no reservations', () => {
    expect(toDts({ root: node('', { a: empty() }), reservations: [], bootCpuId: 0 })).toBe('/dts-v1/;\n\n/ {\n\ta;\n};\n');
  });

  it.skipIf(!hasDtc())('toDts matches dtc -I dtb -O dts exactly for a tree without string lists', () => {
    const tree = smallTree();
    tree.root.properties = tree.root.properties.filter((property) => property.name !== 'compatible');
    expect(toDts(tree)).toBe(dtcDecompile(encodeFdt(tree)).dts);
  });
});

describe('formatValue', () => {
  it('formatValue guesses strings, cells and bytes with dtc rules', () => {
    expect(formatValue(empty())).toBe('');
    expect(formatValue(string('okay'))).toBe('"okay"');
    expect(formatValue(strings(['ab', '', 'cd']))).toBe('"ab", "", "cd"');
    expect(formatValue(strings(['a', '', 'b']))).toBe('[61 00 00 62 00]'); // more NULs than characters
    expect(formatValue(new Uint8Array([0x61, 0, 0]))).toBe('[61 00 00]'); // more NULs than characters
    expect(formatValue(new Uint8Array([0x61, 0, 0, 0]))).toBe('<0x61000000>');
    expect(formatValue(new Uint8Array([0x80, 0]))).toBe('[80 00]'); // not printable
    expect(formatValue(u32(0xdeadbeef, 1))).toBe('<0xdeadbeef 0x01>');
    expect(formatValue(string('bell\x07 nl\n'))).toBe('"bell\\a nl\\n"');
  });
});
