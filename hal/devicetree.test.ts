import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { buildBoardTree, readBoardTree, type BoardDescription, type BoardTreeSummary } from './devicetree.js';
import { decodeFdt } from './fdt/decode.js';
import { encodeFdt } from './fdt/encode.js';
import { dtcCompile, dtcDecompile, hasDtc, whenDtc } from './fdt/dtc.js';
import { FdtError, findNode, getProperty, node, removeChild, removeProperty, setProperty, type Fdt } from './fdt/tree.js';
import { fdtRead, fdtValue } from './fdt/values.js';

function board(overrides: Partial<BoardDescription> = {}): BoardDescription {
  return {
    model: 'baton test board',
    ram: { base: 0x8000_0000, size: 0x800_0000 },
    cpus: 2,
    timebaseFrequency: 1_000_000,
    bootargs: 'console=hvc0 init=/bin/init',
    interruptController: { base: 0xc00_0000, size: 0x60_0000, sources: 63 },
    timer: { base: 0x200_0000, size: 0x1_0000 },
    power: { base: 0x10_0000, size: 0x1000 },
    devices: [
      { name: 'virtio_mmio', base: 0x1000_1000, size: 0x1000, interrupt: 2, compatible: ['virtio,mmio'] },
      { name: 'virtio_console', base: 0x1000_2000, size: 0x1000, interrupt: 3, compatible: ['virtio,mmio'] },
      { name: 'rtc', base: 0x10_1000, size: 0x1000, interrupt: 11, compatible: ['google,goldfish-rtc'] },
    ],
    ...overrides,
  };
}

/** What readBoardTree must return for a description built by buildBoardTree. */
function summaryOf(description: BoardDescription, stdoutPath: string | undefined): BoardTreeSummary {
  return {
    model: description.model,
    ram: [description.ram],
    bootargs: description.bootargs,
    ...(stdoutPath !== undefined ? { stdoutPath } : {}),
    chosen: description.chosen ?? {},
    cpus: description.cpus,
    timebaseFrequency: description.timebaseFrequency,
    devices: description.devices.map((device) => ({
      path: `/soc/${device.name}@${device.base.toString(16)}`,
      name: device.name,
      compatible: device.compatible,
      base: device.base,
      size: device.size,
      interrupt: device.interrupt,
      status: 'okay',
    })),
    memoryReservations: description.memoryReservations ?? [],
    reservedMemory: (description.reservedMemory ?? []).map((region) => ({ ...region, noMap: region.noMap ?? false })),
    interruptController: description.interruptController,
    timer: { ...description.timer, interrupt: 3 }, // a CLINT's first interrupt: machine software
    power: description.power,
  };
}

/** Encodes, checks with dtc when present, decodes. */
function throughBlob(tree: Fdt): Fdt {
  const blob = encodeFdt(tree);
  whenDtc('board trees read in dtc without warnings', () => {
    const { stderr, status } = dtcDecompile(blob);
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
  return decodeFdt(blob);
}

const u32At = (tree: Fdt, path: string, name: string): number[] => fdtRead.u32Array(getProperty(findNode(tree.root, path)!, name)!);

describe('buildBoardTree', () => {
  it('readBoardTree(buildBoardTree(description)) recovers the description', () => {
    const kho = { 'linux,kho-fdt': fdtValue.u64(0x8010_0000, 0x1000), 'linux,kho-scratch': fdtValue.u64(0x8100_0000, 0x20) };
    const description = board({ chosen: kho, memoryReservations: [{ address: 0x8000_0000, size: 0x1_0000 }] });
    const summary = readBoardTree(throughBlob(buildBoardTree(description)));
    expect(summary).toEqual(summaryOf(description, '/soc/virtio_console@10002000'));
  });

  it('buildBoardTree lays the tree out like QEMU virt', () => {
    const tree = buildBoardTree(board());
    const text = (path: string, name: string) => fdtRead.strings(getProperty(findNode(tree.root, path)!, name)!);
    expect(text('/', 'compatible')).toEqual(['baton,board']);
    expect(u32At(tree, '/', '#address-cells')).toEqual([2]);
    expect(u32At(tree, '/cpus', 'timebase-frequency')).toEqual([1_000_000]);
    expect(text('/cpus/cpu@1', 'riscv,isa')).toEqual(['rv32imac_zicsr_zifencei']);
    expect(text('/cpus/cpu@1', 'riscv,isa-extensions')).toEqual(['i', 'm', 'a', 'c', 'zicsr', 'zifencei']);
    expect(text('/cpus/cpu@1', 'mmu-type')).toEqual(['riscv,sv32']);
    expect(text('/cpus/cpu@1/interrupt-controller', 'compatible')).toEqual(['riscv,cpu-intc']);
    const intcs = [u32At(tree, '/cpus/cpu@0/interrupt-controller', 'phandle')[0], u32At(tree, '/cpus/cpu@1/interrupt-controller', 'phandle')[0]];
    expect(u32At(tree, '/soc/plic@c000000', 'interrupts-extended')).toEqual([intcs[0], 11, intcs[0], 9, intcs[1], 11, intcs[1], 9]);
    expect(text('/soc/plic@c000000', 'compatible')).toEqual(['sifive,plic-1.0.0', 'riscv,plic0']);
    expect(u32At(tree, '/soc/plic@c000000', 'riscv,ndev')).toEqual([63]);
    const plic = u32At(tree, '/soc/plic@c000000', 'phandle');
    expect(u32At(tree, '/soc/virtio_mmio@10001000', 'interrupt-parent')).toEqual(plic);
    expect(u32At(tree, '/soc/virtio_mmio@10001000', 'reg')).toEqual([0, 0x1000_1000, 0, 0x1000]);
    expect(text('/soc/clint@2000000', 'compatible')).toEqual(['sifive,clint0', 'riscv,clint0']);
    expect(u32At(tree, '/soc/clint@2000000', 'interrupts-extended')).toEqual([intcs[0], 3, intcs[0], 7, intcs[1], 3, intcs[1], 7]);
    expect(text('/soc/test@100000', 'compatible')).toEqual(['sifive,test1', 'sifive,test0', 'syscon']);
    const test = u32At(tree, '/soc/test@100000', 'phandle');
    expect(u32At(tree, '/poweroff', 'regmap')).toEqual(test);
    expect(u32At(tree, '/poweroff', 'value')).toEqual([0x5555]);
    expect(u32At(tree, '/reboot', 'value')).toEqual([0x7777]);
    expect(text('/memory@80000000', 'device_type')).toEqual(['memory']);
    expect(findNode(tree.root, '/reserved-memory')).toBeUndefined();
  });

  it('buildBoardTree writes /memreserve/ entries and /reserved-memory children', () => {
    const description = board({
      memoryReservations: [{ address: 0x8000_0000, size: 0x2000 }, { address: 0x8700_0000, size: 0x1000 }],
      reservedMemory: [{ name: 'kho-scratch', base: 0x8100_0000, size: 0x40_0000, noMap: true }, { name: 'kho', base: 0x8200_0000, size: 0x1000 }],
    });
    const tree = throughBlob(buildBoardTree(description));
    expect(tree.reservations).toEqual([{ address: 0x8000_0000n, size: 0x2000n }, { address: 0x8700_0000n, size: 0x1000n }]);
    const scratch = findNode(tree.root, '/reserved-memory/kho-scratch@81000000')!;
    expect(getProperty(scratch, 'no-map')).toEqual(new Uint8Array(0));
    expect(getProperty(findNode(tree.root, '/reserved-memory/kho@82000000')!, 'no-map')).toBeUndefined();
    expect(getProperty(findNode(tree.root, '/reserved-memory')!, 'ranges')).toEqual(new Uint8Array(0));
    const summary = readBoardTree(tree);
    expect(summary.memoryReservations).toEqual(description.memoryReservations);
    expect(summary.reservedMemory).toEqual([
      { name: 'kho-scratch', base: 0x8100_0000, size: 0x40_0000, noMap: true },
      { name: 'kho', base: 0x8200_0000, size: 0x1000, noMap: false },
    ]);
    whenDtc('dtc prints the /memreserve/ entries', () => {
      expect(dtcDecompile(encodeFdt(tree)).dts).toContain('/memreserve/\t0x0000000087000000 0x0000000000001000;');
    });
  });

  it('buildBoardTree picks stdout-path from the first console device unless told', () => {
    const stdout = (description: BoardDescription) => readBoardTree(buildBoardTree(description)).stdoutPath;
    expect(stdout(board())).toBe('/soc/virtio_console@10002000');
    expect(stdout(board({ stdoutPath: '/soc/rtc@101000' }))).toBe('/soc/rtc@101000');
    const noConsole = board();
    noConsole.devices = noConsole.devices.filter((device) => device.name !== 'virtio_console');
    expect(stdout(noConsole)).toBeUndefined();
    noConsole.devices.push({ name: 'uart', base: 0x1000_0000, size: 0x100, interrupt: 10, compatible: ['baton,console', 'ns16550a'] });
    expect(stdout(noConsole)).toBe('/soc/uart@10000000');
  });

  it('buildBoardTree output reads in dtc without warnings and round-trips for random boards', () => {
    const device = (index: number) =>
      fc.record({
        name: fc.constantFrom('virtio_mmio', 'virtio_console', 'uart', 'rtc', 'net,eth'),
        size: fc.constantFrom(0x100, 0x1000),
        interrupt: fc.integer({ min: 1, max: 63 }),
        compatible: fc.array(fc.constantFrom('virtio,mmio', 'ns16550a', 'google,goldfish-rtc'), { minLength: 1, maxLength: 2 }),
      }).map((fields) => ({ ...fields, base: 0x1000_0000 + index * 0x1000 }));
    const description = fc.record({
      cpus: fc.integer({ min: 1, max: 4 }),
      ramMiB: fc.integer({ min: 16, max: 4096 }),
      devices: fc.integer({ min: 0, max: 6 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => device(index)))),
      bootargs: fc.string({ unit: 'grapheme' }).filter((text) => !text.includes('\0')),
      reserved: fc.array(fc.record({ name: fc.constantFrom('scratch', 'kho', 'fw'), noMap: fc.boolean() }), { maxLength: 3 }),
      reservations: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(description, (random) => {
        const described = board({
          cpus: random.cpus,
          ram: { base: 0x8000_0000, size: random.ramMiB * 0x10_0000 },
          devices: random.devices,
          bootargs: random.bootargs,
          reservedMemory: random.reserved.map((region, index) => ({ ...region, base: 0x8100_0000 + index * 0x10_0000, size: 0x1000 })),
          memoryReservations: Array.from({ length: random.reservations }, (_, index) => ({ address: 0x8000_0000 + index * 0x1000, size: 0x1000 })),
        });
        const consoleDevice = random.devices.find((entry) => entry.name.includes('console'));
        const summary = readBoardTree(throughBlob(buildBoardTree(described)));
        expect(summary).toEqual(summaryOf(described, consoleDevice && `/soc/${consoleDevice.name}@${consoleDevice.base.toString(16)}`));
      }),
      { numRuns: hasDtc() ? 30 : 100 },
    );
  });

  it('buildBoardTree rejects descriptions that cannot be described truthfully', () => {
    const device = board().devices[0]!;
    const rejected: [Partial<BoardDescription>, RegExp][] = [
      [{ model: '' }, /model/],
      [{ cpus: 0 }, /cpus/],
      [{ ram: { base: 0x8000_0000, size: 0 } }, /ram/],
      [{ timebaseFrequency: 2 ** 32 }, /timebaseFrequency/],
      [{ devices: [device, { ...device, base: 0x1000_1800 }] }, /overlap/],
      [{ devices: [{ ...device, base: 0x8000_1000 }] }, /ram and virtio_mmio@80001000 overlap/],
      [{ devices: [{ ...device, interrupt: 0 }] }, /interrupt 0 is not a source 1..63/],
      [{ devices: [{ ...device, interrupt: 64 }] }, /interrupt 64/],
      [{ timer: { base: 0x200_0000, size: 0 } }, /timer: base/],
      [{ devices: [{ ...device, name: 'bad name' }] }, /invalid node name/],
      [{ devices: [{ ...device, name: 'a@1' }] }, /invalid node name/],
      [{ devices: [{ ...device, compatible: [] }] }, /compatible/],
      [{ chosen: { bootargs: fdtValue.string('twice') } }, /chosen/],
      [{ memoryReservations: [{ address: 0x8000_0000, size: 0 }] }, /memory reservation/],
      [{ reservedMemory: [{ name: 'a', base: 0x8100_0000, size: 0x2000 }, { name: 'b', base: 0x8100_1000, size: 0x1000 }] }, /reserved memory: a and b overlap/],
      [{ interruptController: { base: 0xc00_0000, size: 0x60_0000, sources: 0 } }, /sources/],
    ];
    for (const [overrides, message] of rejected) {
      expect(() => buildBoardTree(board(overrides)), message.source).toThrow(FdtError);
      expect(() => buildBoardTree(board(overrides))).toThrow(message);
    }
  });
});

describe('readBoardTree', () => {
  it('readBoardTree names what a tree lacks', () => {
    const broken: [(tree: Fdt) => void, RegExp][] = [
      [(tree) => removeProperty(tree.root, 'model'), /no model/],
      [(tree) => removeChild(tree.root, 'memory@80000000'), /no memory node/],
      [(tree) => removeChild(tree.root, 'cpus'), /no cpu under \/cpus/],
      [(tree) => removeProperty(findNode(tree.root, '/cpus')!, 'timebase-frequency'), /no timebase-frequency/],
      [(tree) => setProperty(findNode(tree.root, '/soc/rtc@101000')!, 'interrupt-parent', fdtValue.u32(77)), /rtc@101000\/interrupt-parent names no node/],
      [(tree) => removeProperty(findNode(tree.root, '/soc/rtc@101000')!, 'interrupt-parent'), /has interrupts but no interrupt-parent/],
      [(tree) => removeProperty(findNode(tree.root, '/soc')!, 'ranges'), /\/soc has no ranges/],
      [(tree) => setProperty(findNode(tree.root, '/memory@80000000')!, 'reg', fdtValue.u64(1n << 53n, 0x1000)), /beyond 2\^53/],
      [(tree) => setProperty(findNode(tree.root, '/memory@80000000')!, 'reg', fdtValue.u32(1, 2, 3)), /reg value/],
      [(tree) => setProperty(tree.root, 'model', fdtValue.u32(5)), /model/],
    ];
    for (const [breakTree, message] of broken) {
      const tree = buildBoardTree(board());
      breakTree(tree);
      expect(() => readBoardTree(tree), message.source).toThrow(FdtError);
      expect(() => readBoardTree(tree)).toThrow(message);
    }
  });

  it('readBoardTree defaults a missing status to okay and reports others', () => {
    const tree = buildBoardTree(board());
    setProperty(findNode(tree.root, '/soc/rtc@101000')!, 'status', fdtValue.string('disabled'));
    const devices = readBoardTree(tree).devices;
    expect(devices.find((device) => device.name === 'rtc')?.status).toBe('disabled');
    expect(devices.find((device) => device.name === 'virtio_mmio')?.status).toBe('okay');
  });

  it('readBoardTree translates addresses through a bus with non-empty ranges', () => {
    const tree = buildBoardTree(board());
    tree.root.children.push(
      node('platform-bus@4000000', { '#address-cells': fdtValue.u32(1), '#size-cells': fdtValue.u32(1), compatible: fdtValue.strings(['qemu,platform', 'simple-bus']), ranges: fdtValue.u32(0, 0, 0x400_0000, 0x200_0000) }, [
        node('dev@100', { compatible: fdtValue.string('x,y'), reg: fdtValue.u32(0x100, 0x10) }),
      ]),
    );
    const device = readBoardTree(tree).devices.find((entry) => entry.name === 'dev')!;
    expect(device).toEqual({ path: '/platform-bus@4000000/dev@100', name: 'dev', compatible: ['x,y'], base: 0x400_0100, size: 0x10, status: 'okay' });
  });

  it.skipIf(!hasDtc())('readBoardTree reads a QEMU virt style tree compiled by dtc', () => {
    const source = `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "riscv-virtio";
	model = "riscv-virtio,qemu";
	chosen { bootargs = "root=/dev/vda"; stdout-path = "/soc/serial@10000000"; };
	poweroff { value = <0x5555>; offset = <0>; regmap = <&test>; compatible = "syscon-poweroff"; };
	memory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x8000000>; };
	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		timebase-frequency = <10000000>;
		cpu0: cpu@0 {
			device_type = "cpu"; reg = <0>; status = "okay"; compatible = "riscv";
			riscv,isa = "rv32imafdcsu"; mmu-type = "riscv,sv32";
			intc: interrupt-controller { #address-cells = <0>; #interrupt-cells = <1>; interrupt-controller; compatible = "riscv,cpu-intc"; };
		};
		cpu-map { cluster0 { core0 { cpu = <&cpu0>; }; }; };
	};
	soc {
		#address-cells = <2>;
		#size-cells = <2>;
		compatible = "simple-bus";
		ranges;
		rtc@101000 { interrupts = <11>; interrupt-parent = <&plic>; reg = <0x0 0x101000 0x0 0x1000>; compatible = "google,goldfish-rtc"; };
		serial@10000000 { interrupts = <10>; interrupt-parent = <&plic>; clock-frequency = <0x384000>; reg = <0x0 0x10000000 0x0 0x100>; compatible = "ns16550a"; };
		test: test@100000 { reg = <0x0 0x100000 0x0 0x1000>; compatible = "sifive,test1", "sifive,test0", "syscon"; };
		virtio_mmio@10008000 { interrupts = <8>; interrupt-parent = <&plic>; reg = <0x0 0x10008000 0x0 0x1000>; compatible = "virtio,mmio"; };
		plic: plic@c000000 { riscv,ndev = <53>; reg = <0x0 0xc000000 0x0 0x600000>; interrupts-extended = <&intc 11 &intc 9>; interrupt-controller; compatible = "sifive,plic-1.0.0", "riscv,plic0"; #address-cells = <0>; #interrupt-cells = <1>; };
		clint@2000000 { interrupts-extended = <&intc 3 &intc 7>; reg = <0x0 0x2000000 0x0 0x10000>; compatible = "sifive,clint0", "riscv,clint0"; };
	};
};
`;
    const summary = readBoardTree(decodeFdt(dtcCompile(source)));
    expect(summary).toMatchObject({
      model: 'riscv-virtio,qemu',
      ram: [{ base: 0x8000_0000, size: 0x800_0000 }],
      bootargs: 'root=/dev/vda',
      stdoutPath: '/soc/serial@10000000',
      cpus: 1,
      timebaseFrequency: 10_000_000,
      interruptController: { base: 0xc00_0000, size: 0x60_0000, sources: 53 },
      timer: { base: 0x200_0000, size: 0x1_0000, interrupt: 3 },
      power: { base: 0x10_0000, size: 0x1000 },
    });
    expect(summary.devices.map((device) => [device.path, device.interrupt])).toEqual([
      ['/soc/rtc@101000', 11],
      ['/soc/serial@10000000', 10],
      ['/soc/virtio_mmio@10008000', 8],
    ]);
  });
});
