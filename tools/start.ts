// `npm start`: build the board, enter the kernel, and be the console until power-off.

import { mkdirSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board } from '../hal/board.js';
import { SocketConsole } from '../hal/socket_console.js';
import { VirtioConsole } from '../hal/virtio/console.js';
import { ManifestError } from '../microkernel/manifest.js';
import { encodeInitrd, resolveBootManifest } from './boot_image.js';
import { parseStartOptions, UsageError } from './options.js';
import { buildRoot, runFiles } from './paths.js';

export async function main(argv: string[]): Promise<number> {
  let options;
  let initrd;
  try {
    options = parseStartOptions(argv);
    initrd = encodeInitrd(resolveBootManifest(options.manifest));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ManifestError) {
      process.stderr.write(`baton: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  mkdirSync(options.runDirectory, { recursive: true });
  const files = runFiles(options.runDirectory);
  const stdout = (bytes: Uint8Array | string) => process.stdout.write(bytes);
  const control = new SocketConsole(files.socket);
  const logFile = openSync(files.log, 'w');
  const mainConsole = new VirtioConsole({ input: process.stdin, output: (bytes) => stdout(bytes) });
  const controlConsole = new VirtioConsole({ output: (bytes) => control.output(bytes) });
  const logConsole = new VirtioConsole({ output: (bytes) => void writeSync(logFile, bytes) });
  control.connect(controlConsole);

  const board = new Board({
    ramSize: options.ramSize,
    bootargs: options.bootargs,
    kernelImage: fileURLToPath(new URL('microkernel/main.js', `file://${buildRoot}/`)),
    initrd,
    devices: [mainConsole, controlConsole, logConsole],
    earlyOutput: (text) => void stdout(text.replace(/\n/g, '\r\n')),
  });

  if (options.dumpDeviceTree) {
    writeFileSync(resolve(options.dumpDeviceTree), board.buildDeviceTree());
    closeSync(logFile);
    return 0;
  }

  try {
    await control.listen();
  } catch (error) {
    process.stderr.write(`baton: ${(error as Error).message}\n`);
    closeSync(logFile);
    return 1;
  }
  const raw = process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  const powerButton = () => void board.powerOff(130);
  process.once('SIGINT', powerButton);
  process.once('SIGTERM', powerButton);

  board.powerOn();
  const status = await board.exited;

  process.off('SIGINT', powerButton);
  process.off('SIGTERM', powerButton);
  if (raw) process.stdin.setRawMode(false);
  process.stdin.pause();
  process.stdin.unref?.();
  control.close();
  closeSync(logFile);
  return status;
}
