// Command-line options of `npm start`, parsed with node:util's parseArgs.

import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DEVICE_KINDS, MAXIMUM_VIRTIO_DEVICES } from '../hal/device_kinds.js';
import { MAXIMUM_RAM_SIZE } from '../hal/ram.js';
import { DEFAULT_CPUS } from '../hal/board_layout.js';
import { MAXIMUM_HARTS } from '../hal/timer.js';
import { defaultRunDirectory } from './paths.js';

/** A --disk: a host image file for a virtio-blk device. */
export interface DiskOption {
  readonly path: string;
  readonly access: 'read-write' | 'read-only';
}

/** --net and its companions: the board's virtio-net device and its host side. */
export interface NetworkOption {
  /** socket:PATH (a LAN of baton systems) or tap:IFNAME (a Linux TAP device). */
  readonly backend: { readonly kind: 'socket'; readonly path: string } | { readonly kind: 'tap'; readonly interfaceName: string };
  /** --net-dump FILE: a pcap of every frame. */
  readonly dump: string | undefined;
  /** --net-loss/--net-reorder/--net-duplicate, as probabilities 0..1; --net-seed. */
  readonly loss: number;
  readonly reorder: number;
  readonly duplicate: number;
  readonly seed: number;
}

export interface StartOptions {
  readonly ramSize: number;
  /** --cpus N: harts on the board (cpu nodes, CLINT timers), 1..MAXIMUM_HARTS. */
  readonly cpus: number;
  /** --disk FILE[,ro], in order; empty: the run directory's own disk.img. */
  readonly disks: readonly DiskOption[];
  /** --device KIND, in order: extra device models (hal/device_kinds.ts) after the disks. */
  readonly devices: readonly string[];
  /** A saved RAM image to boot with (--ram FILE). */
  readonly ramFile: string | undefined;
  readonly dumpRam: string | undefined;
  readonly incomingHandover: { fdt: number; scratch: number; scratchLength: number } | undefined;
  readonly verbose: boolean;
  readonly runDirectory: string;
  readonly dumpDeviceTree: string | undefined;
  readonly manifest: string;
  readonly bootargs: string;
  /** --net: a network device; undefined: the board has none. */
  readonly network: NetworkOption | undefined;
  /** --http PORT: the live view's port on 127.0.0.1 (0: any free one, the default); undefined with --no-http. */
  readonly httpPort: number | undefined;
}

export const START_USAGE = `usage: npm start -- [options]
  --ram SIZE|FILE   RAM size, 32M to 2G, e.g. 256M (default); or a saved RAM image (--dump-ram) to boot with
  --cpus N          harts on the board, 1 to ${MAXIMUM_HARTS} (default ${DEFAULT_CPUS}): cpu nodes and CLINT timers for user processes
  --dump-ram FILE   save RAM to FILE at power-off and at each kexec
  --kho-fdt ADDR    with --ram FILE: boot it as an incoming KHO handover whose FDT is at ADDR
  --kho-scratch ADDR,LEN  ... and whose scratch array is at ADDR, LEN bytes
  --disk FILE[,ro]  a virtio-blk disk backed by the image FILE (repeatable; ",ro": read-only;
                    default: the run directory's disk.img, 64 MiB, made once and kept)
  --root DISK       mount DISK's filesystem at / instead of the initramfs: a --disk FILE, or
                    the disk's name in the system (virtio-blk, or virtio-blk.N with several)
  --device KIND     a spare device on the board (repeatable): no boot driver binds it, so a
                    driver you load finds it free; KIND: ${Object.keys(DEVICE_KINDS).join(', ')}
  --net socket:PATH a virtio-net device on the Ethernet LAN of every system given PATH (a Unix
                    socket; the first to start is the hub, no root needed)
  --net tap:IFNAME  a virtio-net device on a new Linux TAP device IFNAME, through socat (needs
                    CAP_NET_ADMIN: root); the host's network stack is the peer
  --net-dump FILE   with --net: write every frame the system sends or receives to FILE (pcap)
  --net-loss P%     with --net: lose P% of frames, each way (also --net-reorder P%, --net-duplicate P%)
  --net-seed N      the seed that decides which frames (default 1: the same run each time)
  --verbose         show every log level on the console
  --checked         checked mode: buffers passed to drivers are checked against memory ownership and grants
  --http PORT       serve the live view on 127.0.0.1:PORT (default: any free port; the URL, with its token, is printed at boot)
  --no-http         no live view
  --run-dir DIR     where the control socket and log file go (default ./run)
  --dumpdtb FILE    write the board's device tree blob to FILE and exit
  --manifest NAME   boot manifest sysroot/boot/NAME.json (default "default")
  --bootargs TEXT   extra kernel command line arguments`;

export class UsageError extends Error {}

export function parseStartOptions(argv: string[]): StartOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ram: { type: 'string', default: '256M' },
        cpus: { type: 'string', default: String(DEFAULT_CPUS) },
        'dump-ram': { type: 'string' },
        'kho-fdt': { type: 'string' },
        'kho-scratch': { type: 'string' },
        disk: { type: 'string', multiple: true },
        root: { type: 'string' },
        device: { type: 'string', multiple: true },
        net: { type: 'string' },
        'net-dump': { type: 'string' },
        'net-loss': { type: 'string' },
        'net-reorder': { type: 'string' },
        'net-duplicate': { type: 'string' },
        'net-seed': { type: 'string' },
        verbose: { type: 'boolean', default: false },
        checked: { type: 'boolean', default: false },
        'run-dir': { type: 'string' },
        dumpdtb: { type: 'string' },
        manifest: { type: 'string', default: 'default' },
        bootargs: { type: 'string', default: '' },
        http: { type: 'string' },
        'no-http': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${START_USAGE}`);
  }
  const values = parsed.values;
  if (values.help) throw new UsageError(START_USAGE);
  const disks = (values.disk ?? []).map(parseDisk);
  const root = values.root === undefined ? '' : `root=${rootDiskName(values.root, disks)}`;
  const bootargs = ['console=hvc0', values.verbose ? 'verbose' : '', values.checked ? 'checked' : '', root, values.bootargs ?? ''].filter(Boolean).join(' ');
  const ramText = values.ram ?? '256M';
  const ramIsSize = /^\d+[KMG]?i?B?$/i.test(ramText.trim());
  if (!ramIsSize && !isFile(ramText)) {
    throw new UsageError(`--ram ${ramText}: neither a size (e.g. 256M or 2G) nor a saved RAM image file`);
  }
  let incomingHandover: StartOptions['incomingHandover'];
  if (values['kho-fdt'] !== undefined || values['kho-scratch'] !== undefined) {
    if (values['kho-fdt'] === undefined || values['kho-scratch'] === undefined) {
      throw new UsageError(`${values['kho-fdt'] === undefined ? '--kho-scratch' : '--kho-fdt'} needs ${values['kho-fdt'] === undefined ? '--kho-fdt ADDR' : '--kho-scratch ADDR,LEN'} too: ` +
        'an incoming handover is given by both (as --dump-ram prints them), with --ram FILE');
    }
    if (ramIsSize) throw new UsageError('--kho-fdt and --kho-scratch need --ram FILE (a saved RAM image)');
    const fdt = parseAddress(values['kho-fdt'], '--kho-fdt');
    const [scratch, scratchLength] = (values['kho-scratch'] ?? '').split(',').map((part, index) => parseAddress(part, index === 0 ? '--kho-scratch ADDR' : '--kho-scratch LEN'));
    if (scratch === undefined || scratchLength === undefined) throw new UsageError('--kho-scratch needs ADDR,LEN');
    incomingHandover = { fdt, scratch, scratchLength };
  }
  const devices = (values.device ?? []).map(parseDevice);
  const network = parseNetwork(values);
  if (values.http !== undefined && values['no-http']) throw new UsageError('--http and --no-http: choose one');
  const httpPort = values['no-http'] ? undefined : parseHttpPort(values.http);
  // The board's three consoles and entropy device, the disks (at least the default one), the live view's two consoles, the network, the spares.
  const slots = 6 + Math.max(1, values.disk?.length ?? 0) + (network ? 1 : 0) + devices.length;
  if (slots > MAXIMUM_VIRTIO_DEVICES) throw new UsageError(`--device: ${slots} virtio devices do not fit the board's ${MAXIMUM_VIRTIO_DEVICES} slots`);
  const cpusText = values.cpus ?? String(DEFAULT_CPUS);
  const cpus = /^\d+$/.test(cpusText) ? Number(cpusText) : Number.NaN;
  if (!(cpus >= 1 && cpus <= MAXIMUM_HARTS)) throw new UsageError(`--cpus ${cpusText}: the board has 1 to ${MAXIMUM_HARTS} harts`);
  return {
    ramSize: ramIsSize ? parseSize(ramText) : 0,
    cpus,
    ramFile: ramIsSize ? undefined : resolve(ramText),
    dumpRam: values['dump-ram'] ? resolve(values['dump-ram']) : undefined,
    incomingHandover,
    disks,
    devices,
    verbose: values.verbose ?? false,
    runDirectory: resolve(values['run-dir'] ?? defaultRunDirectory),
    dumpDeviceTree: values.dumpdtb,
    manifest: values.manifest ?? 'default',
    bootargs,
    network,
    httpPort,
  };
}

type NetworkValues = { net?: string; 'net-dump'?: string; 'net-loss'?: string; 'net-reorder'?: string; 'net-duplicate'?: string; 'net-seed'?: string };

/** --net BACKEND and the options that need it; undefined without --net. */
export function parseNetwork(values: NetworkValues): NetworkOption | undefined {
  const companions = (['net-dump', 'net-loss', 'net-reorder', 'net-duplicate', 'net-seed'] as const).filter((name) => values[name] !== undefined);
  if (values.net === undefined) {
    if (companions.length > 0) throw new UsageError(`--${companions[0]} needs --net socket:PATH or --net tap:IFNAME (there is no network device without it)`);
    return undefined;
  }
  const text = values.net;
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const argument = colon < 0 ? '' : text.slice(colon + 1);
  let backend: NetworkOption['backend'];
  if (kind === 'socket' && argument.length > 0) backend = { kind: 'socket', path: resolve(argument) };
  else if (kind === 'tap' && /^[A-Za-z0-9_.-]{1,15}$/.test(argument)) backend = { kind: 'tap', interfaceName: argument };
  else throw new UsageError(`--net ${text}: give socket:PATH (a Unix socket path shared by the systems of one LAN) or tap:IFNAME (an interface name, at most 15 characters)`);
  const seedText = values['net-seed'] ?? '1';
  const seed = Number(seedText);
  if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(seed) || seed > 0xffff_ffff) throw new UsageError(`--net-seed ${seedText}: a whole number from 0 to 4294967295`);
  return {
    backend,
    dump: values['net-dump'] === undefined ? undefined : resolve(values['net-dump']),
    loss: parsePercent(values['net-loss'], '--net-loss'),
    reorder: parsePercent(values['net-reorder'], '--net-reorder'),
    duplicate: parsePercent(values['net-duplicate'], '--net-duplicate'),
    seed,
  };
}

/** "5%", "0.5%", "5" → 0.05, 0.005, 0.05; from 0 to 100. */
export function parsePercent(text: string | undefined, what: string): number {
  if (text === undefined) return 0;
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  const value = match ? Number(match[1]) : NaN;
  if (!match || !(value >= 0 && value <= 100)) throw new UsageError(`${what} ${text}: a percentage from 0% to 100%, e.g. 5%`);
  return value / 100;
}

/** --http PORT: a TCP port, 0 to 65535 (0, the default: any free one). */
function parseHttpPort(text: string | undefined): number {
  if (text === undefined) return 0;
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port > 65535) throw new UsageError(`--http ${text}: not a port (0 to 65535; 0 picks any free one)`);
  return port;
}

/**
 * The system's name of the --root disk (the kernel's `root=` boot argument): the disks are
 * virtio-blk instances in --disk order, `virtio-blk` alone or `virtio-blk.N` among several.
 */
export function rootDiskName(text: string, disks: readonly DiskOption[]): string {
  const count = Math.max(1, disks.length);
  const names = Array.from({ length: count }, (_, index) => (count === 1 ? 'virtio-blk' : `virtio-blk.${index}`));
  if (names.includes(text)) return text;
  const index = disks.findIndex((disk) => disk.path === resolve(text.replace(/,r[ow]$/, '')));
  if (index >= 0) return names[index]!;
  throw new UsageError(`--root ${text}: neither a --disk image nor a disk name (the disks: ${names.join(', ')})`);
}

/** A --device KIND: one of hal/device_kinds.ts. */
export function parseDevice(text: string): string {
  if (Object.hasOwn(DEVICE_KINDS, text)) return text;
  const kinds = Object.entries(DEVICE_KINDS).map(([kind, { summary }]) => `  ${kind}  ${summary}`).join('\n');
  throw new UsageError(`--device ${text}: no such device kind; the board has:\n${kinds}\n(disks are --disk FILE)`);
}

/** "FILE" or "FILE,ro" → the disk; the file must exist (its size is the disk's capacity). */
export function parseDisk(text: string): DiskOption {
  const readOnly = text.endsWith(',ro');
  const path = readOnly ? text.slice(0, -3) : text.endsWith(',rw') ? text.slice(0, -3) : text;
  if (path.length === 0) throw new UsageError(`--disk ${text}: needs an image file (FILE or FILE,ro)`);
  return { path: resolve(path), access: readOnly ? 'read-only' : 'read-write' };
}

function parseAddress(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`${what}: "${text ?? ''}" is not an address (use e.g. 0x8fe00000)`);
  }
  return value;
}

/** The least RAM the board boots with. */
export const MINIMUM_RAM_SIZE = 32 * 1024 ** 2;

/**
 * "256M", "2G", "65536K", "1048576" → bytes; a multiple of 4 KiB, 32 MiB to 2 GiB (the
 * board is 32-bit and its RAM starts at 0x8000_0000, so 2 GiB reaches the top of its
 * address space).
 */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!match) throw new UsageError(`--ram ${text}: not a size (use e.g. 256M or 2G)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const problem = ramSizeProblem(Number(match[1]) * unit);
  if (problem) throw new UsageError(`--ram ${text}: ${problem}`);
  return Number(match[1]) * unit;
}

/** Why `bytes` of RAM cannot be the board's, or undefined when it can. */
function ramSizeProblem(bytes: number): string | undefined {
  if (bytes % 4096 !== 0) return 'must be a whole number of 4 KiB pages';
  if (bytes < MINIMUM_RAM_SIZE) return 'must be at least 32M';
  if (bytes > MAXIMUM_RAM_SIZE) return 'must be at most 2G: the board is 32-bit and its RAM starts at 0x80000000, so more would lie above 4 GiB';
  return undefined;
}

/**
 * --ram FILE: reads a saved RAM image; throws UsageError unless it is a regular file whose
 * size is a RAM size the board takes (what --dump-ram writes).
 */
export function readRamImage(path: string): Uint8Array {
  let size: number;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) throw new UsageError(`--ram ${path}: not a regular file (a saved RAM image is one)`);
    size = stats.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--ram ${path}: ${(error as Error).message}`);
  }
  const problem = ramSizeProblem(size);
  if (problem) throw new UsageError(`--ram ${path}: a ${size}-byte file is not a saved RAM image (its size is the RAM size, which ${problem})`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new UsageError(`--ram ${path}: ${(error as Error).message}`);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
