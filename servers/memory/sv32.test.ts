import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Ram } from '../../hal/ram.js';
import { type PhysAddr, PAGE_SIZE } from '../../hal/address.js';
import { AllocationFlags, BuddyAllocator } from './buddy.js';
import {
  ExceptionCause, PageFault, type TablePages, PTE_ACCESSED, PTE_DIRTY, PTE_EXECUTE, PTE_READ, PTE_USER, PTE_VALID, PTE_WRITE,
  map, permissions, protect, translate, unmap, walk, forEachLeaf, freeTables,
} from './sv32.js';
import { MemoryError } from './errors.js';

const BASE = 0x8000_0000;
const ROOT = BASE + 0x1000;
const TABLE = BASE + 0x2000;

/** Writes a PTE as four little-endian bytes, the way the spec lays it out. */
function writePteBytes(ram: Ram, address: number, bytes: [number, number, number, number]): void {
  ram.write(address, Uint8Array.from(bytes));
}

/** RAM with a hand-built table: va 0x0040_1000 -> pa 0x8020_3000 (R W A D V), va 0x0080_0000 -> megapage 0x8040_0000 (R X A V). */
function handBuilt(): Ram {
  const ram = Ram.allocate(8 << 20);
  // Root entry 1 (VPN[1] = 1): pointer to TABLE. PPN = 0x80002 -> 0x80002 << 10 | V = 0x2000_0801.
  writePteBytes(ram, ROOT + 1 * 4, [0x01, 0x08, 0x00, 0x20]);
  // TABLE entry 1 (VPN[0] = 1): PPN = 0x80203, D A W R V = 0xc7 -> 0x2008_0cc7.
  writePteBytes(ram, TABLE + 1 * 4, [0xc7, 0x0c, 0x08, 0x20]);
  // Root entry 2: megapage PPN = 0x80400 (PPN[1] = 0x201, PPN[0] = 0), A X R V = 0x4b -> 0x2010_004b.
  writePteBytes(ram, ROOT + 2 * 4, [0x4b, 0x00, 0x10, 0x20]);
  return ram;
}

function faultOf(result: number | PageFault): PageFault {
  expect(result).toBeInstanceOf(PageFault);
  return result as PageFault;
}

function tablePagesFrom(buddy: BuddyAllocator): TablePages {
  return {
    allocateTable: () => buddy.allocate(1, 0, AllocationFlags.Zeroed),
    freeTable: (address: PhysAddr) => void buddy.free(address, 1),
  };
}

describe('sv32', () => {
  it('translate follows a hand-built two-level table to a 4 KiB page', () => {
    const ram = handBuilt();
    expect(translate(ram, ROOT, 0x0040_1abc, 'read', 'supervisor')).toBe(0x8020_3abc);
    expect(translate(ram, ROOT, 0x0040_1000, 'write', 'supervisor')).toBe(0x8020_3000);
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'execute', 'supervisor'))).toMatchObject({ cause: ExceptionCause.InstructionPageFault, reason: 'permission', level: 0 });
    expect(faultOf(translate(ram, ROOT, 0x0040_2000, 'read', 'supervisor'))).toMatchObject({ cause: ExceptionCause.LoadPageFault, reason: 'invalid', level: 0 });
    expect(faultOf(translate(ram, ROOT, 0x00c0_0000, 'write', 'supervisor'))).toMatchObject({ cause: ExceptionCause.StorePageFault, reason: 'invalid', level: 1 });
  });

  it('translate maps a 4 MiB megapage with the low 22 bits of the address as offset', () => {
    const ram = handBuilt();
    expect(translate(ram, ROOT, 0x0083_4567, 'execute', 'supervisor')).toBe(0x8043_4567);
    expect(translate(ram, ROOT, 0x00bf_ffff, 'read', 'supervisor')).toBe(0x807f_ffff);
    expect(faultOf(translate(ram, ROOT, 0x0080_0000, 'write', 'supervisor')).cause).toBe(ExceptionCause.StorePageFault);
  });

  it('translate faults on a misaligned megapage (PPN[0] != 0)', () => {
    const ram = handBuilt();
    // PPN = 0x80401: 0x80401 << 10 | 0x4b = 0x2010_044b.
    writePteBytes(ram, ROOT + 2 * 4, [0x4b, 0x04, 0x10, 0x20]);
    expect(faultOf(translate(ram, ROOT, 0x0080_0000, 'read', 'supervisor'))).toMatchObject({ reason: 'misaligned-megapage', level: 1, cause: ExceptionCause.LoadPageFault });
  });

  it('translate faults on W without R (reserved) and on a pointer at level 0', () => {
    const ram = handBuilt();
    writePteBytes(ram, TABLE + 1 * 4, [0xc5, 0x0c, 0x08, 0x20]); // D A W V, R clear
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'read', 'supervisor')).reason).toBe('reserved-encoding');
    writePteBytes(ram, TABLE + 1 * 4, [0x01, 0x0c, 0x08, 0x20]); // V only: a pointer, but no level below
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'read', 'supervisor')).reason).toBe('pointer-at-level-0');
  });

  it('translate applies U, SUM and MXR as the spec defines', () => {
    const ram = handBuilt();
    // User page: add U (0xd7).
    writePteBytes(ram, TABLE + 1 * 4, [0xd7, 0x0c, 0x08, 0x20]);
    expect(translate(ram, ROOT, 0x0040_1000, 'write', 'user')).toBe(0x8020_3000);
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'read', 'supervisor')).reason).toBe('user-page-from-supervisor');
    expect(translate(ram, ROOT, 0x0040_1000, 'read', 'supervisor', { supervisorUserMemory: true })).toBe(0x8020_3000);
    // Supervisor page (the megapage) from user mode.
    expect(faultOf(translate(ram, ROOT, 0x0080_0000, 'execute', 'user')).reason).toBe('supervisor-page-from-user');
    // Execute-only user page (X U A V = 0x59): SUM never allows supervisor execution; MXR allows loads.
    writePteBytes(ram, TABLE + 1 * 4, [0x59, 0x0c, 0x08, 0x20]);
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'execute', 'supervisor', { supervisorUserMemory: true })).reason).toBe('user-page-from-supervisor');
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'read', 'user')).reason).toBe('permission');
    expect(translate(ram, ROOT, 0x0040_1000, 'read', 'user', { makeExecutableReadable: true })).toBe(0x8020_3000);
  });

  it('translate faults when A is clear, and on stores when D is clear (Svade)', () => {
    const ram = handBuilt();
    writePteBytes(ram, TABLE + 1 * 4, [0x87, 0x0c, 0x08, 0x20]); // D W R V, A clear
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'read', 'supervisor')).reason).toBe('not-accessed');
    writePteBytes(ram, TABLE + 1 * 4, [0x47, 0x0c, 0x08, 0x20]); // A W R V, D clear
    expect(translate(ram, ROOT, 0x0040_1000, 'read', 'supervisor')).toBe(0x8020_3000);
    expect(faultOf(translate(ram, ROOT, 0x0040_1000, 'write', 'supervisor'))).toMatchObject({ reason: 'not-dirty', cause: ExceptionCause.StorePageFault });
  });

  it('translate reaches 34-bit physical addresses and raises access faults for tables outside RAM', () => {
    const ram = handBuilt();
    // PPN = 0x3fffff: 0xffff_fc00 | A R V (0x43).
    writePteBytes(ram, TABLE + 1 * 4, [0x43, 0xfc, 0xff, 0xff]);
    expect(translate(ram, ROOT, 0x0040_1123, 'read', 'supervisor')).toBe(0x3_ffff_f123);
    // Root entry 3 points to a "table" at 0x1000, outside RAM.
    writePteBytes(ram, ROOT + 3 * 4, [0x01, 0x04, 0x00, 0x00]);
    expect(faultOf(translate(ram, ROOT, 0x00c0_0000, 'read', 'supervisor'))).toMatchObject({ cause: ExceptionCause.LoadAccessFault, reason: 'table-outside-ram' });
  });

  it('walk returns the PTE path root first', () => {
    const ram = handBuilt();
    expect(walk(ram, ROOT, 0x0040_1fff)).toEqual({
      steps: [{ level: 1, address: ROOT + 4, pte: 0x2000_0801 }, { level: 0, address: TABLE + 4, pte: 0x2008_0cc7 }],
      leaf: { level: 0, address: TABLE + 4, pte: 0x2008_0cc7 },
    });
    expect(walk(ram, ROOT, 0x0000_0000)).toEqual({ steps: [{ level: 1, address: ROOT, pte: 0 }], leaf: undefined });
  });

  it('map writes exactly the bytes of the hand-built tables', () => {
    const built = handBuilt();
    const ram = Ram.allocate(8 << 20);
    let handed = false;
    const tables: TablePages = {
      allocateTable: () => {
        expect(handed).toBe(false);
        handed = true;
        return TABLE as PhysAddr;
      },
      freeTable: () => {},
    };
    map(ram, tables, ROOT, 0x0040_1000, 0x8020_3000, permissions('rw'));
    map(ram, tables, ROOT, 0x0080_0000, 0x8040_0000, permissions('rx'), { megapage: true });
    expect(ram.read(ROOT, PAGE_SIZE)).toEqual(built.read(ROOT, PAGE_SIZE));
    expect(ram.read(TABLE, PAGE_SIZE)).toEqual(built.read(TABLE, PAGE_SIZE));
  });

  it('map refuses overlaps, misalignment and reserved permission combinations', () => {
    const ram = Ram.allocate(8 << 20);
    const buddy = new BuddyAllocator(ram);
    buddy.addFreeRange(ram.base, ram.size);
    const tables = tablePagesFrom(buddy);
    const root = buddy.allocate(1, 0, AllocationFlags.Zeroed);
    const code = (action: () => void): string | undefined => {
      try {
        action();
      } catch (error) {
        return (error as MemoryError).code;
      }
      return undefined;
    };
    map(ram, tables, root, 0x1000, 0x8000_0000, permissions('r'));
    expect(code(() => map(ram, tables, root, 0x1000, 0x8000_1000, permissions('r')))).toBe('MAPPING_EXISTS');
    expect(code(() => map(ram, tables, root, 0, 0x8000_0000, permissions('r'), { megapage: true }))).toBe('MAPPING_EXISTS');
    map(ram, tables, root, 0x0040_0000, 0x8040_0000, permissions('r'), { megapage: true });
    expect(code(() => map(ram, tables, root, 0x0040_3000, 0x8000_0000, permissions('r')))).toBe('MAPPING_EXISTS');
    expect(code(() => map(ram, tables, root, 0x0080_1000, 0x8040_0000, permissions('r'), { megapage: true }))).toBe('INVALID_ARGUMENT');
    expect(code(() => map(ram, tables, root, 0x2000, 0x8000_0800, permissions('r')))).toBe('INVALID_ARGUMENT');
    expect(code(() => map(ram, tables, root, 0x2000, 0x8000_0000, PTE_WRITE))).toBe('INVALID_ARGUMENT');
    expect(code(() => map(ram, tables, root, 0x2000, 0x8000_0000, 0))).toBe('INVALID_ARGUMENT');
    expect(code(() => unmap(ram, root, 0x5000))).toBe('NOT_MAPPED');
  });

  it('unmap and protect change what translate allows', () => {
    const ram = Ram.allocate(8 << 20);
    const buddy = new BuddyAllocator(ram);
    buddy.addFreeRange(ram.base, ram.size);
    const root = buddy.allocate(1, 0, AllocationFlags.Zeroed);
    map(ram, tablePagesFrom(buddy), root, 0x7000, 0x8010_0000, permissions('rwu'));
    expect(translate(ram, root, 0x7004, 'write', 'user')).toBe(0x8010_0004);
    const old = protect(ram, root, 0x7000, permissions('ru'));
    expect(old.pte & (PTE_WRITE | PTE_DIRTY | PTE_ACCESSED | PTE_USER)).toBe(PTE_WRITE | PTE_DIRTY | PTE_ACCESSED | PTE_USER);
    expect(faultOf(translate(ram, root, 0x7004, 'write', 'user')).reason).toBe('permission');
    expect(translate(ram, root, 0x7004, 'read', 'user')).toBe(0x8010_0004);
    expect(unmap(ram, root, 0x7000).pte & (PTE_READ | PTE_VALID | PTE_EXECUTE)).toBe(PTE_READ | PTE_VALID);
    expect(faultOf(translate(ram, root, 0x7004, 'read', 'user')).reason).toBe('invalid');
  });

  it('map then translate agrees with a model for random page sets; forEachLeaf lists them; freeTables returns every table', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 0xfffff }), { maxLength: 60, size: 'max' }), fc.array(fc.integer({ min: 0, max: 1023 }), { minLength: 60, maxLength: 60 }), (pages, frames) => {
        const ram = Ram.allocate(4 << 20);
        const buddy = new BuddyAllocator(ram);
        buddy.addFreeRange(ram.base, ram.size);
        const tables = tablePagesFrom(buddy);
        const root = buddy.allocate(1, 0, AllocationFlags.Zeroed);
        const model = new Map<number, number>();
        pages.forEach((page, index) => {
          const va = page * PAGE_SIZE;
          const pa = ram.base + frames[index]! * PAGE_SIZE;
          map(ram, tables, root, va, pa, permissions(index % 2 ? 'rw' : 'rx'));
          model.set(va, pa);
        });
        for (const [va, pa] of model) expect(translate(ram, root, va + 0x123, 'read', 'supervisor', { makeExecutableReadable: true })).toBe(pa + 0x123);
        const listed: number[] = [];
        forEachLeaf(ram, root, (va) => listed.push(va));
        expect(listed).toEqual([...model.keys()].sort((a, b) => a - b));
        for (const va of [...model.keys()].filter((_, index) => index % 3 === 0)) {
          unmap(ram, root, va);
          expect(translate(ram, root, va, 'read', 'supervisor')).toBeInstanceOf(PageFault);
        }
        freeTables(ram, tables, root);
        expect(buddy.usageOf(1)).toBe(0);
      }),
      { numRuns: 50 },
    );
  });
});
