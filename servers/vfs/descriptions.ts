// Open-file descriptions (Linux's struct file): the file, the access mode, O_APPEND and
// the offset. Each is reference counted per holder (a client name): open gives one
// reference, dup and share one more, close takes one away; the description ends with its
// last reference. A holder that holds no reference to a description cannot use it (EBADF),
// so one client cannot read through another's numbers.

import { errnoError } from '../../ipc/interfaces/errno.js';
import { OpenFlags } from '../../ipc/interfaces/fs.js';
import type { Location } from './mount_table.js';

export interface Description {
  readonly id: number;
  readonly location: Location;
  readonly isDirectory: boolean;
  readonly readable: boolean;
  readonly writable: boolean;
  /** Access mode and status flags, as F_GETFL answers. */
  flags: number;
  offset: number;
  /** References per holder. */
  readonly holders: Map<string, number>;
}

const MAXIMUM_ID = 0x7fff_ffff;

export class DescriptionTable {
  private readonly descriptions = new Map<number, Description>();
  private nextId = 1;

  /** A new description with one reference for `holder`. */
  open(holder: string, location: Location, flags: number, isDirectory: boolean): Description {
    const accessMode = flags & OpenFlags.O_ACCMODE;
    while (this.descriptions.has(this.nextId)) this.nextId = this.nextId >= MAXIMUM_ID ? 1 : this.nextId + 1;
    const description: Description = {
      id: this.nextId,
      location,
      isDirectory,
      readable: accessMode === OpenFlags.O_RDONLY || accessMode === OpenFlags.O_RDWR,
      writable: accessMode === OpenFlags.O_WRONLY || accessMode === OpenFlags.O_RDWR,
      flags: accessMode | (flags & OpenFlags.O_APPEND),
      offset: 0,
      holders: new Map([[holder, 1]]),
    };
    this.nextId = this.nextId >= MAXIMUM_ID ? 1 : this.nextId + 1;
    this.descriptions.set(description.id, description);
    return description;
  }

  /** `id`, if `holder` holds a reference to it; EBADF otherwise. */
  get(holder: string, id: number): Description {
    const description = this.descriptions.get(id);
    if (!description || !description.holders.has(holder)) throw errnoError('EBADF', `no open description ${id}`);
    return description;
  }

  /** One more reference to `description` for `holder`. */
  addReference(description: Description, holder: string): void {
    description.holders.set(holder, (description.holders.get(holder) ?? 0) + 1);
  }

  /** Drops one of `holder`'s references; true when that was the description's last. */
  dropReference(description: Description, holder: string): boolean {
    const count = description.holders.get(holder) ?? 0;
    if (count <= 1) description.holders.delete(holder);
    else description.holders.set(holder, count - 1);
    if (description.holders.size > 0) return false;
    this.descriptions.delete(description.id);
    return true;
  }

  /** Drops every reference of `holder`: how many, and the descriptions that ended. */
  dropHolder(holder: string): { dropped: number; ended: Description[] } {
    let dropped = 0;
    const ended: Description[] = [];
    for (const description of this.descriptions.values()) {
      const count = description.holders.get(holder);
      if (count === undefined) continue;
      dropped += count;
      description.holders.delete(holder);
      if (description.holders.size === 0) {
        this.descriptions.delete(description.id);
        ended.push(description);
      }
    }
    return { dropped, ended };
  }

  /** Open descriptions of the file at `location`. */
  countOn(location: Location): number {
    let count = 0;
    for (const description of this.descriptions.values()) {
      if (description.location.mount === location.mount && description.location.inode === location.inode) count++;
    }
    return count;
  }

  /** Whether any description is open on a file of mount `mount`. */
  anyOnMount(mount: Location['mount']): boolean {
    for (const description of this.descriptions.values()) if (description.location.mount === mount) return true;
    return false;
  }
}
