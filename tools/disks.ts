// The board's disks for `npm start`: each --disk image as a virtio-blk device model, or,
// without --disk, a fresh sparse image in the run directory.

import { closeSync, existsSync, ftruncateSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VirtioBlock } from '../hal/virtio/block.js';
import { UsageError, type DiskOption } from './options.js';

/** Size of the image made when no --disk is given. */
export const DEFAULT_DISK_BYTES = 64 * 1024 * 1024;
export const DEFAULT_DISK_NAME = 'disk.img';

/** Opens every disk (or the default one); throws UsageError naming the bad --disk. */
export function openDisks(disks: readonly DiskOption[], runDirectory: string): VirtioBlock[] {
  const wanted = disks.length > 0 ? disks : [{ path: freshImage(runDirectory), access: 'read-write' as const }];
  const opened: VirtioBlock[] = [];
  try {
    for (const disk of wanted) {
      if (!existsSync(disk.path) || !statSync(disk.path).isFile()) throw new UsageError(`--disk ${disk.path}: no such image file`);
      try {
        opened.push(new VirtioBlock({ path: disk.path, access: disk.access }));
      } catch (error) {
        throw new UsageError(`--disk ${disk.path}: ${(error as Error).message}`);
      }
    }
  } catch (error) {
    for (const disk of opened) disk.close();
    throw error;
  }
  return opened;
}

/** A new, zeroed (sparse) image of DEFAULT_DISK_BYTES in `runDirectory`, replacing any old one. */
function freshImage(runDirectory: string): string {
  const path = join(runDirectory, DEFAULT_DISK_NAME);
  const descriptor = openSync(path, 'w');
  try {
    ftruncateSync(descriptor, DEFAULT_DISK_BYTES);
  } finally {
    closeSync(descriptor);
  }
  return path;
}
