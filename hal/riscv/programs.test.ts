// Real programs: C fixtures compiled by Debian's cross gcc with picolibc, run as the SAME
// static ELF under qemu-riscv32 and on the hart (testing/linux_rig.ts), interpreted and
// with the block compiler: same stdout, same exit status. Skips, and says so, where the
// toolchain or qemu-riscv32 is absent.

import { describe, expect, it } from 'vitest';
import { runElf } from './testing/linux_rig.js';
import { buildFixture, hasCompiler, hasQemu, runUnderQemu } from './testing/toolchain.js';

const canBuild = hasCompiler();
const canCompare = canBuild && hasQemu();

const PROGRAMS: ReadonlyArray<{ name: string; args: string[]; status?: number }> = [
  { name: 'primes', args: ['3000'] },
  { name: 'sha256', args: ['4'] },
  { name: 'sort', args: ['5000'] },
  { name: 'edges', args: [], status: 7 },
  { name: 'segfault', args: [], status: 139 },
];

describe.skipIf(!canBuild)('programs on the hart', () => {
  for (const { name, args, status } of PROGRAMS) {
    it.skipIf(!canCompare)(`${name} ${args.join(' ')} gives qemu-riscv32's output and exit status, interpreted and compiled`, () => {
      const elf = buildFixture(name);
      const expected = runUnderQemu(elf, args);
      if (status !== undefined) expect(expected.status).toBe(status);
      for (const mode of ['interpret', 'compile'] as const) {
        const actual = runElf(elf, args, { mode });
        expect({ mode, stdout: actual.stdout, status: actual.status }).toEqual({ mode, stdout: expected.stdout, status: expected.status });
        expect(actual.retired).toBeGreaterThan(100);
        if (mode === 'compile') expect(actual.hart.compiledBlocks).toBeGreaterThan(0);
      }
    });
  }

  it('sha256 prints the FIPS 180-2 digest of "abc" (checked without qemu)', () => {
    const result = runElf(buildFixture('sha256'), ['1']);
    expect(result.stdout.split('\n')[0]).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc');
    expect(result.status).toBe(0);
  });

  it('a store to address 0 is a store page fault with tval 0, reported as SIGSEGV', () => {
    const result = runElf(buildFixture('segfault'));
    expect(result.killedBy).toMatch(/^StorePageFault \(exception 15\) at epc 0x[0-9a-f]{8}, tval 0x00000000$/);
    expect(result.stdout).toBe('about to store to address 0\n');
  });

  it('the heap and stack grow by demand-zero page faults the rig resolves and resumes', () => {
    const result = runElf(buildFixture('sort'), ['20000']);
    expect(result.status).toBe(0);
    expect(result.traps['StorePageFault']).toBeGreaterThanOrEqual(19);
  });
});
if (!canBuild) console.warn('hal/riscv/programs.test.ts: the cross toolchain is missing, so no real program ran on the hart');
