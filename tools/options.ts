// Command-line options of `npm start`, parsed with node:util's parseArgs.

import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { defaultRunDirectory } from './paths.js';

/** A --disk: a host image file for a virtio-blk device. */
export interface DiskOption {
  readonly path: string;
  readonly access: 'read-write' | 'read-only';
}

export interface StartOptions {
  readonly ramSize: number;
  /** --disk FILE[,ro], in order; empty: a fresh image in the run directory. */
  readonly disks: readonly DiskOption[];
  /** A saved RAM image to boot with (--ram FILE). */
  readonly ramFile: string | undefined;
  readonly dumpRam: string | undefined;
  readonly incomingHandover: { fdt: number; scratch: number; scratchLength: number } | undefined;
  readonly verbose: boolean;
  readonly runDirectory: string;
  readonly dumpDeviceTree: string | undefined;
  readonly manifest: string;
  readonly bootargs: string;
}

export const START_USAGE = `usage: npm start -- [options]
  --ram SIZE|FILE   RAM size, e.g. 256M or 2G (default 256M), or a saved RAM image to boot with
  --dump-ram FILE   save RAM to FILE at power-off and at each kexec
  --kho-fdt ADDR    with --ram FILE: boot it as an incoming KHO handover whose FDT is at ADDR
  --kho-scratch ADDR,LEN  ... and whose scratch array is at ADDR, LEN bytes
  --disk FILE[,ro]  a virtio-blk disk backed by the image FILE (repeatable; ",ro": read-only;
                    default: a fresh 64 MiB image in the run directory)
  --verbose         show every log level on the console
  --checked         checked mode: buffers passed to drivers are checked against memory ownership and grants
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
        'dump-ram': { type: 'string' },
        'kho-fdt': { type: 'string' },
        'kho-scratch': { type: 'string' },
        disk: { type: 'string', multiple: true },
        verbose: { type: 'boolean', default: false },
        checked: { type: 'boolean', default: false },
        'run-dir': { type: 'string' },
        dumpdtb: { type: 'string' },
        manifest: { type: 'string', default: 'default' },
        bootargs: { type: 'string', default: '' },
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
  const bootargs = ['console=hvc0', values.verbose ? 'verbose' : '', values.checked ? 'checked' : '', values.bootargs ?? ''].filter(Boolean).join(' ');
  const ramText = values.ram ?? '256M';
  const ramIsSize = /^\d+[KMG]?i?B?$/i.test(ramText.trim());
  let incomingHandover: StartOptions['incomingHandover'];
  if (values['kho-fdt'] !== undefined || values['kho-scratch'] !== undefined) {
    if (ramIsSize) throw new UsageError('--kho-fdt and --kho-scratch need --ram FILE (a saved RAM image)');
    const fdt = parseAddress(values['kho-fdt'], '--kho-fdt');
    const [scratch, scratchLength] = (values['kho-scratch'] ?? '').split(',').map((part, index) => parseAddress(part, index === 0 ? '--kho-scratch ADDR' : '--kho-scratch LEN'));
    if (scratch === undefined || scratchLength === undefined) throw new UsageError('--kho-scratch needs ADDR,LEN');
    incomingHandover = { fdt, scratch, scratchLength };
  }
  return {
    ramSize: ramIsSize ? parseSize(ramText) : 0,
    ramFile: ramIsSize ? undefined : resolve(ramText),
    dumpRam: values['dump-ram'] ? resolve(values['dump-ram']) : undefined,
    incomingHandover,
    disks: (values.disk ?? []).map(parseDisk),
    verbose: values.verbose ?? false,
    runDirectory: resolve(values['run-dir'] ?? defaultRunDirectory),
    dumpDeviceTree: values.dumpdtb,
    manifest: values.manifest ?? 'default',
    bootargs,
  };
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

/** "256M", "2G", "65536K", "1048576" → bytes; a multiple of 4 KiB, 16 MiB to 4 GiB. */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!match) throw new UsageError(`--ram ${text}: not a size (use e.g. 256M or 2G)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const bytes = Number(match[1]) * unit;
  if (bytes % 4096 !== 0) throw new UsageError(`--ram ${text}: must be a whole number of 4 KiB pages`);
  if (bytes < 32 * 1024 ** 2 || bytes > 4 * 1024 ** 3) throw new UsageError(`--ram ${text}: must be between 32M and 4G`);
  return bytes;
}
