// The monitor commands the console offers, one table row each.
//
// A command gets its words and the services it may use, and returns the text to print.
// A mistake (unknown command, missing or unknown name) is a one-line "error: ..." and the
// prompt returns; errors from services are shown the same way.

import type { ClientOf } from '../../ipc/define.js';
import { IpcError } from '../../ipc/errors.js';
import type { kernelInterface } from '../../ipc/interfaces/kernel.js';
import type { logInterface } from '../../ipc/interfaces/log.js';
import { driverCommands, type DriverCommandServices } from './driver_commands.js';
import { formatProcessTable } from './process_table.js';
import type { History } from './history.js';

export interface CommandServices extends DriverCommandServices {
  readonly kernel: ClientOf<typeof kernelInterface>;
  readonly log: ClientOf<typeof logInterface>;
  readonly history: History;
}

export interface CommandResult {
  readonly output: string;
  /** The system is going down: print the output, then stop reading this terminal. */
  readonly final?: boolean;
}

interface Command {
  readonly usage: string;
  readonly summary: string;
  run(words: string[], services: CommandServices): Promise<CommandResult>;
}

export class CommandError extends Error {}

const withName = (action: 'restart' | 'stop' | 'start' | 'kill'): Command['run'] => async (words, { kernel }) => {
  const name = words[1];
  if (!name || words.length > 2) throw new CommandError(`usage: ${action} NAME`);
  const { message } = await kernel[action]({ name });
  return { output: message };
};

export const commands: Record<string, Command> = {
  help: {
    usage: 'help',
    summary: 'list the commands',
    run: async () => ({ output: helpText() }),
  },
  ps: {
    usage: 'ps',
    summary: 'servers and drivers: generation, state, restarts, uptime, messages handled',
    run: async (_, { kernel }) => ({ output: formatProcessTable((await kernel.list({})).rows) }),
  },
  restart: { usage: 'restart NAME', summary: 'stop NAME and start its next generation', run: withName('restart') },
  kill: { usage: 'kill NAME', summary: 'make NAME crash, to watch the supervisor restart it', run: withName('kill') },
  stop: { usage: 'stop NAME', summary: 'stop NAME until started again', run: withName('stop') },
  start: { usage: 'start NAME', summary: 'start a stopped or failed NAME', run: withName('start') },
  dmesg: {
    usage: 'dmesg [-n N]',
    summary: 'the kernel and server log (the last N lines)',
    run: async (words, { log }) => {
      let count: number | undefined;
      if (words.length > 1) {
        const value = words[1] === '-n' ? Number(words[2]) : NaN;
        if (!Number.isInteger(value) || value < 1 || words.length > 3) throw new CommandError('usage: dmesg [-n N] (N a positive whole number)');
        count = value;
      }
      const { lines, omitted } = await log.read(count === undefined ? {} : { count });
      const note = omitted ? [`(${omitted} older lines not shown; all of them are in the run directory's baton.log)`] : [];
      return { output: [...note, ...lines].join('\n') };
    },
  },
  history: {
    usage: 'history [-n N]',
    summary: 'the commands typed on every terminal (kept across console restarts and kexec)',
    run: async (words, { history }) => {
      let count: number | undefined;
      if (words.length > 1) {
        const value = words[1] === '-n' ? Number(words[2]) : NaN;
        if (!Number.isInteger(value) || value < 1 || words.length > 3) throw new CommandError('usage: history [-n N]');
        count = value;
      }
      return { output: history.last(count).map((entry, index) => `${String(index + 1).padStart(5)}  ${entry.line}`).join('\n') };
    },
  },
  mem: { usage: 'mem', summary: 'the physical memory map', run: async (_, { kernel }) => ({ output: (await kernel.memoryMap({})).text }) },
  dt: { usage: 'dt', summary: 'the device tree, as DTS text', run: async (_, { kernel }) => ({ output: (await kernel.deviceTree({})).text }) },
  kexec: {
    usage: 'kexec [IMAGE]',
    summary: 'enter a kernel image (default: this build; or a path to another build), keeping memory handed over with KHO',
    run: async (words, { kernel }) => {
      if (words.length > 2) throw new CommandError('usage: kexec [IMAGE]');
      return { output: (await kernel.kexec(words[1] ? { image: words[1] } : {})).message, final: true };
    },
  },
  kho: {
    usage: 'kho [dump DIR]',
    summary: 'Kexec HandOver state (scratch, FDT, subtrees, preserved blocks); dump writes the FDT and subtree blobs to DIR',
    run: async (words, { kernel }) => {
      if (words.length === 1) return { output: (await kernel.kho({})).text };
      if (words[1] === 'dump' && words.length === 3) return { output: (await kernel.khoDump({ directory: words[2]! })).message };
      throw new CommandError('usage: kho [dump DIR]');
    },
  },
  ...driverCommands,
  reboot: {
    usage: 'reboot',
    summary: 'stop everything and reset the board',
    run: async (_, { kernel }) => ({ output: (await kernel.reboot({})).message, final: true }),
  },
  shutdown: {
    usage: 'shutdown',
    summary: 'stop everything cleanly and power off (exit status 0)',
    run: async (_, { kernel }) => ({ output: (await kernel.shutdown({ status: 0 })).message, final: true }),
  },
};

/** Runs one command line; never throws. */
export async function runCommand(line: string, services: CommandServices): Promise<CommandResult> {
  const words = line.trim().split(/\s+/).filter((word) => word.length > 0);
  if (words.length === 0) return { output: '' };
  const command = commands[words[0]!];
  if (!command || !Object.hasOwn(commands, words[0]!)) return { output: `error: unknown command "${words[0]}" (try help)` };
  try {
    return await command.run(words, services);
  } catch (error) {
    if (error instanceof CommandError) return { output: `error: ${error.message}` };
    if (error instanceof IpcError) return { output: `error: ${error.message}` };
    return { output: `error: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** One line per command; a usage longer than the column puts its summary on the next line. */
function helpText(): string {
  const column = 16;
  return Object.values(commands).map((command) => command.usage.length <= column
    ? `  ${command.usage.padEnd(column)}  ${command.summary}`
    : `  ${command.usage}\n  ${''.padEnd(column)}  ${command.summary}`).join('\n');
}
