// Kernel images on the host, as the board's firmware loads them for kexec
// (kexec_file_load's kernel + initrd): an image is a baton tree — a checkout whose
// build/ holds the compiled kernel — and its initrd is that tree's boot manifest.

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Ram } from '../hal/ram.js';
import { encodeInitrd, resolveBootManifest } from './boot_image.js';

export interface KernelImage {
  /** Host path of the compiled kernel entry (build/microkernel/main.js). */
  readonly kernel: string;
  readonly initrd: Uint8Array;
}

/** Resolves IMAGE (a tree root, its build/ directory, or the kernel's main.js) into kernel + initrd. */
export function loadKernelImage(image: string, manifest = 'default'): KernelImage {
  const path = resolve(image);
  if (!existsSync(path)) throw new Error(`no kernel image at ${path}`);
  let root: string;
  if (statSync(path).isFile()) root = resolve(dirname(path), '..', '..');
  else if (existsSync(join(path, 'build', 'microkernel', 'main.js'))) root = path;
  else if (existsSync(join(path, 'microkernel', 'main.js'))) root = resolve(path, '..');
  else throw new Error(`${path} is not a baton tree: no build/microkernel/main.js (run npm run build there)`);
  const kernel = join(root, 'build', 'microkernel', 'main.js');
  if (!existsSync(kernel)) throw new Error(`${root} has no compiled kernel (run npm run build there)`);
  return { kernel, initrd: encodeInitrd(resolveBootManifest(manifest, root), root) };
}

/** The board's host-request service: loads kexec images and writes files (`kho dump`). */
export function serveHostRequest(request: Record<string, unknown>, ram: Ram, manifest: string): Record<string, unknown> {
  try {
    switch (request.op) {
      case 'load-image': {
        const loaded = loadKernelImage(String(request.image), manifest);
        const capacity = Number(request.capacity);
        if (loaded.initrd.length > capacity) return { error: `initrd of ${loaded.initrd.length} bytes exceeds the ${capacity} reserved for it` };
        ram.write(Number(request.initrd), loaded.initrd);
        return { image: loaded.kernel, initrdLength: loaded.initrd.length };
      }
      case 'write-file': {
        const path = resolve(String(request.path));
        makeDirectories(dirname(path));
        const data = ram.read(Number(request.address), Number(request.length));
        writeFileSync(path, data);
        return { written: data.length, path };
      }
      default:
        return { error: `unknown host request ${JSON.stringify(request.op)}` };
    }
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * Makes `directory` and its missing parents one at a time, checking first that the nearest
 * existing ancestor is a directory. (Node's recursive mkdirSync loops forever, holding the
 * board's thread, where a parent exists but refuses children, as under /proc.) Throws an
 * error naming the directory that could not be made.
 */
function makeDirectories(directory: string): void {
  const missing: string[] = [];
  let at = directory;
  while (!existsSync(at)) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (existsSync(at) && !statSync(at).isDirectory()) throw new Error(`cannot write under ${directory}: ${at} is not a directory`);
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (error) {
      throw new Error(`cannot make the directory ${path}: ${(error as Error).message.split(',')[0]}`);
    }
  }
}
