// Server names ↔ the numeric owner ids the allocator keeps in its typed arrays.
//
// The kernel names every client when it attaches its channel, so a name is who a caller is.
// "kernel" is always owner 0 (KERNEL_OWNER) and "shared" the pseudo-owner of blocks whose
// owner let go while mappings hold them (SHARED_OWNER); every other name gets the next free
// id on first sight and keeps it for the server's life (ids are not reused: a restarted
// server comes back as the same owner, with nothing charged to it after reclaim).

import { InvalidArgumentError } from './errors.js';
import { KERNEL_OWNER, MAXIMUM_OWNER, SHARED_OWNER } from './owner_accounts.js';

export const KERNEL_NAME = 'kernel';
export const SHARED_NAME = 'shared';

export class OwnerNames {
  readonly #ids = new Map<string, number>([[KERNEL_NAME, KERNEL_OWNER], [SHARED_NAME, SHARED_OWNER]]);
  readonly #names = new Map<number, string>([[KERNEL_OWNER, KERNEL_NAME], [SHARED_OWNER, SHARED_NAME]]);
  #next = KERNEL_OWNER + 1;
  /** Called when a name gets an id (the memory server's tables must be written again). */
  changed: () => void = () => undefined;

  /** Every name given an id, for the state region. */
  records(): { names: [string, number][]; next: number } {
    return { names: [...this.#ids].filter(([, id]) => id !== KERNEL_OWNER && id !== SHARED_OWNER), next: this.#next };
  }

  /** Back to `records` (a new generation reattaching, or an operation rolled back). */
  restore(records: { names: readonly (readonly [string, number])[]; next: number }): void {
    for (const [name, id] of [...this.#ids]) {
      if (id === KERNEL_OWNER || id === SHARED_OWNER) continue;
      this.#ids.delete(name);
      this.#names.delete(id);
    }
    for (const [name, id] of records.names) {
      this.#ids.set(name, id);
      this.#names.set(id, name);
    }
    this.#next = records.next;
  }

  /** The id of `name`, assigned now if it has none. Throws InvalidArgumentError when every id is taken. */
  idOf(name: string): number {
    const known = this.#ids.get(name);
    if (known !== undefined) return known;
    if (this.#next >= SHARED_OWNER || this.#next > MAXIMUM_OWNER) throw new InvalidArgumentError(`no owner id left for "${name}"`, { name });
    const id = this.#next++;
    this.#ids.set(name, id);
    this.#names.set(id, name);
    this.changed();
    return id;
  }

  /** The id of `name` if it has one. */
  find(name: string): number | undefined {
    return this.#ids.get(name);
  }

  /** The name of owner `id` ("owner N" for an id never named). */
  nameOf(id: number): string {
    return this.#names.get(id) ?? `owner ${id}`;
  }

  /** Every named owner, by id (for the report). */
  get names(): ReadonlyMap<number, string> {
    return this.#names;
  }
}
