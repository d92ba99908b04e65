// Sv32 on the hart: U-mode permission checks, Svade A/D faults, megapages and their
// alignment, the walk's own faults, and the translation cache tagged by ASID and flushed
// as sfence.vma would. Page tables are written from raw PTE bits (testing/linux_rig.ts).

import { describe, expect, it } from 'vitest';
import { Ram } from '../ram.js';
import { Hart } from './hart.js';
import { asm, program, reg } from './testing/assembler.js';
import { MODES } from './testing/bare.js';
import { RigAddressSpace } from './testing/linux_rig.js';
import { PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, makeSatp } from './sv32.js';
import { SSTATUS_MXR, Word } from './state.js';
import { Exception } from './trap.js';

const { a0, a1, t0 } = reg;
const CODE = 0x1_0000, DATA = 0x40_0000;

function machine(options: (typeof MODES)[number]['options'], asid = 1) {
  const ram = Ram.allocate(16 << 20);
  const space = new RigAddressSpace(ram);
  const hart = new Hart(ram, options);
  const code = space.map(CODE, PTE_R | PTE_X);
  const load = (items: number[]) => ram.write(code, program(items));
  hart.setSatp(makeSatp(space.root, asid));
  hart.state.pc = CODE;
  hart.state.setRegister(t0, DATA);
  return { ram, space, hart, load };
}

const LOAD_STORE = [asm.lw(a0, t0, 0), asm.sw(a0, t0, 4), asm.ebreak()];

for (const { name, options } of MODES) {
  describe(`Sv32 translation (${name})`, () => {
    it('loads and stores go through the leaf to its physical page', () => {
      const m = machine(options);
      m.load(LOAD_STORE);
      const page = m.space.map(DATA, PTE_R | PTE_W);
      m.ram.writeU32(page, 0xabcd);
      expect(m.hart.run(100).cause).toBe(Exception.Breakpoint);
      expect(m.ram.readU32(page + 4)).toBe(0xabcd);
    });

    it('each missing permission is the page fault of its access kind, with tval the address', () => {
      const cases: Array<{ bits: number; cause: number; epc: number }> = [
        { bits: 0, cause: Exception.LoadPageFault, epc: CODE }, // invalid
        { bits: PTE_W | PTE_X, cause: Exception.LoadPageFault, epc: CODE }, // W without R: reserved
        { bits: PTE_X, cause: Exception.LoadPageFault, epc: CODE }, // execute-only, MXR clear
        { bits: PTE_R, cause: Exception.StorePageFault, epc: CODE + 4 }, // read-only
      ];
      for (const { bits, cause, epc } of cases) {
        const m = machine(options);
        m.load(LOAD_STORE);
        if (bits) m.space.map(DATA, bits);
        const trap = m.hart.run(100);
        expect({ bits, cause: trap.cause, epc: trap.epc, tval: trap.tval }).toEqual({ bits, cause, epc, tval: epc === CODE ? DATA : DATA + 4 });
      }
    });

    it('a page without U faults in U-mode; a page without X faults on fetch', () => {
      const m = machine(options);
      m.load(LOAD_STORE);
      const page = m.space.map(DATA, PTE_R | PTE_W);
      const pte = (page / 4096) * 1024 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D; // no U
      const table = (m.ram.readU32(m.space.root + (DATA >>> 22) * 4) >>> 10) * 4096;
      m.ram.writeU32(table + ((DATA >>> 12) & 0x3ff) * 4, pte);
      expect(m.hart.run(100)).toMatchObject({ cause: Exception.LoadPageFault, tval: DATA });

      const fetch = machine(options);
      fetch.space.map(DATA, PTE_R | PTE_W);
      fetch.load([asm.jalr(0, t0, 0)]);
      expect(fetch.hart.run(100)).toMatchObject({ cause: Exception.InstructionPageFault, tval: DATA, epc: DATA });
    });

    it('MXR lets loads read execute-only pages', () => {
      const m = machine(options);
      m.load([asm.lw(a0, t0, 0), asm.ebreak()]);
      const page = m.space.map(DATA, PTE_X);
      m.ram.writeU32(page, 99);
      m.hart.state.words[Word.Sstatus] = SSTATUS_MXR;
      expect(m.hart.run(100).cause).toBe(Exception.Breakpoint);
      expect(m.hart.state.register(a0)).toBe(99);
    });

    it('Svade: A = 0 faults any access, D = 0 faults stores; the kernel sets the bit and the access resumes without sfence.vma', () => {
      const m = machine(options);
      m.load(LOAD_STORE);
      const page = m.space.map(DATA, PTE_R | PTE_W);
      const table = (m.ram.readU32(m.space.root + (DATA >>> 22) * 4) >>> 10) * 4096;
      const entry = table + ((DATA >>> 12) & 0x3ff) * 4;
      const full = m.ram.readU32(entry);
      m.ram.writeU32(entry, full & ~(PTE_A | PTE_D));
      expect(m.hart.run(100)).toMatchObject({ cause: Exception.LoadPageFault, tval: DATA, epc: CODE });
      m.ram.writeU32(entry, (full & ~PTE_D) >>> 0);
      expect(m.hart.run(100)).toMatchObject({ cause: Exception.StorePageFault, tval: DATA + 4, epc: CODE + 4 });
      expect(m.ram.readU32(entry)).toBe((full & ~PTE_D) >>> 0); // the hart never writes PTEs
      m.ram.writeU32(entry, full);
      expect(m.hart.run(100).cause).toBe(Exception.Breakpoint);
      expect(page).toBeGreaterThan(0);
    });

    it('copy-on-write: after a store fault the kernel maps a writable copy and the hart reads and writes the copy, even before sfence.vma', () => {
      const m = machine(options);
      m.load([asm.lw(a0, t0, 0), asm.addi(a0, a0, 1), asm.sw(a0, t0, 0), asm.lw(a1, t0, 0), asm.ebreak()]);
      const shared = m.space.map(DATA, PTE_R);
      m.ram.writeU32(shared, 41);
      const fault = m.hart.run(100);
      expect(fault).toMatchObject({ cause: Exception.StorePageFault, tval: DATA, epc: CODE + 8 });
      const copy = m.space.allocate();
      m.ram.write(copy, m.ram.read(shared, 4096));
      m.space.writeLeaf(DATA, copy, PTE_R | PTE_W);
      expect(m.hart.run(100).cause).toBe(Exception.Breakpoint);
      expect([m.ram.readU32(shared), m.ram.readU32(copy), m.hart.state.register(a1)]).toEqual([41, 42, 42]);
    });

    it('a 4 MiB megapage maps its whole region; a misaligned one (PPN[0] != 0) faults', () => {
      for (const misaligned of [false, true]) {
        const m = machine(options);
        m.load([asm.lw(a0, t0, 0), asm.sw(a0, t0, 8), asm.ebreak()]);
        const region = m.ram.base + (8 << 20); // 4 MiB aligned, inside the 16 MiB RAM
        const ppn = region / 4096 + (misaligned ? 1 : 0);
        m.ram.writeU32(m.space.root + (DATA >>> 22) * 4, ppn * 1024 + (PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D));
        m.hart.state.setRegister(t0, DATA + 0x12_3450);
        m.ram.writeU32(region + 0x12_3450, 7);
        const trap = m.hart.run(100);
        if (misaligned) expect(trap).toMatchObject({ cause: Exception.LoadPageFault, tval: DATA + 0x12_3450 });
        else {
          expect(trap.cause).toBe(Exception.Breakpoint);
          expect(m.ram.readU32(region + 0x12_3458)).toBe(7);
        }
      }
    });

    it('sfence.vma by any address inside a megapage drops the cached megapage', () => {
      const m = machine(options);
      m.load([asm.lw(a0, t0, 0), asm.ebreak()]);
      const entry = m.space.root + (DATA >>> 22) * 4;
      const regions = [m.ram.base + (8 << 20), m.ram.base + (12 << 20)];
      m.ram.writeU32(regions[0]! + 0x100, 1);
      m.ram.writeU32(regions[1]! + 0x100, 2);
      const leaf = (region: number) => (region / 4096) * 1024 + (PTE_V | PTE_R | PTE_U | PTE_A);
      m.ram.writeU32(entry, leaf(regions[0]!));
      m.hart.state.setRegister(t0, DATA + 0x100);
      const again = () => { m.hart.state.pc = CODE; m.hart.run(100); return m.hart.state.register(a0); };
      expect(again()).toBe(1);
      m.ram.writeU32(entry, leaf(regions[1]!));
      expect(again()).toBe(1);
      m.hart.fenceTranslations(DATA + 0x30_0000); // another 4 KiB page of the same megapage
      expect(again()).toBe(2);
    });

    it('a pointer PTE at level 0 page-faults; a table outside RAM is an access fault; so is a leaf onto no RAM', () => {
      const pointer = machine(options);
      pointer.load(LOAD_STORE);
      const table = (pointer.space.map(DATA, PTE_R), (pointer.ram.readU32(pointer.space.root + (DATA >>> 22) * 4) >>> 10) * 4096);
      pointer.ram.writeU32(table + ((DATA >>> 12) & 0x3ff) * 4, (table / 4096) * 1024 + PTE_V);
      expect(pointer.hart.run(100)).toMatchObject({ cause: Exception.LoadPageFault, tval: DATA });

      const outside = machine(options);
      outside.load(LOAD_STORE);
      outside.ram.writeU32(outside.space.root + (DATA >>> 22) * 4, (0x1000_0000 / 4096) * 1024 + PTE_V);
      expect(outside.hart.run(100)).toMatchObject({ cause: Exception.LoadAccessFault, tval: DATA });

      const noRam = machine(options);
      noRam.load(LOAD_STORE);
      noRam.ram.writeU32(noRam.space.root + (DATA >>> 22) * 4, (0x1000_0000 / 4096) * 1024 + (PTE_V | PTE_R | PTE_U | PTE_A));
      expect(noRam.hart.run(100)).toMatchObject({ cause: Exception.LoadAccessFault, tval: DATA });
    });

    it('the translation cache keeps a leaf until sfence.vma by address; ASIDs keep their own leaves; global ones survive an ASID flush', () => {
      const m = machine(options);
      m.load([asm.lw(a0, t0, 0), asm.ebreak()]);
      const first = m.space.map(DATA, PTE_R);
      m.ram.writeU32(first, 1);
      const again = () => { m.hart.state.pc = CODE; m.hart.run(100); return m.hart.state.register(a0); };
      expect(again()).toBe(1);
      // Point the PTE at another page behind the cache's back: the old translation stays until sfence.vma.
      const second = m.space.allocate();
      m.ram.writeU32(second, 2);
      m.space.writeLeaf(DATA, second, PTE_R);
      expect(again()).toBe(1);
      m.hart.fenceTranslations(DATA + 0x10);
      expect(again()).toBe(2);

      // ASID 2: its own root, mapping DATA elsewhere; ASID 1's leaves stay cached across the switch.
      const other = new RigAddressSpace(m.ram, m.ram.base + (12 << 20));
      other.map(CODE, PTE_R | PTE_X);
      m.ram.write(other.physical(CODE)!, program([asm.lw(a0, t0, 0), asm.ebreak()]));
      m.ram.writeU32(other.map(DATA, PTE_R), 3);
      const rootOne = m.hart.state.satp;
      m.hart.setSatp(makeSatp(other.root, 2));
      expect(again()).toBe(3);
      m.space.writeLeaf(DATA, first, PTE_R); // ASID 1 changes behind the cache's back
      m.hart.setSatp(rootOne);
      expect(again()).toBe(2); // still ASID 1's cached leaf
      m.hart.fenceTranslations(undefined, 2); // flushing ASID 2 leaves ASID 1's
      expect(again()).toBe(2);
      m.hart.fenceTranslations(undefined, 1);
      expect(again()).toBe(1);

      // A global leaf survives sfence.vma x0, asid; sfence.vma x0, x0 drops it.
      const global = m.space.allocate();
      m.ram.writeU32(global, 4);
      m.space.writeLeaf(DATA, global, PTE_R | PTE_G);
      m.hart.fenceTranslations();
      expect(again()).toBe(4);
      m.space.writeLeaf(DATA, first, PTE_R);
      m.hart.fenceTranslations(undefined, 1);
      expect(again()).toBe(4);
      m.hart.fenceTranslations();
      expect(again()).toBe(1);
    });

    it('a fetch page fault reports the address of the missing half of a straddling instruction', () => {
      const m = machine(options);
      const end = CODE + 0x1000;
      m.ram.writeU16(m.space.physical(end - 2)!, asm.addi(a1, 0, 1) & 0xffff);
      m.load([asm.jal(0, 0xffe)]);
      const trap = m.hart.run(100);
      expect({ cause: trap.cause, epc: trap.epc, tval: trap.tval }).toEqual({ cause: Exception.InstructionPageFault, epc: end - 2, tval: end });
    });
  });
}

describe('address spaces on one hart', () => {
  it('two ASIDs with different code at the same address each run their own, switching back and forth', () => {
    const ram = Ram.allocate(16 << 20);
    const spaces = [new RigAddressSpace(ram), new RigAddressSpace(ram, ram.base + (8 << 20))];
    spaces.forEach((space, index) => {
      ram.write(space.map(CODE, PTE_R | PTE_X), program([asm.addi(a0, a0, index === 0 ? 1 : 100), asm.addi(a1, a1, 1), asm.blt(a1, t0, -8), asm.ebreak()]));
    });
    const hart = new Hart(ram, { hotBlock: 1 });
    const contexts = spaces.map((space, index) => {
      hart.setSatp(makeSatp(space.root, index + 1));
      hart.state.pc = CODE;
      hart.state.setRegister(a0, 0);
      hart.state.setRegister(a1, 0);
      hart.state.setRegister(t0, 1000);
      return hart.state.save();
    });
    for (let turn = 0; turn < 40; turn++) {
      const which = turn % 2;
      hart.restoreContext(contexts[which]!);
      hart.run(37);
      contexts[which] = hart.state.save();
    }
    for (const which of [0, 1]) {
      hart.restoreContext(contexts[which]!);
      while (hart.run(10_000).kind === 'budget');
      expect(hart.state.register(a0)).toBe(which === 0 ? 1000 : 100_000);
    }
  });
});
