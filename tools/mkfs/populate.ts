// Copies a host folder into a mounted ext2 filesystem, as `mke2fs -d` does: directories,
// regular files (all-zero blocks become holes, so sparse files stay sparse), symlinks, with
// their permissions, owners and modification times. Other file types are skipped with a
// warning, as the filesystem has no use for the host's devices and sockets.

import { lstatSync, openSync, closeSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Ext2Filesystem } from '../../servers/ext2/filesystem.js';

export interface PopulateProgress {
  /** Called after each file with the bytes copied so far. */
  onBytes?(copied: number): void;
  onSkipped?(path: string, why: string): void;
}

/** Bytes of regular-file data below `folder` (for a progress bar). */
export function folderBytes(folder: string): number {
  let total = 0;
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    const stats = lstatSync(path);
    if (stats.isDirectory()) total += folderBytes(path);
    else if (stats.isFile()) total += stats.size;
  }
  return total;
}

/** Copies everything below host `folder` into directory inode `directory`. */
export async function populate(filesystem: Ext2Filesystem, directory: number, folder: string, progress: PopulateProgress = {}, copied = { bytes: 0 }): Promise<void> {
  const blockBytes = filesystem.superblock.blockBytes;
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    const stats = lstatSync(path);
    const owner = { uid: stats.uid, gid: stats.gid };
    const times = { accessTime: Math.floor(stats.atimeMs / 1000), modifyTime: Math.floor(stats.mtimeMs / 1000) };
    if (stats.isDirectory()) {
      const child = await filesystem.mkdir(directory, name, stats.mode & 0o7777, owner);
      await populate(filesystem, child, path, progress, copied);
      await filesystem.setAttributes(child, times);
    } else if (stats.isSymbolicLink()) {
      await filesystem.symlink(directory, name, readlinkSync(path), owner);
    } else if (stats.isFile()) {
      const inode = await filesystem.create(directory, name, stats.mode & 0o7777, owner);
      await copyFile(filesystem, inode, path, stats.size, blockBytes);
      copied.bytes += stats.size;
      progress.onBytes?.(copied.bytes);
      await filesystem.setAttributes(inode, times);
    } else {
      progress.onSkipped?.(path, 'not a file, directory or symlink');
    }
  }
}

async function copyFile(filesystem: Ext2Filesystem, inode: number, path: string, size: number, blockBytes: number): Promise<void> {
  const chunk = new Uint8Array(Math.max(blockBytes, 1024 * 1024));
  const descriptor = openSync(path, 'r');
  try {
    let offset = 0;
    while (offset < size) {
      const count = readSync(descriptor, chunk, 0, Math.min(chunk.length, size - offset), offset);
      if (count === 0) break;
      // Write runs of blocks that hold data; zero blocks stay holes.
      for (let start = 0; start < count; start += blockBytes) {
        const piece = chunk.subarray(start, Math.min(count, start + blockBytes));
        if (piece.some((byte) => byte !== 0)) await filesystem.write(inode, offset + start, piece);
      }
      offset += count;
    }
    // A file that ends in a hole still has its full size.
    if ((await filesystem.stat(inode)).size < size) await filesystem.truncate(inode, size);
  } finally {
    closeSync(descriptor);
  }
}
