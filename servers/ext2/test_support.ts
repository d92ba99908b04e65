// Path helpers for the ext2 tests: walk a path from the root through lookups, as the VFS
// will (without symlinks or mount points, which are the VFS's business).

import { Ext2Error } from './errors.js';
import type { Ext2Filesystem } from './filesystem.js';
import { MODE_DIRECTORY, MODE_TYPE_MASK } from './layout.js';

/** The inode of `path` ("/a/b"), following no symlinks. */
export async function resolvePath(filesystem: Ext2Filesystem, path: string): Promise<number> {
  let inode = filesystem.rootInode;
  for (const part of path.split('/').filter((piece) => piece.length > 0)) inode = await filesystem.lookup(inode, part);
  return inode;
}

/** The parent directory's inode and the last name of `path`. */
export async function resolveParent(filesystem: Ext2Filesystem, path: string): Promise<{ directory: number; name: string }> {
  const parts = path.split('/').filter((piece) => piece.length > 0);
  const name = parts.pop();
  if (name === undefined) throw new Error(`"${path}" has no last name`);
  const directory = await resolvePath(filesystem, parts.join('/'));
  if (((await filesystem.stat(directory)).mode & MODE_TYPE_MASK) !== MODE_DIRECTORY) {
    throw new Ext2Error('ENOTDIR', `"${parts.join('/')}" is not a directory`);
  }
  return { directory, name };
}
