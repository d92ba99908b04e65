// `npm run ctl -- COMMAND` / `baton COMMAND`: run a console command on a running system
// from another terminal, over the control socket in its run directory.
//
// The socket is a second console: we type the command line and read until the console
// prints its prompt again, or the system closes the socket, or the timeout (--timeout
// SECONDS, default 30) passes — then we say we gave up. Exit status: 0, 1 when the command
// reported an error or no answer came in time, 2 when no system is running there.

import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { defaultRunDirectory, runFiles } from './paths.js';

const PROMPT = 'baton> ';
const DEFAULT_TIMEOUT_SECONDS = 30;

export const CTL_USAGE = `usage: npm run ctl -- [--run-dir DIR] [--timeout SECONDS] COMMAND [ARGS...]
  runs a console command (help, ps, restart NAME, dmesg, ...) on the system running in DIR (default ./run),
  waiting at most SECONDS (default ${DEFAULT_TIMEOUT_SECONDS}) for its answer
usage: npm run ctl -- [--run-dir DIR] url
  prints the live view's address (with its token) of the system running in DIR`;

/** The answer did not come within the timeout. */
export class NoAnswerError extends Error {
  constructor(readonly seconds: number, readonly partial: string) {
    super(`no answer within ${seconds} s; gave up waiting (the command may still be running: see dmesg)`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let runDirectory = defaultRunDirectory;
  const at = args.indexOf('--run-dir');
  if (at >= 0) {
    const value = args[at + 1];
    if (!value) {
      process.stderr.write(`baton: --run-dir needs a directory\n${CTL_USAGE}\n`);
      return 2;
    }
    runDirectory = resolve(value);
    args.splice(at, 2);
  }
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  const timeoutAt = args.indexOf('--timeout');
  if (timeoutAt >= 0) {
    const value = Number(args[timeoutAt + 1]);
    if (!(value > 0) || !Number.isFinite(value)) {
      process.stderr.write(`baton: --timeout needs a positive number of seconds, got "${args[timeoutAt + 1] ?? ''}"\n${CTL_USAGE}\n`);
      return 2;
    }
    timeoutSeconds = value;
    args.splice(timeoutAt, 2);
  }
  if (args.length === 0 || args[0] === '--help') {
    process.stderr.write(`${CTL_USAGE}\n`);
    return 2;
  }
  // `load PATH` is resolved by the board, whose working directory may differ from ours.
  if (args[0] === 'load' && args[1] !== undefined && !isAbsolute(args[1])) args[1] = resolve(process.env.INIT_CWD ?? process.cwd(), args[1]);
  const { socket } = runFiles(runDirectory);
  const noSystem = `baton: no system is running in ${runDirectory} (start one with npm start, or choose one with --run-dir)\n`;
  if (!existsSync(socket)) {
    process.stderr.write(noSystem);
    return 2;
  }
  if (args[0] === 'url') return printViewUrl(runDirectory, args.length);
  try {
    const output = await runRemote(socket, args.join(' '), timeoutSeconds);
    if (output.length > 0) process.stdout.write(output + '\n');
    return output.startsWith('error:') ? 1 : 0;
  } catch (error) {
    if (error instanceof NoAnswerError) {
      if (error.partial.length > 0) process.stdout.write(error.partial + '\n');
      process.stderr.write(`baton: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') {
      process.stderr.write(noSystem);
      return 2;
    }
    throw error;
  }
}

/** `url`: the live view's address, which the board wrote (mode 0600) to the run directory at boot. */
function printViewUrl(runDirectory: string, argumentCount: number): number {
  if (argumentCount !== 1) {
    process.stderr.write(`baton: url takes no arguments\n${CTL_USAGE}\n`);
    return 2;
  }
  const { viewUrl } = runFiles(runDirectory);
  if (!existsSync(viewUrl)) {
    process.stderr.write(`baton: the system in ${runDirectory} runs without the live view (it was started with --no-http)\n`);
    return 1;
  }
  process.stdout.write(readFileSync(viewUrl, 'utf8'));
  return 0;
}

/**
 * Sends one command line; resolves with its output once the prompt returns or the system
 * closes the socket; rejects with NoAnswerError (carrying what came) after `timeoutSeconds`.
 */
export function runRemote(socketPath: string, line: string, timeoutSeconds = DEFAULT_TIMEOUT_SECONDS): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection(socketPath);
    let received = '';
    const clean = () => received.replace(/\r\n/g, '\n').replace(new RegExp(`${PROMPT}$`), '').replace(/\n$/, '');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new NoAnswerError(timeoutSeconds, clean()));
    }, timeoutSeconds * 1000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(clean());
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(line + '\n'));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.endsWith(PROMPT)) finish();
    });
    socket.on('close', finish);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
