import { describe, it, expect } from 'vitest';
import { Ram } from '../../hal/ram.js';
import {
  DEFAULT_SCRATCH_CONFIG, SCRATCH_ALIGNMENT, memparse, parseKhoScratch, placeScratchAreas, placeScratchArray, readScratchArray,
  scratchSizes, writeScratchArray,
} from './scratch.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('parseKhoScratch', () => {
  it('parseKhoScratch reads a percentage', () => {
    expect(parseKhoScratch('150%')).toEqual({ kind: 'scale', percent: 150 });
    expect(parseKhoScratch('0%')).toEqual({ kind: 'scale', percent: 0 });
  });

  it('parseKhoScratch reads explicit L,G,N sizes with suffixes', () => {
    expect(parseKhoScratch('16M,512M,256M')).toEqual({ kind: 'sizes', lowmem: 16 * MiB, global: 512 * MiB, perNode: 256 * MiB });
    expect(parseKhoScratch('0x1000,1g,0')).toEqual({ kind: 'sizes', lowmem: 4096, global: GiB, perNode: 0 });
  });

  it('parseKhoScratch rejects malformed values with EINVAL', () => {
    for (const bad of ['', '%', 'abc%', '12345678901%', '16M', '16M,1M', '16M,1M,1M,', '1M;1M;1M', '0,0,0', 'M,1M,1M']) {
      expect(() => parseKhoScratch(bad), bad).toThrow(/EINVAL/);
    }
  });

  it('memparse follows the kernel: base 0 numbers, K..E suffixes, the rest returned', () => {
    expect(memparse('010k,')).toEqual({ value: 8 * 1024, rest: ',' });
    expect(memparse('0x10M')).toEqual({ value: 16 * MiB, rest: '' });
    expect(() => memparse('2E')).toThrow(/too large/);
    expect(memparse('x')).toBeNull();
  });
});

describe('scratchSizes', () => {
  it('scratchSizes scales what the kernel reserved by 200 % and rounds up to 2 MiB', () => {
    const sizes = scratchSizes(DEFAULT_SCRATCH_CONFIG, { total: 5 * MiB, belowLowLimit: 3 * MiB });
    expect(sizes).toEqual({ lowmem: 6 * MiB, global: 4 * MiB, node: 10 * MiB });
  });

  it('scratchSizes gives a 0-byte global area when everything is below the low limit, as Linux does', () => {
    expect(scratchSizes(DEFAULT_SCRATCH_CONFIG, { total: 3 * MiB, belowLowLimit: 3 * MiB })).toEqual({ lowmem: 6 * MiB, global: 0, node: 6 * MiB });
  });

  it('scratchSizes uses explicit sizes, rounding only the per-node one', () => {
    expect(scratchSizes(parseKhoScratch('1M,3M,3M'), { total: 0, belowLowLimit: 0 })).toEqual({ lowmem: MiB, global: 3 * MiB, node: 4 * MiB });
  });
});

describe('placeScratchAreas', () => {
  it('placeScratchAreas places lowmem, global and node top-down, aligned, without overlap', () => {
    const areas = placeScratchAreas({ lowmem: 4 * MiB, global: 2 * MiB, node: 8 * MiB }, [{ start: 0x8000_0000, end: 0x8000_0000 + 256 * MiB }]);
    expect(areas).toEqual([
      { addr: 0x8000_0000 + 252 * MiB, size: 4 * MiB },
      { addr: 0x8000_0000 + 250 * MiB, size: 2 * MiB },
      { addr: 0x8000_0000 + 242 * MiB, size: 8 * MiB },
    ]);
    for (const area of areas) expect(area.addr % SCRATCH_ALIGNMENT).toBe(0);
  });

  it('placeScratchAreas keeps lowmem below 4 GiB on a board with RAM above it', () => {
    const areas = placeScratchAreas({ lowmem: 2 * MiB, global: 2 * MiB, node: 2 * MiB }, [{ start: 0x8000_0000, end: 0x1_8000_0000 }]);
    expect(areas[0]!.addr + areas[0]!.size).toBeLessThanOrEqual(2 ** 32);
    expect(areas[1]!.addr).toBe(0x1_8000_0000 - 2 * MiB);
  });

  it('placeScratchAreas throws ENOMEM naming the area that does not fit', () => {
    expect(() => placeScratchAreas({ lowmem: 2 * MiB, global: 64 * MiB, node: 2 * MiB }, [{ start: 0x8000_0000, end: 0x8000_0000 + 32 * MiB }])).toThrow(/global scratch/);
  });
});

describe('scratch array', () => {
  it('writeScratchArray/readScratchArray round-trip {u64 addr; u64 size} entries', () => {
    const ram = Ram.allocate(16 * MiB);
    const areas = [{ addr: 0x8080_0000, size: 2 * MiB }, { addr: 0x80a0_0000, size: 0 }];
    const length = writeScratchArray(ram, 0x8000_0000, areas);
    expect(length).toBe(32);
    expect(ram.readU64(0x8000_0000)).toBe(0x8080_0000n);
    expect(ram.readU64(0x8000_0008)).toBe(BigInt(2 * MiB));
    expect(readScratchArray(ram, 0x8000_0000, length + 7)).toEqual(areas);
  });

  it('readScratchArray throws EUCLEAN for an area outside RAM', () => {
    const ram = Ram.allocate(16 * MiB);
    writeScratchArray(ram, 0x8000_0000, [{ addr: 0x9000_0000, size: MiB }]);
    expect(() => readScratchArray(ram, 0x8000_0000, 16)).toThrow(/EUCLEAN/);
    expect(() => readScratchArray(ram, 0x7000_0000, 16)).toThrow(/EUCLEAN/);
  });

  it('placeScratchArray picks the highest 64 KiB-aligned spot in scratch that avoids occupied ranges', () => {
    const areas = [{ addr: 0x8000_0000, size: 2 * MiB }, { addr: 0x8100_0000, size: 2 * MiB }];
    expect(placeScratchArray(areas, 48)).toBe(0x8120_0000 - 64 * 1024);
    expect(placeScratchArray(areas, 48, [{ start: 0x811f_0000, end: 0x8120_0000 }])).toBe(0x811e_0000);
    expect(() => placeScratchArray([{ addr: 0x8000_0000, size: 0 }], 48)).toThrow(/ENOMEM/);
  });
});
