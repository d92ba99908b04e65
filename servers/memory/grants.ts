// The grant table: pages one server lends another, and the access check built on it.
//
// A grant lends whole pages [base, base + length) that the granter owns to one grantee, for
// reading or for reading and writing; the IPC library uses grants to pass payloads too large for
// a ring. Grants are revoked explicitly by either side, when either side exits or restarts
// (revokeAllFor), and when the lent pages are freed (revokeRange).
//
// check() answers whether a server may touch a physical range: every page must be owned by it
// or lent to it by a grant that allows the access. In checked mode the runtime calls enforce()
// for each access a server makes; a violation is logged (who, where, what, whose page) and
// thrown as AccessViolationError.

import { type PhysAddr, PAGE_SIZE, hex } from '../../hal/address.js';
import { AccessViolationError, type AccessViolation, type MemoryAccess } from '../../ipc/interfaces/memory_errors.js';
import { InvalidArgumentError, InvalidBlockError, MemoryError, NotFoundError } from './errors.js';

export type GrantMode = 'read' | 'read-write';

export interface Grant {
  readonly id: number;
  readonly owner: number;
  readonly grantee: number;
  readonly base: PhysAddr;
  readonly length: number;
  readonly mode: GrantMode;
}

/** Who owns the page holding an address: an owner id, or -1 for free or unmanaged memory. */
export interface OwnershipLookup {
  ownerAt(address: number): number;
}

// AccessViolationError is the memory interface's (ipc/interfaces/memory_errors.ts), so clients re-create it.
export { AccessViolationError, describeViolation, type AccessViolation, type MemoryAccess } from '../../ipc/interfaces/memory_errors.js';

/** The grant table as the state region keeps it (state_region.ts): grants as tuples, and the next id. */
export interface GrantRecords {
  readonly grants: readonly (readonly [id: number, owner: number, grantee: number, base: number, length: number, mode: GrantMode])[];
  readonly nextId: number;
}

/** How many violations enforce() keeps for `mem` and tests. */
export const VIOLATION_LOG_SIZE = 64;

export class GrantTable {
  readonly #ownership: OwnershipLookup;
  readonly #grants = new Map<number, Grant>();
  readonly #byGrantee = new Map<number, Grant[]>();
  readonly #violations: AccessViolation[] = [];
  #nextId = 1;
  /** Called whenever a grant is made or ends (the tables must be written again). */
  readonly #changed: () => void;

  constructor(ownership: OwnershipLookup, changed: () => void = () => undefined) {
    this.#ownership = ownership;
    this.#changed = changed;
  }

  /** The grants and the next id, for the state region. */
  records(): GrantRecords {
    return { grants: [...this.#grants.values()].map((grant) => [grant.id, grant.owner, grant.grantee, grant.base, grant.length, grant.mode] as const), nextId: this.#nextId };
  }

  /** Replaces every grant with `records` (a new generation reattaching). */
  restore(records: GrantRecords): void {
    this.#grants.clear();
    this.#byGrantee.clear();
    for (const [id, owner, grantee, base, length, mode] of records.grants) this.#add({ id, owner, grantee, base: base as PhysAddr, length, mode });
    this.#nextId = records.nextId;
  }

  /**
   * Lends [base, base + length) (whole pages, all owned by `owner`) to `grantee`. Returns the
   * grant. Throws INVALID_ARGUMENT for a malformed range or self-grant, NOT_OWNER otherwise.
   */
  grant(owner: number, grantee: number, base: number, length: number, mode: GrantMode): Grant {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base % PAGE_SIZE !== 0 || length <= 0 || length % PAGE_SIZE !== 0) {
      throw new InvalidArgumentError(`a grant must be whole pages, got ${hex(base)}+${length}`, { base, length });
    }
    if (mode !== 'read' && mode !== 'read-write') throw new InvalidArgumentError(`grant mode must be 'read' or 'read-write', got ${String(mode)}`);
    if (owner === grantee) throw new InvalidArgumentError(`owner ${owner} cannot grant pages to itself`, { owner });
    for (let page = base; page < base + length; page += PAGE_SIZE) {
      const actual = this.#ownership.ownerAt(page);
      if (actual !== owner) throw new InvalidBlockError('NOT_OWNER', `owner ${owner} cannot lend ${hex(page)}: it belongs to ${actual < 0 ? 'nobody' : `owner ${actual}`}`, { owner, page, actualOwner: actual });
    }
    const grant: Grant = { id: this.#nextId++, owner, grantee, base: base as PhysAddr, length, mode };
    this.#add(grant);
    this.#changed();
    return grant;
  }

  /** Ends grant `id`; `by` must be its owner or grantee. Returns it. Throws NO_SUCH_GRANT or NOT_OWNER. */
  revoke(id: number, by: number): Grant {
    const grant = this.#grants.get(id);
    if (!grant) throw new NotFoundError('NO_SUCH_GRANT', `no grant ${id}`, { id });
    if (by !== grant.owner && by !== grant.grantee) throw new InvalidBlockError('NOT_OWNER', `owner ${by} is not a party to grant ${id}`, { id, by });
    this.#remove(grant);
    return grant;
  }

  /** Ends every grant `party` made or received (on its exit or restart). Returns them. */
  revokeAllFor(party: number): Grant[] {
    return this.#removeWhere((grant) => grant.owner === party || grant.grantee === party);
  }

  /** Ends every grant lending any page of [base, base + length) (the pages are being freed). Returns them. */
  revokeRange(base: number, length: number): Grant[] {
    return this.#removeWhere((grant) => grant.base < base + length && base < grant.base + grant.length);
  }

  get(id: number): Grant | undefined {
    return this.#grants.get(id);
  }

  /** Every live grant, by id. */
  list(): Grant[] {
    return [...this.#grants.values()];
  }

  /** Grants `party` made or received. */
  grantsOf(party: number): Grant[] {
    return this.list().filter((grant) => grant.owner === party || grant.grantee === party);
  }

  /** Undefined if `accessor` may make `access` to every byte of [address, address + length), else the first violation. */
  check(accessor: number, address: number, length: number, access: MemoryAccess): AccessViolation | undefined {
    if (!(Number.isSafeInteger(address) && Number.isSafeInteger(length) && address >= 0 && length > 0)) {
      throw new InvalidArgumentError(`bad range ${address}+${length}`, { address: Number(address), length: Number(length) });
    }
    const received = this.#byGrantee.get(accessor);
    const end = address + length;
    for (let page = address - (address % PAGE_SIZE); page < end; page += PAGE_SIZE) {
      const owner = this.#ownership.ownerAt(page);
      if (owner === accessor && owner >= 0) continue;
      let readOnly = false;
      let granted = false;
      for (const grant of received ?? []) {
        if (page >= grant.base && page < grant.base + grant.length) {
          if (access === 'read' || grant.mode === 'read-write') {
            granted = true;
            break;
          }
          readOnly = true;
        }
      }
      if (!granted) return { accessor, address: Math.max(page, address), length, access, owner, reason: readOnly ? 'read-only-grant' : 'not-owned' };
    }
    return undefined;
  }

  /** check(), logging and throwing AccessViolationError on a violation: the checked mode. */
  enforce(accessor: number, address: number, length: number, access: MemoryAccess): void {
    const violation = this.check(accessor, address, length, access);
    if (!violation) return;
    this.#violations.push(violation);
    if (this.#violations.length > VIOLATION_LOG_SIZE) this.#violations.shift();
    throw new AccessViolationError(violation);
  }

  /** The most recent violations enforce() caught, oldest first. */
  get violations(): readonly AccessViolation[] {
    return this.#violations;
  }

  #add(grant: Grant): void {
    this.#grants.set(grant.id, grant);
    const list = this.#byGrantee.get(grant.grantee);
    if (list) list.push(grant);
    else this.#byGrantee.set(grant.grantee, [grant]);
  }

  #remove(grant: Grant): void {
    this.#changed();
    this.#grants.delete(grant.id);
    const list = this.#byGrantee.get(grant.grantee)!.filter((candidate) => candidate !== grant);
    if (list.length > 0) this.#byGrantee.set(grant.grantee, list);
    else this.#byGrantee.delete(grant.grantee);
  }

  #removeWhere(predicate: (grant: Grant) => boolean): Grant[] {
    const doomed = [...this.#grants.values()].filter(predicate);
    for (const grant of doomed) this.#remove(grant);
    return doomed;
  }
}
