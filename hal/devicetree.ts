// The board's device tree: built from a BoardDescription, read back into the summary the
// kernel boots from.
//
// Shape, after QEMU's RISC-V `virt` machine (root #address-cells = #size-cells = 2):
//
//   / { compatible = "baton,board"; model;
//     chosen { bootargs; stdout-path; ...extra (e.g. linux,kho-fdt) };
//     cpus { timebase-frequency; cpu@N { riscv, rv32imac_zicsr_zifencei, sv32; interrupt-controller (cpu-intc) } };
//     memory@<ram base> { device_type = "memory"; reg };
//     reserved-memory { <name>@<base> { reg; [no-map] } };          (when given)
//     soc { simple-bus, ranges;
//       plic@<base>     sifive,plic-1.0.0 / riscv,plic0, interrupts-extended = <&intcN 11 &intcN 9>...
//       clint@<base>    sifive,clint0 / riscv,clint0, interrupts-extended = <&intcN 3 &intcN 7>... (hal/timer.ts)
//       test@<base>     sifive,test1 / sifive,test0 / syscon (hal/firmware.ts at offset 0)
//       <name>@<base>   each device: compatible, reg, interrupts, interrupt-parent = <&plic>
//                       [baton,spare: a spare (--device) that no boot driver binds] };
//     poweroff { syscon-poweroff: regmap = <&test>, offset 0, value 0x5555 };
//     reboot   { syscon-reboot:   regmap = <&test>, offset 0, value 0x7777 } };
//
// The timer is a CLINT as Linux's sifive,clint binding describes one: per hart its machine
// software (3) and machine timer (7) interrupts on the hart's local interrupt controller.
// Phandles: cpu N's interrupt controller is N + 1, the PLIC cpus + 1, the test device cpus + 2.
// Every built tree decodes with `dtc -I dtb -O dts` without a warning (tested).
//
// readBoardTree also reads foreign trees of this shape (QEMU virt's, tested): memory from
// every device_type "memory" node, devices from every simple-bus under the root (addresses
// translated through its ranges); on those buses the first PLIC, the first timer
// ("baton,timer" or a CLINT) and the first "sifive,test0" get their own summary fields,
// every other node with compatible and reg is a device.

import { fdtRead, fdtValue } from './fdt/values.js';
import { FdtError, baseName, findNode, getProperty, node, type Fdt, type FdtNode } from './fdt/tree.js';
import {
  busTranslation,
  cellCounts,
  cellProperty,
  collectPhandles,
  firstInterrupt,
  inContext,
  regions,
  stringProperty,
  stringsProperty,
  toSafeNumber,
  type CellCounts,
} from './fdt/standard_properties.js';

export interface BoardDeviceDescription {
  /** Node base name, e.g. "virtio_mmio"; the node is `${name}@${hex base}` under /soc. */
  name: string;
  base: number;
  size: number;
  /** PLIC source number, 1..interruptController.sources. */
  interrupt: number;
  compatible: string[];
  /** A spare device (--device): written as the empty property `baton,spare`; no boot driver binds it. */
  spare?: boolean;
  /** Further properties of the node, e.g. a network device's `local-mac-address` (6 bytes). */
  properties?: Record<string, Uint8Array>;
}

export interface BoardDescription {
  model: string;
  ram: { base: number; size: number };
  cpus: number;
  timebaseFrequency: number;
  bootargs: string;
  /** Default: the first device whose name or compatible mentions "console"; none if there is none. */
  stdoutPath?: string;
  /** `sources` is written as riscv,ndev: the highest valid source number. */
  interruptController: { base: number; size: number; sources: number };
  /** The CLINT (hal/timer.ts). */
  timer: { base: number; size: number };
  power: { base: number; size: number };
  devices: BoardDeviceDescription[];
  /** /memreserve/ entries of the blob header. */
  memoryReservations?: { address: number; size: number }[];
  /** /reserved-memory children, `${name}@${hex base}`. */
  reservedMemory?: { name: string; base: number; size: number; noMap?: boolean }[];
  /** Extra /chosen properties (e.g. linux,kho-fdt = fdtValue.u64(address, size): root cells are 2+2). */
  chosen?: Record<string, Uint8Array>;
}

export interface BoardTreeDevice {
  /** Full path, e.g. "/soc/virtio_mmio@10001000". */
  path: string;
  /** Base name, e.g. "virtio_mmio". */
  name: string;
  compatible: string[];
  base: number;
  size: number;
  /** First cell of the first interrupt specifier, if the node has interrupts. */
  interrupt?: number;
  /** The status property; "okay" when absent. */
  status: string;
  /** The node has `baton,spare`: the kernel binds no boot driver to it, only drivers loaded later. */
  spare?: boolean;
}

export interface BoardTreeSummary {
  model: string;
  ram: { base: number; size: number }[];
  bootargs: string;
  stdoutPath?: string;
  /** /chosen properties other than bootargs and stdout-path. */
  chosen: Record<string, Uint8Array>;
  cpus: number;
  timebaseFrequency: number;
  devices: BoardTreeDevice[];
  memoryReservations: { address: number; size: number }[];
  reservedMemory: { name: string; base: number; size: number; noMap: boolean }[];
  interruptController?: { base: number; size: number; sources: number };
  timer?: { base: number; size: number; interrupt?: number };
  power?: { base: number; size: number };
}

const ROOT_CELLS = 2;
const NODE_BASE_NAME = /^[A-Za-z0-9,._+-]+$/;
const PROPERTY_NAME = /^[A-Za-z0-9,._+*#?-]+$/;
const PLIC_COMPATIBLE = ['sifive,plic-1.0.0', 'riscv,plic0'];
const TIMER_COMPATIBLE = ['baton,timer'];
const CLINT_COMPATIBLE = ['sifive,clint0', 'riscv,clint0'];
const POWER_COMPATIBLE = ['sifive,test1', 'sifive,test0', 'syscon'];
const POWEROFF_VALUE = 0x5555;
const REBOOT_VALUE = 0x7777;
const IRQ_MACHINE_EXTERNAL = 11;
const IRQ_SUPERVISOR_EXTERNAL = 9;
const IRQ_MACHINE_SOFTWARE = 3;
const IRQ_MACHINE_TIMER = 7;
const ISA = 'rv32imac_zicsr_zifencei';
const ISA_EXTENSIONS = ['i', 'm', 'a', 'c', 'zicsr', 'zifencei'];

const { u32, u64, string, strings, empty } = fdtValue;
/** A reg value in the root's (and /soc's) 2+2 cells. */
const reg = (base: number, size: number): Uint8Array => u64(base, size);
/** A unit address as dtc expects it: lower-case hex, no leading zeros. */
const hexAddress = (base: number): string => base.toString(16);

/** Builds the board's tree. Throws FdtError for a description that cannot be described truthfully. */
export function buildBoardTree(description: BoardDescription): Fdt {
  checkDescription(description);
  const phandles = { plic: description.cpus + 1, power: description.cpus + 2 };
  const children: FdtNode[] = [
    chosenNode(description),
    cpusNode(description),
    node(`memory@${hexAddress(description.ram.base)}`, { device_type: string('memory'), reg: reg(description.ram.base, description.ram.size) }),
  ];
  if (description.reservedMemory && description.reservedMemory.length > 0) {
    const reservedNodes = description.reservedMemory.map((region) => {
      const properties: Record<string, Uint8Array> = { reg: reg(region.base, region.size) };
      if (region.noMap) properties['no-map'] = empty();
      return node(`${region.name}@${hexAddress(region.base)}`, properties);
    });
    children.push(node('reserved-memory', { '#address-cells': u32(ROOT_CELLS), '#size-cells': u32(ROOT_CELLS), ranges: empty() }, reservedNodes));
  }
  children.push(
    socNode(description, phandles),
    node('poweroff', { compatible: string('syscon-poweroff'), regmap: u32(phandles.power), offset: u32(0), value: u32(POWEROFF_VALUE) }),
    node('reboot', { compatible: string('syscon-reboot'), regmap: u32(phandles.power), offset: u32(0), value: u32(REBOOT_VALUE) }),
  );
  const root = node(
    '',
    { '#address-cells': u32(ROOT_CELLS), '#size-cells': u32(ROOT_CELLS), compatible: string('baton,board'), model: string(description.model) },
    children,
  );
  const reservations = (description.memoryReservations ?? []).map(({ address, size }) => ({ address: BigInt(address), size: BigInt(size) }));
  return { root, reservations, bootCpuId: 0 };
}

function chosenNode(description: BoardDescription): FdtNode {
  const consoleDevice = description.devices.find((device) => `${device.name} ${device.compatible.join(' ')}`.includes('console'));
  const stdoutPath = description.stdoutPath ?? (consoleDevice && `/soc/${consoleDevice.name}@${hexAddress(consoleDevice.base)}`);
  const chosen = node('chosen', { bootargs: string(description.bootargs) });
  if (stdoutPath !== undefined) chosen.properties.push({ name: 'stdout-path', value: string(stdoutPath) });
  for (const [name, value] of Object.entries(description.chosen ?? {})) chosen.properties.push({ name, value });
  return chosen;
}

/** /cpus with one cpu@N per hart; cpu N's interrupt controller has phandle N + 1. */
function cpusNode(description: BoardDescription): FdtNode {
  const cpus = Array.from({ length: description.cpus }, (_, index) =>
    node(
      `cpu@${hexAddress(index)}`,
      {
        device_type: string('cpu'),
        reg: u32(index),
        compatible: string('riscv'),
        'riscv,isa': string(ISA),
        'riscv,isa-base': string('rv32i'),
        'riscv,isa-extensions': strings(ISA_EXTENSIONS),
        'mmu-type': string('riscv,sv32'),
        status: string('okay'),
      },
      [
        node('interrupt-controller', {
          '#address-cells': u32(0),
          '#interrupt-cells': u32(1),
          'interrupt-controller': empty(),
          compatible: string('riscv,cpu-intc'),
          phandle: u32(index + 1),
        }),
      ],
    ),
  );
  return node('cpus', { '#address-cells': u32(1), '#size-cells': u32(0), 'timebase-frequency': u32(description.timebaseFrequency) }, cpus);
}

function socNode(description: BoardDescription, phandles: { plic: number; power: number }): FdtNode {
  const { interruptController, timer, power } = description;
  const hartContexts = Array.from({ length: description.cpus }, (_, index) => [index + 1, IRQ_MACHINE_EXTERNAL, index + 1, IRQ_SUPERVISOR_EXTERNAL]);
  const plic = node(`plic@${hexAddress(interruptController.base)}`, {
    compatible: strings(PLIC_COMPATIBLE),
    reg: reg(interruptController.base, interruptController.size),
    '#address-cells': u32(0),
    '#interrupt-cells': u32(1),
    'interrupt-controller': empty(),
    'interrupts-extended': u32(...hartContexts.flat()),
    'riscv,ndev': u32(interruptController.sources),
    phandle: u32(phandles.plic),
  });
  const interruptSource = (base: number, size: number, compatible: string[], interrupt: number, name: string, spare = false, properties: Record<string, Uint8Array> = {}): FdtNode =>
    node(`${name}@${hexAddress(base)}`, {
      compatible: strings(compatible),
      reg: reg(base, size),
      interrupts: u32(interrupt),
      'interrupt-parent': u32(phandles.plic),
      ...(spare ? { 'baton,spare': empty() } : {}),
      ...properties,
    });
  return node('soc', { '#address-cells': u32(ROOT_CELLS), '#size-cells': u32(ROOT_CELLS), compatible: string('simple-bus'), ranges: empty() }, [
    plic,
    node(`clint@${hexAddress(timer.base)}`, {
      compatible: strings(CLINT_COMPATIBLE),
      reg: reg(timer.base, timer.size),
      'interrupts-extended': u32(...Array.from({ length: description.cpus }, (_, index) => [index + 1, IRQ_MACHINE_SOFTWARE, index + 1, IRQ_MACHINE_TIMER]).flat()),
    }),
    node(`test@${hexAddress(power.base)}`, { compatible: strings(POWER_COMPATIBLE), reg: reg(power.base, power.size), phandle: u32(phandles.power) }),
    ...description.devices.map((device) => interruptSource(device.base, device.size, device.compatible, device.interrupt, device.name, device.spare, device.properties)),
  ]);
}

function checkDescription(description: BoardDescription): void {
  const fail = (message: string): never => {
    throw new FdtError(`board description: ${message}`);
  };
  const isAddress = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;
  const checkRange = (what: string, base: number, size: number): void => {
    if (!isAddress(base) || !isAddress(size) || size === 0) fail(`${what}: base ${base} and size ${size} must be integers, size > 0`);
  };
  const checkName = (what: string, name: string): void => {
    if (!NODE_BASE_NAME.test(name)) fail(`${what}: invalid node name ${JSON.stringify(name)} (letters, digits and ,._+- only)`);
  };
  const checkInterrupt = (what: string, interrupt: number): void => {
    if (!Number.isInteger(interrupt) || interrupt < 1 || interrupt > description.interruptController.sources) {
      fail(`${what}: interrupt ${interrupt} is not a source 1..${description.interruptController.sources}`);
    }
  };
  const checkNoOverlap = (what: string, ranges: { name: string; base: number; size: number }[]): void => {
    const sorted = [...ranges].sort((a, b) => a.base - b.base);
    for (let index = 1; index < sorted.length; index++) {
      const previous = sorted[index - 1]!, current = sorted[index]!;
      if (previous.base + previous.size > current.base) fail(`${what}: ${previous.name} and ${current.name} overlap`);
    }
  };

  if (typeof description.model !== 'string' || description.model === '') fail('model must be a non-empty string');
  checkRange('ram', description.ram.base, description.ram.size);
  if (!Number.isInteger(description.cpus) || description.cpus < 1 || description.cpus > 64) fail(`cpus must be 1..64, not ${description.cpus}`);
  if (!Number.isInteger(description.timebaseFrequency) || description.timebaseFrequency < 1 || description.timebaseFrequency > 0xffff_ffff) {
    fail(`timebaseFrequency must be a 32-bit value > 0, not ${description.timebaseFrequency}`);
  }
  const { sources } = description.interruptController;
  if (!Number.isInteger(sources) || sources < 1 || sources > 1023) fail(`interruptController.sources must be 1..1023, not ${sources}`);
  checkRange('interruptController', description.interruptController.base, description.interruptController.size);
  checkRange('timer', description.timer.base, description.timer.size);
  checkRange('power', description.power.base, description.power.size);
  for (const device of description.devices) {
    const what = `device ${device.name}@${device.base}`;
    checkName(what, device.name);
    checkRange(what, device.base, device.size);
    checkInterrupt(what, device.interrupt);
    if (device.compatible.length === 0 || device.compatible.some((entry) => entry === '' || entry.includes('\0'))) {
      fail(`${what}: compatible needs non-empty strings`);
    }
  }
  checkNoOverlap('address map', [
    { name: 'ram', ...description.ram },
    { name: 'interrupt controller', ...description.interruptController },
    { name: 'timer', ...description.timer },
    { name: 'power', ...description.power },
    ...description.devices.map((device) => ({ name: `${device.name}@${device.base.toString(16)}`, base: device.base, size: device.size })),
  ]);
  for (const region of description.reservedMemory ?? []) {
    checkName(`reserved memory ${region.name}`, region.name);
    checkRange(`reserved memory ${region.name}`, region.base, region.size);
  }
  checkNoOverlap('reserved memory', description.reservedMemory ?? []);
  for (const { address, size } of description.memoryReservations ?? []) checkRange('memory reservation', address, size);
  for (const name of Object.keys(description.chosen ?? {})) {
    if (!PROPERTY_NAME.test(name) || name === 'bootargs' || name === 'stdout-path') fail(`chosen: property name ${JSON.stringify(name)} is not allowed`);
  }
}

/** Reads what the kernel needs from a board tree. Throws FdtError naming what is missing or malformed. */
export function readBoardTree(fdt: Fdt): BoardTreeSummary {
  return inContext('board tree', () => readSummary(fdt));
}

function readSummary(fdt: Fdt): BoardTreeSummary {
  const { root } = fdt;
  const rootCells = cellCounts(root, '/');
  const model = stringProperty(root, 'model', '');
  if (model === undefined) throw new FdtError('the root has no model');

  const ram = root.children
    .filter((child) => stringProperty(child, 'device_type', `/${child.name}`) === 'memory')
    .flatMap((child) => regions(child, `/${child.name}`, rootCells));
  if (ram.length === 0) throw new FdtError('no memory node');

  const chosenNode = findNode(root, '/chosen');
  const chosen: Record<string, Uint8Array> = {};
  for (const property of chosenNode?.properties ?? []) {
    if (property.name !== 'bootargs' && property.name !== 'stdout-path') chosen[property.name] = property.value;
  }
  const stdoutPath = chosenNode && stringProperty(chosenNode, 'stdout-path', '/chosen');

  const cpusNode = findNode(root, '/cpus');
  const cpuNodes = cpusNode?.children.filter((child) => stringProperty(child, 'device_type', `/cpus/${child.name}`) === 'cpu') ?? [];
  if (cpuNodes.length === 0) throw new FdtError('no cpu under /cpus');
  const frequency = getProperty(cpusNode!, 'timebase-frequency') ?? getProperty(cpuNodes[0]!, 'timebase-frequency');
  if (!frequency) throw new FdtError('no timebase-frequency in /cpus');
  const timebaseFrequency = inContext('timebase-frequency', () =>
    frequency.length === 8 ? toSafeNumber(fdtRead.u64(frequency), 'timebase-frequency') : fdtRead.u32(frequency),
  );

  const summary: BoardTreeSummary = {
    model,
    ram,
    bootargs: (chosenNode && stringProperty(chosenNode, 'bootargs', '/chosen')) ?? '',
    ...(stdoutPath !== undefined ? { stdoutPath } : {}),
    chosen,
    cpus: cpuNodes.length,
    timebaseFrequency,
    devices: [],
    memoryReservations: fdt.reservations.map(({ address, size }) => ({
      address: toSafeNumber(address, '/memreserve/'),
      size: toSafeNumber(size, '/memreserve/'),
    })),
    reservedMemory: [],
  };

  const reserved = findNode(root, '/reserved-memory');
  if (reserved) {
    const cells = cellCounts(reserved, '/reserved-memory');
    for (const child of reserved.children) {
      const [region] = regions(child, `/reserved-memory/${child.name}`, cells);
      if (region) summary.reservedMemory.push({ name: baseName(child.name), ...region, noMap: getProperty(child, 'no-map') !== undefined });
    }
  }

  const phandles = collectPhandles(root);
  for (const bus of root.children) {
    if (stringsProperty(bus, 'compatible', `/${bus.name}`).includes('simple-bus')) readBus(bus, root, rootCells, phandles, summary);
  }
  return summary;
}

/** Sorts the devices of one simple-bus into the summary: the first PLIC, timer and power device, then the rest. */
function readBus(bus: FdtNode, root: FdtNode, rootCells: CellCounts, phandles: Map<number, FdtNode>, summary: BoardTreeSummary): void {
  const busPath = `/${bus.name}`;
  const cells = cellCounts(bus, busPath);
  const translate = busTranslation(bus, busPath, cells, rootCells);
  for (const child of bus.children) {
    const path = `${busPath}/${child.name}`;
    const compatible = stringsProperty(child, 'compatible', path);
    const [region] = regions(child, path, cells);
    if (compatible.length === 0 || !region) continue;
    const base = translate(region.base, path);
    const interrupt = firstInterrupt(child, [bus, root], path, phandles);
    const is = (list: string[]): boolean => compatible.some((entry) => list.includes(entry));
    if (!summary.interruptController && is(PLIC_COMPATIBLE) && getProperty(child, 'interrupt-controller')) {
      summary.interruptController = { base, size: region.size, sources: cellProperty(child, 'riscv,ndev', path) ?? 0 };
    } else if (!summary.timer && (is(TIMER_COMPATIBLE) || is(CLINT_COMPATIBLE))) {
      summary.timer = { base, size: region.size, ...(interrupt !== undefined ? { interrupt } : {}) };
    } else if (!summary.power && compatible.includes('sifive,test0')) {
      summary.power = { base, size: region.size };
    } else {
      const status = stringProperty(child, 'status', path) ?? 'okay';
      summary.devices.push({
        path, name: baseName(child.name), compatible, base, size: region.size, ...(interrupt !== undefined ? { interrupt } : {}), status,
        ...(getProperty(child, 'baton,spare') ? { spare: true } : {}),
      });
    }
  }
}
