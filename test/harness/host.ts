// What tests of the layers that run on threads (ipc, microkernel, servers, drivers) need
// from the host, so those tests see no Node types (their tsconfig.test.json gives them none):
// disk image files for the block device model, and numbers from the test's environment.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A disk image file in a fresh temporary directory, for hal/virtio/block.ts's VirtioBlock. */
export interface TemporaryDiskImage {
  /** The image's path on the host. */
  readonly path: string;
  /** The image's bytes as they are now on the host. */
  read(): Uint8Array;
  /** Removes the image and its directory (safe twice). */
  remove(): void;
}

/** Writes `contents` to a new image file (`name` goes into the directory's name, for a reader of /tmp). */
export function temporaryDiskImage(contents: Uint8Array, name = 'disk'): TemporaryDiskImage {
  const directory = mkdtempSync(join(tmpdir(), `baton-${name}-`));
  const path = join(directory, 'disk.img');
  writeFileSync(path, contents);
  return {
    path,
    read: () => new Uint8Array(readFileSync(path)),
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}

/** The environment variable `name` as a number, or `fallback` when it is unset or not a number. */
export function environmentNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] === undefined || Number.isNaN(value) ? fallback : value;
}

/** A fresh temporary directory (under TMPDIR), for files a test writes (captures, images). */
export function temporaryDirectory(name: string): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `baton-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The host's own SHA-256 of `data`, in hex (the reference a test compares baton's against). */
export function hostSha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
