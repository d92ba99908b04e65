// Command-line options of `npm start`, parsed with node:util's parseArgs.

import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { defaultRunDirectory } from './paths.js';

export interface StartOptions {
  readonly ramSize: number;
  readonly verbose: boolean;
  readonly runDirectory: string;
  readonly dumpDeviceTree: string | undefined;
  readonly manifest: string;
  readonly bootargs: string;
}

export const START_USAGE = `usage: npm start -- [options]
  --ram SIZE        RAM size, e.g. 256M or 2G (default 256M)
  --verbose         show every log level on the console
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
        verbose: { type: 'boolean', default: false },
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
  const bootargs = ['console=hvc0', values.verbose ? 'verbose' : '', values.bootargs ?? ''].filter(Boolean).join(' ');
  return {
    ramSize: parseSize(values.ram ?? '256M'),
    verbose: values.verbose ?? false,
    runDirectory: resolve(values['run-dir'] ?? defaultRunDirectory),
    dumpDeviceTree: values.dumpdtb,
    manifest: values.manifest ?? 'default',
    bootargs,
  };
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
