// What the console refuses to do to itself: a stop or unload that would leave no terminal.
//
// The console serves every terminal, and each terminal is one instance of a chardev driver.
// `stop console` would cut every terminal off, and so would stopping or unloading the last
// terminal driver that still runs: both are refused, saying why, before anything stops.
// `restart` and `kill` are not refused — the next generation comes back by itself — and a
// terminal can still be stopped while another one stays.

import type { ClientOf } from '../../ipc/define.js';
import type { driversInterface } from '../../ipc/interfaces/drivers.js';
import type { kernelInterface } from '../../ipc/interfaces/kernel.js';

type Kernel = ClientOf<typeof kernelInterface>;
type Drivers = ClientOf<typeof driversInterface>;

/** A refused stop: the message says why and what to do instead. */
export class CutOffError extends Error {}

const GONE = new Set(['stopped', 'failed', 'stopping']);

/**
 * The kernel and drivers clients the commands use, with `stop` and `unload` checked first.
 * `self` is the console's own name; `terminals` the chardev devices it serves.
 */
export function guardTerminals(kernel: Kernel, drivers: Drivers, self: string, terminals: readonly string[]): { kernel: Kernel; drivers: Drivers } {
  /** Refuses when no terminal would run after stopping those `stops` matches. */
  const check = async (what: string, stops: (device: string) => boolean): Promise<void> => {
    if (terminals.length === 0) return;
    const { rows } = await kernel.list({});
    const state = (device: string) => rows.find((row) => row.name === device)?.state ?? 'missing';
    const hit = terminals.filter((device) => stops(device) && !GONE.has(state(device)));
    if (hit.length === 0) return;
    const left = terminals.filter((device) => !stops(device) && !GONE.has(state(device)) && state(device) !== 'missing');
    if (left.length > 0) return;
    const waiting = terminals.filter((device) => !stops(device));
    const others = waiting.map((device) => ` (${device} is ${state(device)})`).join('');
    const verb = what.split(' ')[0];
    const instead = waiting.length > 0 ? `start ${waiting.join(' or ')} first` : `${verb} one of them at a time (${verb} ${hit[hit.length - 1]})`;
    throw new CutOffError(`${what}: refused: it would stop ${hit.join(' and ')}, the last terminal${hit.length > 1 ? 's' : ''} still running${others}, `
      + `and leave no way into the system; ${instead}`);
  };
  return {
    kernel: {
      ...kernel,
      stop: async (args, options) => {
        if (args.name === self) {
          throw new CutOffError(`stop ${self}: refused: the console serves every terminal (${terminals.join(', ')}), so stopping it would leave no way into the system; restart ${self} starts its next generation`);
        }
        await check(`stop ${args.name}`, (device) => device === args.name);
        return kernel.stop(args, options);
      },
    },
    drivers: {
      ...drivers,
      unload: async (args, options) => {
        await check(`unload ${args.name}`, (device) => device === args.name || device.startsWith(`${args.name}.`));
        return drivers.unload(args, options);
      },
    },
  };
}
