// The board's disks for `npm start`: each --disk image as a virtio-blk device model, or,
// without --disk, the run directory's own image, made on the first boot and kept after,
// as a VM's disk is kept.
//
// An image is checked before anything is opened: a regular file, a whole number of
// 512-byte sectors, writable when attached read-write (even for root, whom the host would
// let write a 0444 file), and attached once. A bad --disk is a UsageError naming it.

import { chmodSync, closeSync, existsSync, ftruncateSync, openSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SECTOR_SIZE } from '../hal/virtio/block_layout.js';
import { VirtioBlock } from '../hal/virtio/block.js';
import { UsageError, type DiskOption } from './options.js';

/** Size of the image made when no --disk is given and the run directory has none yet. */
export const DEFAULT_DISK_BYTES = 64 * 1024 * 1024;
export const DEFAULT_DISK_NAME = 'disk.img';

/** Checks every disk (or the default one), then opens them; throws UsageError naming the bad --disk. */
export function openDisks(disks: readonly DiskOption[], runDirectory: string): VirtioBlock[] {
  const wanted = disks.length > 0 ? disks : [{ path: defaultImage(runDirectory), access: 'read-write' as const }];
  checkDisks(wanted);
  const opened: VirtioBlock[] = [];
  try {
    for (const disk of wanted) {
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

/** Throws UsageError for the first disk that cannot be attached as asked. */
export function checkDisks(disks: readonly DiskOption[]): void {
  const seen = new Map<string, string>();
  for (const disk of disks) {
    let stats: Stats;
    try {
      stats = statSync(disk.path);
    } catch {
      throw new UsageError(`--disk ${disk.path}: no such image file`);
    }
    if (!stats.isFile()) throw new UsageError(`--disk ${disk.path}: not a regular file (a disk image is one)`);
    if (stats.size === 0) throw new UsageError(`--disk ${disk.path}: the image is empty (a disk needs at least one ${SECTOR_SIZE}-byte sector)`);
    if (stats.size % SECTOR_SIZE !== 0) {
      throw new UsageError(`--disk ${disk.path}: ${stats.size} bytes is not a whole number of ${SECTOR_SIZE}-byte sectors`);
    }
    if (disk.access === 'read-write' && (stats.mode & 0o222) === 0) {
      throw new UsageError(`--disk ${disk.path}: the file is read-only (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); attach it with ${disk.path},ro`);
    }
    const identity = `${stats.dev}:${stats.ino}`;
    const earlier = seen.get(identity);
    if (earlier !== undefined) throw new UsageError(`--disk ${disk.path}: the same image as --disk ${earlier} (an image is attached once)`);
    seen.set(identity, disk.path);
  }
}

/** The run directory's image: made (sparse, zeroed) when absent, else kept as it is; mode 0600 either way. */
function defaultImage(runDirectory: string): string {
  const path = join(runDirectory, DEFAULT_DISK_NAME);
  if (existsSync(path)) {
    if (statSync(path).isFile()) chmodSync(path, 0o600);
    return path;
  }
  const descriptor = openSync(path, 'wx', 0o600);
  try {
    ftruncateSync(descriptor, DEFAULT_DISK_BYTES);
  } finally {
    closeSync(descriptor);
  }
  return path;
}
