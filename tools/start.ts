// `npm start`: build the board, enter the kernel, and be the console until power-off.

import { closeSync, fchmodSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { Ram } from '../hal/ram.js';
import { serveHostRequest } from './kernel_images.js';
import { serveLoadDriverRequest } from './driver_loader.js';
import { openDisks } from './disks.js';
import { describeNetwork, openNetwork } from './network.js';
import type { VirtioNet } from '../hal/virtio/net.js';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board } from '../hal/board.js';
import { DEVICE_KINDS } from '../hal/device_kinds.js';
import { SocketConsole } from '../hal/socket_console.js';
import { LiveView } from '../hal/live_view/live_view.js';
import { VirtioConsole } from '../hal/virtio/console.js';
import { VirtioEntropy } from '../hal/virtio/rng.js';
import type { VirtioBlock } from '../hal/virtio/block.js';
import { ManifestError } from '../microkernel/manifest.js';
import { encodeInitrd, resolveBootManifest } from './boot_image.js';
import { parseStartOptions, readRamImage, UsageError } from './options.js';
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

  let ramImage: Uint8Array | undefined;
  if (options.ramFile) {
    try {
      ramImage = readRamImage(options.ramFile);
    } catch (error) {
      process.stderr.write(`baton: ${(error as Error).message}\n`);
      return 2;
    }
  }

  // Claim the run directory before touching anything in it: a start refused because a
  // system runs there leaves that system's log and disk as they are.
  mkdirSync(options.runDirectory, { recursive: true, mode: 0o700 });
  const files = runFiles(options.runDirectory);
  // Sessions on the control socket take turns line by line; the console's prompt ends an answer.
  const control = new SocketConsole(files.socket, { answerEnd: 'baton> ' });
  if (!options.dumpDeviceTree) {
    try {
      await control.listen();
    } catch (error) {
      process.stderr.write(`baton: ${(error as Error).message}\n`);
      return 1;
    }
  }
  // The live view (--http): a page on 127.0.0.1 with a token in its URL, fed by two consoles.
  const view = options.httpPort === undefined || options.dumpDeviceTree ? undefined : new LiveView({ port: options.httpPort, prompt: 'baton> ' });
  if (view) {
    try {
      await view.listen();
    } catch (error) {
      process.stderr.write(`baton: ${(error as Error).message}\n`);
      control.close();
      return 1;
    }
  }
  let disks: VirtioBlock[];
  try {
    disks = openDisks(options.disks, options.runDirectory);
  } catch (error) {
    process.stderr.write(`baton: ${(error as Error).message}\n`);
    control.close();
    view?.close();
    return 2;
  }
  const stdout = (bytes: Uint8Array | string) => process.stdout.write(bytes);
  let network: VirtioNet | undefined;
  if (options.network && !options.dumpDeviceTree) {
    try {
      network = await openNetwork(options.network, options.runDirectory, (message) => void stdout(`board: ${message}\r\n`));
    } catch (error) {
      process.stderr.write(`baton: --net ${options.network.backend.kind}: ${(error as Error).message}\n`);
      for (const disk of disks) disk.close();
      control.close();
      return 1;
    }
  } else if (options.network) {
    network = describeNetwork(options.runDirectory);
  }
  const logFile = options.dumpDeviceTree ? undefined : openPrivate(files.log);
  const mainConsole = new VirtioConsole({ input: process.stdin, output: (bytes) => stdout(bytes) });
  const controlConsole = new VirtioConsole({ output: (bytes) => control.output(bytes) });
  const logConsole = new VirtioConsole({ output: (bytes) => void (logFile !== undefined && writeSync(logFile, bytes)) });
  control.connect(controlConsole);
  // The view console carries the view server's panels; the page console is the page's terminal.
  // Both are on the board with --no-http too, as serial ports with nothing plugged in.
  const viewConsole = new VirtioConsole({ output: (bytes) => view?.hub.output(bytes) });
  const pageConsole = new VirtioConsole({ output: (bytes) => view?.terminals.output(bytes) });
  view?.hub.connect(viewConsole);
  view?.terminals.connect(pageConsole);

  const board = new Board({
    ramSize: options.ramSize,
    cpus: options.cpus,
    ...(ramImage ? { ramImage } : {}),
    ...(options.incomingHandover ? { incomingHandover: options.incomingHandover } : {}),
    hostRequest: (request, ram) => request.op === 'load-driver' ? serveLoadDriverRequest(request) : serveHostRequest(request, ram, options.manifest),
    ...(options.dumpRam ? { saveRam: (ram, why, chosen) => saveRam(options.dumpRam!, ram, why, chosen, stdout) } : {}),
    bootargs: options.bootargs,
    kernelImage: fileURLToPath(new URL('microkernel/main.js', `file://${buildRoot}/`)),
    initrd,
    // The live view's consoles come after the network device, so the board's other slots keep their addresses.
    devices: [mainConsole, controlConsole, logConsole, new VirtioEntropy(), ...disks, ...(network ? [network] : []), viewConsole, pageConsole],
    onPowerTransition: (kind) => view?.hub.systemGoingDown(kind === 'kexec' ? 'kexec' : 'reboot'),
    spareDevices: options.devices.map((kind) => DEVICE_KINDS[kind]!.create()),
    earlyOutput: (text) => void stdout(text.replace(/\n/g, '\r\n')),
  });

  if (options.dumpDeviceTree !== undefined) {
    writeFileSync(resolve(options.dumpDeviceTree), board.buildDeviceTree());
    for (const disk of disks) disk.close();
    return 0;
  }
  if (view) {
    writeFileSync(files.viewUrl, view.url + '\n', { mode: 0o600 });
    stdout(`baton: live view at ${view.url}\r\n`);
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
  view?.close();
  rmSync(files.viewUrl, { force: true });
  if (logFile !== undefined) closeSync(logFile);
  return status;
}

/** Opens (truncating) a run-directory file that only its owner may read: mode 0600 whether new or old. */
function openPrivate(path: string): number {
  const descriptor = openSync(path, 'w', 0o600);
  fchmodSync(descriptor, 0o600);
  return descriptor;
}

/** --dump-ram: writes RAM to `path` and says how to boot the handover it holds. */
function saveRam(path: string, ram: Ram, why: string, chosen: { fdt?: number; scratch?: number; scratchLength?: number }, print: (text: string) => void): void {
  writeFileSync(path, ram.bytes, { mode: 0o600 });
  const resume = chosen.fdt !== undefined && chosen.scratch !== undefined
    ? `; boot this handover with: npm start -- --ram ${path} --kho-fdt 0x${chosen.fdt.toString(16)} --kho-scratch 0x${chosen.scratch.toString(16)},${chosen.scratchLength}`
    : '';
  print(`board: RAM saved to ${path} at ${why}${resume}\r\n`);
}
