// kexec with KHO: enter a kernel image (this build, or another one on the host) keeping
// RAM, with a device tree whose /chosen carries linux,kho-fdt and linux,kho-scratch.
//
// As Linux's kexec_file_load + reboot(RB_KEXEC): the image and its initrd are loaded into
// the first KHO scratch area before anything stops, and everything the rest needs is
// checked then too (the KHO server running for a handover, a /chosen node, room for the
// new device tree): a kexec that cannot go through is an error and the system keeps
// running. Then every server but the KHO server stops; the KHO server
// writes the scratch array (and poisons unpreserved pages with kho_poison); the new
// device tree goes into scratch; the KHO server stops; the firmware enters the image.

import { PAGE_SIZE, hex } from '../hal/address.js';
import { decodeFdt } from '../hal/fdt/decode.js';
import { encodeFdt } from '../hal/fdt/encode.js';
import { findNode, removeProperty, setProperty, type Fdt } from '../hal/fdt/tree.js';
import { fdtValue } from '../hal/fdt/values.js';
import type { FirmwareCalls } from '../hal/firmware.js';
import type { Ram } from '../hal/ram.js';
import type { ClientOf } from '../ipc/define.js';
import { IpcError } from '../ipc/errors.js';
import type { khoInterface } from '../ipc/interfaces/kho.js';
import type { BootMemory } from './boot_memory.js';

const TREE_SPACE = 64 * 1024;
const PATH_SPACE = 64 * 1024;
const MAXIMUM_INITRD = 4 * 1024 * 1024;

export class KexecError extends IpcError {
  constructor(message: string) {
    super('KEXEC_FAILED', message);
  }
}

export interface KexecHost {
  readonly ram: Ram;
  readonly tree: Fdt;
  readonly memory: BootMemory;
  readonly firmware: FirmwareCalls;
  /** The kernel's own RAM buffer for firmware host requests. */
  readonly hostBuffer: { readonly address: number; readonly size: number };
  /** The image this kernel was entered from (the default). */
  readonly currentImage: string;
  print(line: string): void;
  /** Stops every program except those serving `keep`. */
  stopAllExcept(keep: string[]): Promise<void>;
  stopEverything(): Promise<void>;
  kho(): ClientOf<typeof khoInterface> | undefined;
  /** The state of the program serving `service` ('running', 'stopped', 'failed', ...), undefined if none does. */
  serviceState(service: string): string | undefined;
}

export interface LoadedImage {
  readonly image: string;
  readonly layout: { readonly tree: number; readonly path: number; readonly initrd: number; readonly initrdLength: number };
  readonly handover: boolean;
}

/** Checks what kexec needs, then loads the image and its initrd into place; throws KexecError, changing nothing else. */
export function loadImage(host: KexecHost, image: string | undefined): LoadedImage {
  const handover = host.memory.kho.enabled && host.memory.scratch.length > 0 && host.kho() !== undefined;
  const khoState = host.serviceState('kho');
  if (handover && khoState !== 'running') {
    throw new KexecError(`kexec: kho is ${khoState ?? 'not there'}, and the handover needs it (start kho first; nothing was stopped)`);
  }
  if (!findNode(host.tree.root, '/chosen')) throw new KexecError('kexec: the device tree has no /chosen node; nothing was stopped');
  // The new tree adds the initrd and the two KHO pointers (16 bytes each) to this one.
  if (encodeFdt(host.tree).length + 1024 > TREE_SPACE) throw new KexecError('kexec: the device tree is larger than the space for the next one; nothing was stopped');
  const area = handover
    ? host.memory.scratch.reduce((largest, candidate) => (candidate.size > largest.size ? candidate : largest))
    : { addr: host.ram.end - TREE_SPACE - PATH_SPACE - MAXIMUM_INITRD, size: TREE_SPACE + PATH_SPACE + MAXIMUM_INITRD };
  const tree = area.addr;
  const path = tree + TREE_SPACE;
  const initrd = path + PATH_SPACE;
  // The memory server's state may sit at the top of the area (boot_memory.ts): load below it.
  const state = host.memory.memoryState;
  const areaEnd = state && state.base > initrd && state.base < area.addr + area.size ? state.base : area.addr + area.size;
  const capacity = Math.min(MAXIMUM_INITRD, areaEnd - initrd - PAGE_SIZE * 16);
  if (capacity <= 0) throw new KexecError(`KHO scratch area at ${hex(area.addr)} is too small to load a kernel into`);
  const answer = host.firmware.hostRequest(host.hostBuffer.address, host.hostBuffer.size, {
    op: 'load-image', image: image ?? host.currentImage, initrd, capacity,
  });
  if (typeof answer.error === 'string') throw new KexecError(`kexec: ${answer.error}`);
  const loaded = String(answer.image);
  const bytes = new TextEncoder().encode(loaded);
  host.ram.write(path, bytes);
  return { image: loaded, layout: { tree, path, initrd, initrdLength: Number(answer.initrdLength) }, handover };
}

/** Stops the system and enters the loaded image. Does not return on success (the board ends this thread). */
export async function enterImage(host: KexecHost, loaded: LoadedImage): Promise<void> {
  const { layout } = loaded;
  const tree = cloneTree(host.tree);
  const chosen = findNode(tree.root, '/chosen');
  if (!chosen) throw new KexecError('the device tree has no /chosen node');
  setProperty(chosen, 'linux,initrd-start', fdtValue.u64(layout.initrd));
  setProperty(chosen, 'linux,initrd-end', fdtValue.u64(layout.initrd + layout.initrdLength));
  removeProperty(chosen, 'linux,kho-fdt');
  removeProperty(chosen, 'linux,kho-scratch');

  const kho = loaded.handover ? host.kho() : undefined;
  if (kho) {
    await host.stopAllExcept(['kho']);
    const pathLength = new TextEncoder().encode(loaded.image).length;
    const keep = [
      { start: layout.tree, end: layout.tree + TREE_SPACE },
      { start: layout.path, end: layout.path + pathLength },
      { start: layout.initrd, end: layout.initrd + layout.initrdLength },
      { start: host.ram.base, end: host.ram.base + 2 * 1024 * 1024 },
    ];
    const pointers = await kho.prepareHandover({ poison: host.memory.kho.poison, keep });
    setProperty(chosen, 'linux,kho-fdt', fdtValue.u64(pointers.fdtPa, pointers.fdtSize));
    setProperty(chosen, 'linux,kho-scratch', fdtValue.u64(pointers.scratchPa, pointers.scratchSize));
    host.print(`kexec: KHO FDT at ${hex(pointers.fdtPa)}, scratch array at ${hex(pointers.scratchPa)}` +
      (host.memory.kho.poison ? `, ${pointers.poisonedBytes} bytes poisoned` : ''));
  }
  await host.stopEverything();
  const blob = encodeFdt(tree);
  if (blob.length > TREE_SPACE) throw new KexecError('the new device tree is larger than its space');
  host.ram.write(layout.tree, blob);
  host.print(`kexec: entering ${loaded.image} with device tree at ${hex(layout.tree)}`);
  host.firmware.kexec(layout.path, new TextEncoder().encode(loaded.image).length, layout.tree);
}

function cloneTree(tree: Fdt): Fdt {
  return decodeFdt(encodeFdt(tree));
}
