// The monitor commands the console offers, one table row each.
//
// A command declares its forms and parameters as data (command_syntax.ts) and gets its
// parsed arguments and the services it may use; it returns the text to print. A line that
// does not fit the declaration is refused before anything runs: "error: ..." saying what
// was expected, then the usage. Errors from services are one "error: ..." line.

import type { ClientOf } from '../../ipc/define.js';
import { IpcError } from '../../ipc/errors.js';
import type { kernelInterface } from '../../ipc/interfaces/kernel.js';
import type { logInterface } from '../../ipc/interfaces/log.js';
import {
  type Arguments, type Form, type Parameter, type Syntax, formUsageLine, helpFor, parseArguments, splitWords, usageLine, UsageError,
} from './command_syntax.js';
import { driverCommands, type DriverCommandServices } from './driver_commands.js';
import { DiskCommandError, diskCommands } from './disk_commands.js';
import { FileCommandError, fileCommands, type FileCommandServices } from './file_commands.js';
import { netCommands, type NetCommandServices } from './net_commands.js';
import { FetchError, fetchCommands } from './fetch_command.js';
import { diskNames, type NameServices } from './names.js';
import { formatProcessTable } from './process_table.js';
import type { History } from './history.js';

export interface CommandServices extends DriverCommandServices, NameServices, FileCommandServices, NetCommandServices {
  readonly kernel: ClientOf<typeof kernelInterface>;
  readonly log: ClientOf<typeof logInterface>;
  readonly history: History;
}

export interface CommandResult {
  readonly output: string;
  /** The system is going down: print the output, then stop reading this terminal. */
  readonly final?: boolean;
}

export interface Command<S = CommandServices> {
  /** The command's forms and parameters: its parsing, usage, help and completion. */
  readonly forms: readonly Form[];
  readonly summary: string;
  run(args: Arguments, services: S): Promise<CommandResult>;
}

export class CommandError extends Error {}

const NAME: Parameter = { name: 'NAME', kind: 'program' };
const COUNT_FLAG: Parameter = { name: 'N', kind: 'integer', flag: '-n', minimum: 1 };

const withName = (action: 'restart' | 'stop' | 'start' | 'kill', summary: string): Command => ({
  forms: [{ parameters: [NAME] }],
  summary,
  run: async (args, { kernel }) => ({ output: (await kernel[action]({ name: args.word('NAME') })).message }),
});

export const commands: Record<string, Command> = {
  help: {
    forms: [{ parameters: [{ name: 'COMMAND', kind: 'command', optional: true }] }],
    summary: 'list the commands, or show how to use one',
    run: async (args) => {
      const name = args.optionalWord('COMMAND');
      if (name === undefined) return { output: helpText() };
      const command = lookUp(name);
      if (!command) throw new CommandError(`no command named "${name}" (try help)`);
      return { output: helpFor({ name, forms: command.forms }, command.summary) };
    },
  },
  ps: {
    forms: [{ parameters: [] }],
    summary: 'servers and drivers: generation, state, restarts, uptime, messages handled, bulk messages, heap',
    run: async (_, { kernel }) => ({ output: formatProcessTable((await kernel.list({})).rows) }),
  },
  restart: withName('restart', 'stop NAME and start its next generation'),
  kill: withName('kill', 'make NAME crash, to watch the supervisor restart it'),
  stop: withName('stop', 'stop NAME until started again'),
  start: withName('start', 'start a stopped or failed NAME'),
  dmesg: {
    forms: [{ parameters: [COUNT_FLAG] }],
    summary: 'the kernel and server log (the last N lines)',
    run: async (args, { log }) => {
      const count = args.optionalInteger('N');
      const { lines, omitted } = await log.read(count === undefined ? {} : { count });
      const note = omitted ? [`(${omitted} older lines not shown; all of them are in the run directory's baton.log)`] : [];
      return { output: [...note, ...lines].join('\n') };
    },
  },
  history: {
    forms: [{ parameters: [COUNT_FLAG] }],
    summary: 'the commands typed on every terminal (kept across console restarts and kexec)',
    run: async (args, { history }) => ({
      output: history.last(args.optionalInteger('N')).map((entry, index) => `${String(index + 1).padStart(5)}  ${entry.line}`).join('\n'),
    }),
  },
  mem: { forms: [{ parameters: [] }], summary: 'the physical memory map', run: async (_, { kernel }) => ({ output: (await kernel.memoryMap({})).text }) },
  dt: { forms: [{ parameters: [] }], summary: 'the device tree, as DTS text', run: async (_, { kernel }) => ({ output: (await kernel.deviceTree({})).text }) },
  kexec: {
    forms: [{ parameters: [{ name: 'IMAGE', kind: 'path', optional: true, describe: 'a kernel image on the host (default: this build)' }] }],
    summary: 'enter a kernel image (default: this build; or a path to another build), keeping memory handed over with KHO',
    run: async (args, { kernel }) => {
      const image = args.optionalWord('IMAGE');
      return { output: (await kernel.kexec(image === undefined ? {} : { image })).message, final: true };
    },
  },
  kho: {
    forms: [{ parameters: [] }, { subcommand: 'dump', parameters: [{ name: 'DIR', kind: 'path', describe: 'a directory on the host' }] }],
    summary: 'Kexec HandOver state (scratch, FDT, subtrees, preserved blocks); dump writes the FDT and subtree blobs to DIR',
    run: async (args, { kernel }) => args.subcommand === 'dump'
      ? { output: (await kernel.khoDump({ directory: args.word('DIR') })).message }
      : { output: (await kernel.kho({})).text },
  },
  ...driverCommands,
  ...diskCommands,
  ...fileCommands,
  ...netCommands,
  ...fetchCommands,
  reboot: {
    forms: [{ parameters: [] }],
    summary: 'stop everything and reset the board',
    run: async (_, { kernel }) => ({ output: (await kernel.reboot({})).message, final: true }),
  },
  shutdown: {
    forms: [{ parameters: [] }],
    summary: 'stop everything cleanly and power off (exit status 0)',
    run: async (_, { kernel }) => ({ output: (await kernel.shutdown({ status: 0 })).message, final: true }),
  },
};

/** The command called `name`, if there is one (own properties only: not `toString`). */
export function lookUp(name: string): Command | undefined {
  return Object.hasOwn(commands, name) ? commands[name] : undefined;
}

/** Runs one command line; never throws. A usage error is followed by the usage it broke. */
export async function runCommand(line: string, services: CommandServices): Promise<CommandResult> {
  const words = splitWords(line);
  if (words.length === 0) return { output: '' };
  const command = lookUp(words[0]!);
  if (!command) return { output: `error: unknown command "${words[0]}" (try help)` };
  try {
    const syntax = { name: words[0]!, forms: command.forms };
    const args = parseArguments(syntax, words);
    await checkDisks(syntax, args, services);
    return await command.run(args, services);
  } catch (error) {
    if (error instanceof UsageError) return { output: `error: ${error.message}\nusage: ${error.usage}` };
    if (error instanceof CommandError || error instanceof DiskCommandError || error instanceof FileCommandError || error instanceof FetchError) return { output: `error: ${error.message}` };
    if (error instanceof IpcError) return { output: `error: ${error.message}` };
    return { output: `error: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** A DISK argument must name a disk there is: say which there are otherwise. */
async function checkDisks(syntax: Syntax, args: Arguments, services: CommandServices): Promise<void> {
  for (const parameter of args.form.parameters) {
    const name = parameter.kind === 'disk' ? args.optionalWord(parameter.name) : undefined;
    if (name === undefined) continue;
    const disks = await diskNames(services);
    if (!disks.includes(name)) {
      const known = disks.length === 0 ? 'there are none (see devices)' : `the disks: ${disks.join(', ')}`;
      const usage = formUsageLine(syntax, args.form);
      throw new UsageError(`${usage.split(' ', args.subcommand ? 2 : 1).join(' ')}: no disk named "${name}" (${known})`, usage);
    }
  }
}

/** One line per command; a usage longer than the column puts its summary on the next line. */
function helpText(): string {
  const column = 16;
  const rows = Object.entries(commands).map(([name, command]) => ({ usage: usageLine({ name, forms: command.forms }), summary: command.summary }));
  return [...rows.map(({ usage, summary }) => usage.length <= column
    ? `  ${usage.padEnd(column)}  ${summary}`
    : `  ${usage}\n  ${''.padEnd(column)}  ${summary}`), '', 'help COMMAND shows how to use one.'].join('\n');
}
