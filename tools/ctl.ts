// `npm run ctl -- COMMAND` / `baton COMMAND`: run a console command on a running system
// from another terminal, over the control socket in its run directory.
//
// The socket is a second console: we type the command line and read until the console
// prints its prompt again. Exit status: 0, 1 when the command reported an error, 2 when
// no system is running there.

import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { defaultRunDirectory, runFiles } from './paths.js';

const PROMPT = 'baton> ';

export const CTL_USAGE = `usage: npm run ctl -- [--run-dir DIR] COMMAND [ARGS...]
  runs a console command (help, ps, restart NAME, dmesg, ...) on the system running in DIR (default ./run)`;

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
  try {
    const output = await runRemote(socket, args.join(' '));
    if (output.length > 0) process.stdout.write(output + '\n');
    return output.startsWith('error:') ? 1 : 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') {
      process.stderr.write(noSystem);
      return 2;
    }
    throw error;
  }
}

/** Sends one command line; resolves with its output once the prompt returns or the system closes the socket. */
export function runRemote(socketPath: string, line: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection(socketPath);
    let received = '';
    const finish = () => {
      socket.destroy();
      resolvePromise(received.replace(/\r\n/g, '\n').replace(new RegExp(`${PROMPT}$`), '').replace(/\n$/, ''));
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(line + '\n'));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.endsWith(PROMPT)) finish();
    });
    socket.on('close', finish);
    socket.on('error', reject);
  });
}
