// The mount table: which filesystem server answers for which directory. A mount covers a
// directory of its parent mount (the mount point); its root inode stands in for that
// directory, and `..` at its root leads back to the mount point's parent.

import type { ClientOf } from '../../ipc/define.js';
import type { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import type { Mount } from '../../ipc/interfaces/fs.js';

export type FilesystemClient = ClientOf<typeof filesystemInterface>;

/** One inode of one mounted filesystem. */
export interface Location {
  readonly mount: MountedFilesystem;
  readonly inode: number;
}

export interface MountedFilesystem {
  /** The device number (Stat.device), unique for the VFS's life. */
  readonly id: number;
  /** Where it is mounted, as the mount table shows it. */
  readonly path: string;
  readonly service: string;
  readonly type: string;
  readonly filesystem: FilesystemClient;
  readonly root: number;
  readonly readOnly: boolean;
  /** The filesystem's `instance` at mount: another after a restart means its files are gone. */
  readonly instance?: string;
  /** The directory it covers; absent for the root mount. (Moves when its parent filesystem lost its files and the directory is made again.) */
  mountPoint?: Location;
}

export class MountTable {
  private readonly mounts: MountedFilesystem[] = [];
  private nextId = 1;

  /** The mount at "/", if any. */
  get root(): MountedFilesystem | undefined {
    return this.mounts.find((mount) => mount.mountPoint === undefined);
  }

  /** A new mount id. */
  allocateId(): number {
    return this.nextId++;
  }

  add(mount: MountedFilesystem): void {
    this.mounts.push(mount);
  }

  /** `renewed` takes `old`'s place (a filesystem that restarted with new contents); mounts on it stay on it. */
  replace(old: MountedFilesystem, renewed: MountedFilesystem): void {
    this.mounts[this.mounts.indexOf(old)] = renewed;
    for (const child of this.mounts) if (child.mountPoint?.mount === old) child.mountPoint = { mount: renewed, inode: child.mountPoint.inode };
  }

  remove(mount: MountedFilesystem): void {
    this.mounts.splice(this.mounts.indexOf(mount), 1);
  }

  /** The mount covering directory `location`, if one does. */
  mountedOn(location: Location): MountedFilesystem | undefined {
    return this.mounts.find((mount) => mount.mountPoint !== undefined && mount.mountPoint.mount === location.mount && mount.mountPoint.inode === location.inode);
  }

  /** What `location` is once every mount stacked on it is entered (the topmost root). */
  enter(location: Location): Location {
    let current = location;
    for (let covering = this.mountedOn(current); covering; covering = this.mountedOn(current)) current = { mount: covering, inode: covering.root };
    return current;
  }

  byService(service: string): MountedFilesystem | undefined {
    return this.mounts.find((mount) => mount.service === service);
  }

  /** Mounts whose mount point is on `mount`. */
  childrenOf(mount: MountedFilesystem): MountedFilesystem[] {
    return this.mounts.filter((child) => child.mountPoint?.mount === mount);
  }

  list(): readonly MountedFilesystem[] {
    return this.mounts;
  }

  /** The row `mounts` answers for `mount`. */
  static row(mount: MountedFilesystem): Mount {
    return { device: mount.id, path: mount.path, service: mount.service, type: mount.type, readOnly: mount.readOnly };
  }
}
