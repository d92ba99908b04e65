// Path resolution (Linux's namei): walks components from the root or from a starting
// directory, through `.`, `..`, symlinks and mount points.
//
//   - `..` at a mount's root goes to the mount point's parent (and stays at "/" at the root);
//   - a directory that is a mount point is entered: its mount's root stands in for it;
//   - a symlink met before the last component is always followed, the last one only when
//     asked; an absolute target restarts at the root, a relative one at the link's
//     directory; more than SYMLINK_LIMIT (40) links in one resolution is ELOOP;
//   - a component below a non-directory is ENOTDIR, a missing one ENOENT.

import { errnoError } from '../../ipc/interfaces/errno.js';
import type { FileAttributes } from '../../ipc/interfaces/filesystem.js';
import { FileType, SYMLINK_LIMIT } from '../../ipc/interfaces/fs.js';
import type { Location, MountTable } from './mount_table.js';
import { parsePath } from './path_names.js';

export interface Resolved {
  readonly location: Location;
  readonly attributes: FileAttributes;
}

/** The directory a new name goes in, and the name. */
export interface ResolvedParent {
  readonly directory: Location;
  /** The last component as written: may be `.` or `..` (callers refuse those as Linux does). */
  readonly name: string;
  readonly trailingSlash: boolean;
}

export const isDirectory = (attributes: FileAttributes) => (attributes.mode & FileType.S_IFMT) === FileType.S_IFDIR;
export const isSymlink = (attributes: FileAttributes) => (attributes.mode & FileType.S_IFMT) === FileType.S_IFLNK;
export const isRegular = (attributes: FileAttributes) => (attributes.mode & FileType.S_IFMT) === FileType.S_IFREG;

export class PathResolver {
  constructor(private readonly mounts: MountTable) {}

  /** The root directory; ENOENT while nothing is mounted at "/". */
  rootLocation(): Location {
    const root = this.mounts.root;
    if (!root) throw errnoError('ENOENT', 'no filesystem is mounted at /');
    return this.mounts.enter({ mount: root, inode: root.root });
  }

  /** What `path` names, from `start` (default: the root) when relative. */
  async resolve(path: string, start: Location | undefined, options: { followLast: boolean }): Promise<Resolved> {
    const parsed = parsePath(path);
    const from = parsed.absolute || !start ? this.rootLocation() : start;
    const resolved = await this.walk(from, parsed.components, options.followLast || parsed.trailingSlash, { links: 0 });
    if (parsed.trailingSlash && !isDirectory(resolved.attributes)) throw errnoError('ENOTDIR', `${path}: not a directory`);
    return resolved;
  }

  /** The directory holding `path`'s last component, and that component. */
  async resolveParent(path: string, start: Location | undefined): Promise<ResolvedParent> {
    const parsed = parsePath(path);
    const from = parsed.absolute || !start ? this.rootLocation() : start;
    if (parsed.components.length === 0) return { directory: from, name: '.', trailingSlash: false };
    const parent = await this.walk(from, parsed.components.slice(0, -1), true, { links: 0 });
    if (!isDirectory(parent.attributes)) throw errnoError('ENOTDIR', `${path}: a component is not a directory`);
    return { directory: parent.location, name: parsed.components.at(-1)!, trailingSlash: parsed.trailingSlash };
  }

  /** `name` in `directory` (no symlink followed), with mount points entered. ENOENT if absent. */
  async lookup(directory: Location, name: string): Promise<Resolved> {
    if (name === '.') return { location: directory, attributes: await directory.mount.filesystem.getattr({ inode: directory.inode }) };
    if (name === '..') {
      const parent = await this.parentOf(directory);
      return { location: parent, attributes: await parent.mount.filesystem.getattr({ inode: parent.inode }) };
    }
    const attributes = await directory.mount.filesystem.lookup({ directory: directory.inode, name });
    const location = this.mounts.enter({ mount: directory.mount, inode: attributes.inode });
    if (location.mount === directory.mount) return { location, attributes };
    return { location, attributes: await location.mount.filesystem.getattr({ inode: location.inode }) };
  }

  /** The directory `..` of `directory` names, across mount roots. */
  async parentOf(directory: Location): Promise<Location> {
    let current = directory;
    while (current.inode === current.mount.root) {
      if (!current.mount.mountPoint) return current; // `..` of "/" is "/"
      current = current.mount.mountPoint;
    }
    const parent = await current.mount.filesystem.lookup({ directory: current.inode, name: '..' });
    return this.mounts.enter({ mount: current.mount, inode: parent.inode });
  }

  private async walk(start: Location, components: readonly string[], followLast: boolean, count: { links: number }): Promise<Resolved> {
    let current: Resolved = { location: start, attributes: await start.mount.filesystem.getattr({ inode: start.inode }) };
    const pending = [...components];
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (!isDirectory(current.attributes)) throw errnoError('ENOTDIR', `${name}: a component on the way is not a directory`);
      const next = await this.lookup(current.location, name);
      const last = pending.length === 0;
      if (isSymlink(next.attributes) && (!last || followLast)) {
        if (++count.links > SYMLINK_LIMIT) throw errnoError('ELOOP', `more than ${SYMLINK_LIMIT} symlinks`);
        const { target } = await next.location.mount.filesystem.readlink({ inode: next.location.inode });
        const parsed = parsePath(target);
        pending.unshift(...parsed.components);
        if (parsed.absolute) {
          const root = this.rootLocation();
          current = { location: root, attributes: await root.mount.filesystem.getattr({ inode: root.inode }) };
        }
        continue;
      }
      current = next;
    }
    return current;
  }
}
