import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { PAGE_SIZE } from '../../hal/address.js';
import { BuddyAllocator } from './buddy.js';
import { AccessViolationError, GrantTable, VIOLATION_LOG_SIZE } from './grants.js';
import { MemoryError } from './errors.js';

const A = 1;
const B = 2;
const C = 3;

function setup(): { buddy: BuddyAllocator; grants: GrantTable; ram: Ram } {
  const ram = Ram.allocate(4 << 20);
  const buddy = new BuddyAllocator(ram);
  buddy.addFreeRange(ram.base, ram.size);
  return { ram, buddy, grants: new GrantTable(buddy) };
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as MemoryError).code;
  }
  return undefined;
}

describe('GrantTable', () => {
  it('check allows an owner its own pages and nobody else', () => {
    const { buddy, grants } = setup();
    const block = buddy.allocate(A, 2);
    expect(grants.check(A, block + 10, 4 * PAGE_SIZE - 10, 'write')).toBeUndefined();
    expect(grants.check(B, block + PAGE_SIZE + 8, 4, 'read')).toEqual({ accessor: B, address: block + PAGE_SIZE + 8, length: 4, access: 'read', owner: A, reason: 'not-owned' });
    // Running past the end of the block touches a free page.
    expect(grants.check(A, block + 4 * PAGE_SIZE - 4, 8, 'read')).toMatchObject({ address: block + 4 * PAGE_SIZE, owner: -1 });
  });

  it('grant lends pages read-only or read-write to exactly one grantee', () => {
    const { buddy, grants } = setup();
    const block = buddy.allocate(A, 1);
    const readOnly = grants.grant(A, B, block, PAGE_SIZE, 'read');
    const readWrite = grants.grant(A, C, block, 2 * PAGE_SIZE, 'read-write');
    expect(grants.check(B, block, PAGE_SIZE, 'read')).toBeUndefined();
    expect(grants.check(B, block, PAGE_SIZE, 'write')).toMatchObject({ reason: 'read-only-grant', owner: A });
    expect(grants.check(B, block + PAGE_SIZE, 4, 'read')).toMatchObject({ reason: 'not-owned' });
    expect(grants.check(C, block, 2 * PAGE_SIZE, 'write')).toBeUndefined();
    expect(grants.grantsOf(A).map((grant) => grant.id)).toEqual([readOnly.id, readWrite.id]);
    expect(grants.grantsOf(B)).toEqual([readOnly]);
  });

  it('grant refuses pages the granter does not own, partial pages and self-grants', () => {
    const { buddy, grants } = setup();
    const mine = buddy.allocate(A, 0);
    const theirs = buddy.allocate(B, 0);
    expect(codeOf(() => grants.grant(A, C, theirs, PAGE_SIZE, 'read'))).toBe('NOT_OWNER');
    expect(codeOf(() => grants.grant(A, C, mine, 2 * PAGE_SIZE, 'read'))).toBe('NOT_OWNER');
    expect(codeOf(() => grants.grant(A, C, mine + 16, PAGE_SIZE, 'read'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => grants.grant(A, A, mine, PAGE_SIZE, 'read'))).toBe('INVALID_ARGUMENT');
    expect(grants.list()).toEqual([]);
  });

  it('revoke by either party ends the grant; a stranger cannot revoke it', () => {
    const { buddy, grants } = setup();
    const block = buddy.allocate(A, 0);
    const first = grants.grant(A, B, block, PAGE_SIZE, 'read');
    expect(codeOf(() => grants.revoke(first.id, C))).toBe('NOT_OWNER');
    grants.revoke(first.id, B);
    expect(grants.check(B, block, 1, 'read')).toMatchObject({ reason: 'not-owned' });
    const second = grants.grant(A, B, block, PAGE_SIZE, 'read');
    grants.revoke(second.id, A);
    expect(codeOf(() => grants.revoke(second.id, A))).toBe('NO_SUCH_GRANT');
  });

  it('revokeAllFor ends grants made and received by a restarting server, and only those', () => {
    const { buddy, grants } = setup();
    const ofA = buddy.allocate(A, 0);
    const ofB = buddy.allocate(B, 0);
    const ofC = buddy.allocate(C, 0);
    grants.grant(A, B, ofA, PAGE_SIZE, 'read');
    grants.grant(B, C, ofB, PAGE_SIZE, 'read');
    const kept = grants.grant(C, A, ofC, PAGE_SIZE, 'read-write');
    expect(grants.revokeAllFor(B)).toHaveLength(2);
    expect(grants.list()).toEqual([kept]);
    expect(grants.check(B, ofA, 1, 'read')).toBeDefined();
    expect(grants.check(A, ofC, 1, 'write')).toBeUndefined();
  });

  it('revokeRange ends grants that lend any page of a range being freed', () => {
    const { buddy, grants } = setup();
    const block = buddy.allocate(A, 2);
    grants.grant(A, B, block, PAGE_SIZE, 'read');
    grants.grant(A, C, block + 3 * PAGE_SIZE, PAGE_SIZE, 'read');
    expect(grants.revokeRange(block + 2 * PAGE_SIZE, 2 * PAGE_SIZE).map((grant) => grant.grantee)).toEqual([C]);
    expect(grants.list()).toHaveLength(1);
  });

  it('enforce logs who touched what and throws AccessViolationError; the log keeps the most recent', () => {
    const { buddy, grants } = setup();
    const block = buddy.allocate(A, 0);
    grants.enforce(A, block, 8, 'write');
    let caught: unknown;
    try {
      grants.enforce(B, block + 4, 8, 'write');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AccessViolationError);
    expect((caught as AccessViolationError).code).toBe('ACCESS_VIOLATION');
    expect((caught as AccessViolationError).message).toContain('owner 2 wrote');
    expect(grants.violations).toEqual([{ accessor: B, address: block + 4, length: 8, access: 'write', owner: A, reason: 'not-owned' }]);
    for (let index = 0; index < VIOLATION_LOG_SIZE + 5; index++) expect(() => grants.enforce(C, block + index, 1, 'read')).toThrow(AccessViolationError);
    expect(grants.violations).toHaveLength(VIOLATION_LOG_SIZE);
    expect(grants.violations.at(-1)?.address).toBe(block + VIOLATION_LOG_SIZE + 4);
  });
});
