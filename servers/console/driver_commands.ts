// Console commands for devices and drivers: devices, load, unload, blk, random.
//
// They speak the drivers interface (served by the kernel), the block service of each disk
// and the random service. Block data moves through one DMA buffer the console owns,
// lent to one command at a time.

import { formatSize } from '../../hal/size_text.js';
import { formatTable } from '../../hal/text_table.js';
import type { Ram } from '../../hal/ram.js';
import type { ClientOf } from '../../ipc/define.js';
import type { blockInterface, DiskInfo, DiskStats } from '../../ipc/interfaces/block.js';
import type { DeviceRow, driversInterface } from '../../ipc/interfaces/drivers.js';
import { RANDOM_READ_LIMIT, type randomInterface } from '../../ipc/interfaces/random.js';
import type { Parameter } from './command_syntax.js';
import type { Command } from './commands.js';

export interface DriverCommandServices {
  readonly drivers: ClientOf<typeof driversInterface>;
  readonly random: ClientOf<typeof randomInterface>;
  /** A client of the block service of the driver instance `name`. */
  disk(name: string): ClientOf<typeof blockInterface>;
  /** Zeroed DMA memory the console owns; returns its physical address. */
  allocateDma(bytes: number): Promise<number>;
  readonly ram: Ram;
}

export class DriverCommandError extends Error {}

/** The console's block buffer: the largest blk read or write it does at once. */
export const CONSOLE_BLOCK_BUFFER = 64 * 1024;
/** `load` compiles and starts a driver, and waits for it: allow for that. */
const LOAD_TIMEOUT_MS = 120_000;
const VIRTIO_TYPES: Record<number, string> = { 0: 'empty', 1: 'net', 2: 'block', 3: 'console', 4: 'entropy' };

type DriverCommand = Command<DriverCommandServices>;

const DISK: Parameter = { name: 'DISK', kind: 'disk' };
const SECTOR: Parameter = { name: 'SECTOR', kind: 'integer', minimum: 0 };

let buffer: Promise<number> | undefined;
let bufferLock: Promise<unknown> = Promise.resolve();

/** Runs `use` with the console's DMA buffer, one command at a time. */
function withBuffer<T>(services: DriverCommandServices, use: (address: number) => Promise<T>): Promise<T> {
  buffer ??= services.allocateDma(CONSOLE_BLOCK_BUFFER);
  const run = bufferLock.then(async () => use(await buffer!));
  bufferLock = run.catch(() => undefined);
  return run;
}

export const driverCommands: Record<string, DriverCommand> = {
  devices: {
    forms: [{ parameters: [] }],
    summary: 'device-tree devices: compatible, registers, interrupt, bound driver, state, generation',
    run: async (_, { drivers }) => ({ output: formatDevices((await drivers.devices({})).rows) }),
  },
  drivers: {
    forms: [{ parameters: [] }],
    summary: 'the drivers the kernel knows: version, where from, instances',
    run: async (_, { drivers }) => {
      const rows = (await drivers.drivers({})).rows;
      return { output: formatTable(['DRIVER', 'VERSION', 'SOURCE', 'INSTANCES'], rows.map((row) => [row.name, row.version, row.source, row.instances.join(', ') || '-'])) };
    },
  },
  load: {
    forms: [{ parameters: [{ name: 'PATH', kind: 'path', rest: true, describe: 'a driver folder on the host, with manifest.json and main.ts' }] }],
    summary: 'load the driver folder PATH (on the host) and bind it to matching unbound devices',
    run: async (args, { drivers }) => ({ output: (await drivers.load({ path: args.word('PATH') }, { timeoutMs: LOAD_TIMEOUT_MS })).message }),
  },
  unload: {
    forms: [{ parameters: [{ name: 'NAME', kind: 'driver' }] }],
    summary: 'stop the driver NAME (or one instance NAME.N) and release its devices',
    run: async (args, { drivers }) => ({ output: (await drivers.unload({ name: args.word('NAME') }, { timeoutMs: LOAD_TIMEOUT_MS })).message }),
  },
  random: {
    forms: [{ parameters: [{ name: 'N', kind: 'integer', optional: true, minimum: 1, maximum: RANDOM_READ_LIMIT, default: 16 }] }],
    summary: `N random bytes from the entropy device, in hex (default 16, at most ${RANDOM_READ_LIMIT})`,
    run: async (args, { random }) => {
      const { data } = await random.read({ bytes: args.integer('N') });
      return { output: [...data].map((byte) => byte.toString(16).padStart(2, '0')).join('') };
    },
  },
  blk: {
    forms: [
      { parameters: [] },
      { subcommand: 'read', parameters: [DISK, SECTOR, { name: 'COUNT', kind: 'integer', optional: true, minimum: 1, default: 1 }] },
      { subcommand: 'write', parameters: [DISK, SECTOR, { name: 'TEXT', kind: 'text', rest: true, describe: 'text to write, zero-padded to whole sectors: the rest of the line' }] },
      { subcommand: 'flush', parameters: [DISK] },
    ],
    summary: 'disks: size, requests served, errors; or read, write (TEXT, zero-padded to whole sectors) and flush one',
    run: async (args, services) => {
      switch (args.subcommand) {
        case 'read':
          return { output: await readSectors(args.word('DISK'), args.integer('SECTOR'), args.integer('COUNT'), services) };
        case 'write':
          return { output: await writeText(args.word('DISK'), args.integer('SECTOR'), args.word('TEXT'), services) };
        case 'flush':
          await services.disk(args.word('DISK')).flush({});
          return { output: `${args.word('DISK')}: flushed` };
        default:
          return { output: await diskTable(services) };
      }
    },
  },
};

async function diskTable(services: DriverCommandServices): Promise<string> {
  const rows = (await services.drivers.devices({})).rows.filter((row) => row.serves.includes('block') && row.driver);
  if (rows.length === 0) return 'no disks (see devices)';
  const cells = await Promise.all(rows.map(async (row) => {
    const name = row.driver!;
    if (row.state !== 'running') return [name, '-', '-', '-', '-', '-', '-', '-', row.state];
    const disk = services.disk(name);
    const [info, stats]: [DiskInfo, DiskStats] = await Promise.all([disk.info({}), disk.stats({})]);
    return [
      name, formatSize(info.sectors * info.sectorBytes, 'rounded'), String(info.sectors), info.readOnly ? 'ro' : 'rw', info.serial || '-',
      String(stats.reads), String(stats.writes), String(stats.served), `${stats.errors}`,
    ];
  }));
  return formatTable(['DISK', 'SIZE', 'SECTORS', 'MODE', 'SERIAL', 'READS', 'WRITES', 'SERVED', 'ERRORS'], cells);
}

async function readSectors(name: string, sector: number, count: number, services: DriverCommandServices): Promise<string> {
  const disk = services.disk(name);
  const { sectorBytes } = await disk.info({});
  const bytes = count * sectorBytes;
  if (bytes > CONSOLE_BLOCK_BUFFER) throw new DriverCommandError(`blk read: at most ${CONSOLE_BLOCK_BUFFER / sectorBytes} sectors at once`);
  return withBuffer(services, async (address) => {
    await disk.read({ sector, bytes, buffer: { kind: 'physical', address } });
    return hexDump(services.ram.read(address, bytes), sector * sectorBytes);
  });
}

async function writeText(name: string, sector: number, text: string, services: DriverCommandServices): Promise<string> {
  const data = new TextEncoder().encode(text);
  const disk = services.disk(name);
  const { sectorBytes } = await disk.info({});
  const bytes = Math.max(1, Math.ceil(data.length / sectorBytes)) * sectorBytes;
  if (bytes > CONSOLE_BLOCK_BUFFER) throw new DriverCommandError(`blk write: at most ${CONSOLE_BLOCK_BUFFER} bytes at once`);
  return withBuffer(services, async (address) => {
    services.ram.fill(address, bytes, 0);
    services.ram.write(address, data);
    await disk.write({ sector, bytes, buffer: { kind: 'physical', address } });
    return `${name}: wrote ${data.length} bytes (${bytes / sectorBytes} sector${bytes === sectorBytes ? '' : 's'}) at sector ${sector}`;
  });
}

function formatDevices(rows: readonly DeviceRow[]): string {
  const cells = rows.map((row) => [
    row.path,
    row.compatible.join(',') + (row.virtioDeviceId !== undefined ? ` [${VIRTIO_TYPES[row.virtioDeviceId] ?? `type ${row.virtioDeviceId}`}]` : ''),
    `0x${row.base.toString(16)}+0x${row.size.toString(16)}`,
    row.interrupt === undefined ? '-' : String(row.interrupt),
    row.driver ?? '-',
    row.state,
    row.generation === 0 ? '-' : String(row.generation),
  ]);
  return formatTable(['DEVICE', 'COMPATIBLE', 'REG', 'IRQ', 'DRIVER', 'STATE', 'GEN'], cells);
}

/** Classic hex dump: offset, 16 bytes in hex, the printable ones as text. */
export function hexDump(bytes: Uint8Array, startOffset = 0): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.')).join('');
    lines.push(`${(startOffset + offset).toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${text}|`);
  }
  return lines.join('\n');
}
