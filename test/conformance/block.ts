// One protocol test suite for any block driver, as MINIX's blocktest is: it speaks only
// the block interface (ipc/interfaces/block.ts) and checks the disk's backing store as the
// host sees it. A driver's own test file runs it:
//
//   describeBlockDriver('virtio-blk', { start: async (disk) => ..., stop: async () => ... });
//
// `start` brings up the driver under test over a fresh disk of `disk.sectors` sectors,
// filled with `disk.contents`, read-only if asked, and returns a client plus a way to use
// RAM for buffers and to read the backing store.

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ram } from '../../hal/ram.js';
import type { ClientOf } from '../../ipc/define.js';
import { InvalidArgumentError } from '../../ipc/errors.js';
import { blockInterface, OutOfRangeError, ReadOnlyError, UnalignedError, ZeroLengthError } from '../../ipc/interfaces/block.js';

export const SECTOR = 512;

export interface DiskSetup {
  readonly sectors: number;
  readonly contents: Uint8Array;
  readonly readOnly: boolean;
}

export interface BlockDriverUnderTest {
  readonly client: ClientOf<typeof blockInterface>;
  readonly ram: Ram;
  /** Physical address of `bytes` bytes of RAM the test may use as a buffer (fresh each call). */
  buffer(bytes: number): number;
  /** The backing store's bytes as the host sees them now. */
  backing(): Uint8Array;
}

export interface BlockSuiteOptions {
  start(disk: DiskSetup): Promise<BlockDriverUnderTest>;
  stop(): Promise<void>;
}

/** Deterministic disk contents: each sector starts with its number, then a pattern. */
export function patternedDisk(sectors: number): Uint8Array {
  const bytes = new Uint8Array(sectors * SECTOR);
  for (let sector = 0; sector < sectors; sector++) {
    const view = new DataView(bytes.buffer, sector * SECTOR, SECTOR);
    view.setUint32(0, sector, true);
    for (let offset = 4; offset < SECTOR; offset++) view.setUint8(offset, (sector * 7 + offset) & 0xff);
  }
  return bytes;
}

function filled(bytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let index = 0; index < bytes; index++) data[index] = (seed * 31 + index * 13 + (index >> 9)) & 0xff;
  return data;
}

const physical = (address: number) => ({ kind: 'physical' as const, address });

/** Asserts two byte arrays are equal, naming the first differing offset (fast on megabytes, unlike toEqual). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  const length = Math.min(actual.length, expected.length);
  let first = -1;
  if (!Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))) {
    first = length;
    for (let index = 0; index < length; index++) {
      if (actual[index] !== expected[index]) {
        first = index;
        break;
      }
    }
  }
  expect({ length: actual.length, firstDifference: first }).toEqual({ length: expected.length, firstDifference: -1 });
}

export function describeBlockDriver(name: string, options: BlockSuiteOptions): void {
  const SECTORS = 2048; // 1 MiB

  const start = (overrides: Partial<DiskSetup> = {}) => {
    const sectors = overrides.sectors ?? SECTORS;
    return options.start({ sectors, contents: overrides.contents ?? patternedDisk(sectors), readOnly: overrides.readOnly ?? false });
  };

  async function read(disk: BlockDriverUnderTest, sector: number, bytes: number): Promise<Uint8Array> {
    const address = disk.buffer(bytes);
    const reply = await disk.client.read({ sector, bytes, buffer: physical(address) });
    expect(reply.bytes).toBe(bytes);
    return disk.ram.read(address, bytes);
  }

  async function write(disk: BlockDriverUnderTest, sector: number, data: Uint8Array): Promise<void> {
    const address = disk.buffer(data.length);
    disk.ram.write(address, data);
    const reply = await disk.client.write({ sector, bytes: data.length, buffer: physical(address) });
    expect(reply.bytes).toBe(data.length);
  }

  describe(`block driver conformance: ${name}`, () => {
    afterEach(async () => {
      await options.stop();
    });

    it('info reports 512-byte sectors, the capacity and a writable disk', async () => {
      const disk = await start();
      const info = await disk.client.info({});
      expect(info).toMatchObject({ sectorBytes: SECTOR, sectors: SECTORS, readOnly: false });
      expect(info.maxTransferBytes).toBeGreaterThanOrEqual(SECTOR);
    });

    it('read returns what the backing store holds, first and last sector included', async () => {
      const disk = await start();
      const contents = patternedDisk(SECTORS);
      expectSameBytes(await read(disk, 0, SECTOR), contents.subarray(0, SECTOR));
      expectSameBytes(await read(disk, SECTORS - 1, SECTOR), contents.subarray((SECTORS - 1) * SECTOR));
      expectSameBytes(await read(disk, 100, 8 * SECTOR), contents.subarray(100 * SECTOR, 108 * SECTOR));
    });

    it('write is in the backing store once acknowledged, and read-after-write returns it', async () => {
      const disk = await start();
      const data = filled(4 * SECTOR, 1);
      await write(disk, 10, data);
      expectSameBytes(disk.backing().subarray(10 * SECTOR, 14 * SECTOR), data);
      expectSameBytes(await read(disk, 10, data.length), data);
      // Neighbours are untouched.
      expectSameBytes(await read(disk, 9, SECTOR), patternedDisk(SECTORS).subarray(9 * SECTOR, 10 * SECTOR));
      expectSameBytes(await read(disk, 14, SECTOR), patternedDisk(SECTORS).subarray(14 * SECTOR, 15 * SECTOR));
    });

    it('a 1 MiB request moves the whole disk in one go', async () => {
      const disk = await start();
      const data = filled(SECTORS * SECTOR, 2);
      await write(disk, 0, data);
      expectSameBytes(await read(disk, 0, data.length), data);
    });

    it('flush succeeds and the data written before it is in the backing store', async () => {
      const disk = await start();
      const data = filled(SECTOR, 3);
      await write(disk, 5, data);
      await expect(disk.client.flush({})).resolves.toEqual({});
      expectSameBytes(disk.backing().subarray(5 * SECTOR, 6 * SECTOR), data);
    });

    it('requests past the last sector are refused with OUT_OF_RANGE and change nothing', async () => {
      const disk = await start();
      const address = disk.buffer(2 * SECTOR);
      for (const [sector, bytes] of [[SECTORS, SECTOR], [SECTORS - 1, 2 * SECTOR], [2 ** 40, SECTOR], [Number.MAX_SAFE_INTEGER, SECTOR]] as const) {
        await expect(disk.client.read({ sector, bytes, buffer: physical(address) })).rejects.toBeInstanceOf(OutOfRangeError);
        await expect(disk.client.write({ sector, bytes, buffer: physical(address) })).rejects.toBeInstanceOf(OutOfRangeError);
      }
      const error = await disk.client.read({ sector: SECTORS, bytes: SECTOR, buffer: physical(address) }).catch((caught: unknown) => caught);
      expect((error as OutOfRangeError).data).toEqual({ sector: SECTORS, bytes: SECTOR, sectors: SECTORS });
      expectSameBytes(disk.backing(), patternedDisk(SECTORS));
    });

    it('zero-length requests are refused with ZERO_LENGTH', async () => {
      const disk = await start();
      const address = disk.buffer(SECTOR);
      await expect(disk.client.read({ sector: 0, bytes: 0, buffer: physical(address) })).rejects.toBeInstanceOf(ZeroLengthError);
      await expect(disk.client.write({ sector: 0, bytes: 0, buffer: physical(address) })).rejects.toBeInstanceOf(ZeroLengthError);
    });

    it('lengths that are not whole sectors are refused with UNALIGNED and change nothing', async () => {
      const disk = await start();
      const address = disk.buffer(2 * SECTOR);
      for (const bytes of [1, 100, SECTOR - 1, SECTOR + 1, 2 * SECTOR - 1]) {
        await expect(disk.client.read({ sector: 0, bytes, buffer: physical(address) })).rejects.toBeInstanceOf(UnalignedError);
        await expect(disk.client.write({ sector: 0, bytes, buffer: physical(address) })).rejects.toBeInstanceOf(UnalignedError);
      }
      expectSameBytes(disk.backing(), patternedDisk(SECTORS));
    });

    it('buffers outside RAM and malformed requests are refused; the driver keeps serving', async () => {
      const disk = await start();
      const outside = disk.ram.end;
      await expect(disk.client.read({ sector: 0, bytes: SECTOR, buffer: physical(outside) })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(disk.client.write({ sector: 0, bytes: SECTOR, buffer: physical(disk.ram.end - 256) })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(disk.client.read({ sector: -1, bytes: SECTOR, buffer: physical(disk.buffer(SECTOR)) } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(disk.client.read({ sector: 0.5, bytes: SECTOR, buffer: physical(disk.buffer(SECTOR)) } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
      expectSameBytes(await read(disk, 1, SECTOR), patternedDisk(SECTORS).subarray(SECTOR, 2 * SECTOR));
      const stats = await disk.client.stats({});
      expect(stats.errors).toBeGreaterThanOrEqual(2);
      expect(stats.served).toBeGreaterThanOrEqual(1);
    });

    it('a read-only disk reads, refuses writes with READ_ONLY, and says so in info', async () => {
      const disk = await start({ readOnly: true });
      expect((await disk.client.info({})).readOnly).toBe(true);
      expectSameBytes(await read(disk, 3, SECTOR), patternedDisk(SECTORS).subarray(3 * SECTOR, 4 * SECTOR));
      const address = disk.buffer(SECTOR);
      disk.ram.write(address, filled(SECTOR, 4));
      await expect(disk.client.write({ sector: 3, bytes: SECTOR, buffer: physical(address) })).rejects.toBeInstanceOf(ReadOnlyError);
      expectSameBytes(disk.backing(), patternedDisk(SECTORS));
    });

    it('many concurrent writes and reads of distinct ranges all complete correctly', async () => {
      const disk = await start();
      const count = 64;
      const pieces = Array.from({ length: count }, (_, index) => ({ sector: index * 16, data: filled(((index % 4) + 1) * SECTOR, 100 + index) }));
      await Promise.all(pieces.map((piece) => write(disk, piece.sector, piece.data)));
      const reads = await Promise.all(pieces.map((piece) => read(disk, piece.sector, piece.data.length)));
      reads.forEach((bytes, index) => expectSameBytes(bytes, pieces[index]!.data));
      for (const piece of pieces) expectSameBytes(disk.backing().subarray(piece.sector * SECTOR, piece.sector * SECTOR + piece.data.length), piece.data);
      const stats = await disk.client.stats({});
      expect(stats).toMatchObject({ writes: count, reads: count, served: 2 * count, errors: 0, inFlight: 0 });
    });

    it('any sequence of writes and reads matches an in-memory disk (property)', async () => {
      const disk = await start({ sectors: 64 });
      const model = patternedDisk(64);
      const operation = fc.record({
        write: fc.boolean(),
        sector: fc.integer({ min: 0, max: 63 }),
        count: fc.integer({ min: 1, max: 8 }),
        seed: fc.integer({ min: 0, max: 255 }),
      });
      await fc.assert(fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 12 }), async (operations) => {
        for (const { write: isWrite, sector, count, seed } of operations) {
          const bytes = count * SECTOR;
          const address = disk.buffer(bytes);
          if (sector + count > 64) {
            await expect(disk.client.read({ sector, bytes, buffer: physical(address) })).rejects.toBeInstanceOf(OutOfRangeError);
            continue;
          }
          if (isWrite) {
            const data = filled(bytes, seed);
            disk.ram.write(address, data);
            await disk.client.write({ sector, bytes, buffer: physical(address) });
            model.set(data, sector * SECTOR);
          } else {
            await disk.client.read({ sector, bytes, buffer: physical(address) });
            expectSameBytes(disk.ram.read(address, bytes), model.subarray(sector * SECTOR, sector * SECTOR + bytes));
          }
        }
        expectSameBytes(disk.backing(), model);
      }), { numRuns: 25 });
    });
  });
}
