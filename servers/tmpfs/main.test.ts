// The tmpfs server alone in its worker, its pages from a fake memory service: it serves the
// filesystem interface, refuses past its configured size with ENOSPC (typed), gives its
// pages back when the files go, and refuses a size it cannot read.

import { afterEach, describe, expect, it } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { errnoErrors } from '../../ipc/interfaces/errno.js';
import { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { fakeMemory } from '../../test/harness/fake_memory.js';
import { ServerHarness } from '../../test/harness/server_harness.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const MIB = 1024 * 1024;

describe('tmpfs server', () => {
  it('serves files in memory-service pages, ENOSPC past its size, pages back on unlink', async () => {
    const ram = Ram.allocate(16 * MIB);
    const freed = new Map<number, number>();
    harness = await ServerHarness.start({ module: 'servers/tmpfs/main', name: 'tmpfs', ram, config: { size: '64K', label: 'scratch' }, peers: [fakeMemory(ram, ram.base + 8 * MIB, ram.end, freed)] });
    const tmpfs = harness.client(filesystemInterface);
    const info = await tmpfs.info({});
    expect(info).toMatchObject({ type: 'tmpfs', statistics: { blockBytes: 4096, blocks: 16, freeBlocks: 16, label: 'scratch' } });
    const file = await tmpfs.create({ directory: info.root, name: 'fill', permissions: 0o644, uid: 0, gid: 0 });
    const content = Uint8Array.from({ length: 40_000 }, (_, index) => index & 0xff);
    expect(await tmpfs.write({ inode: file.inode, offset: 0, data: content })).toEqual({ written: 40_000 });
    expect((await tmpfs.read({ inode: file.inode, offset: 0, length: 40_000 })).data).toEqual(content);
    expect(await tmpfs.write({ inode: file.inode, offset: 40_000, data: new Uint8Array(40_000) })).toEqual({ written: 16 * 4096 - 40_000 });
    await expect(tmpfs.write({ inode: file.inode, offset: 16 * 4096, data: new Uint8Array(1) })).rejects.toBeInstanceOf(errnoErrors.ENOSPC);
    await tmpfs.unlink({ directory: info.root, name: 'fill' });
    expect((await tmpfs.info({})).statistics.freeBlocks).toBe(16);
    expect(freed.size).toBe(1); // its one 16-page block went back to the memory service
    await expect(tmpfs.lookup({ directory: info.root, name: 'fill' })).rejects.toBeInstanceOf(errnoErrors.ENOENT);
  });

  it('refuses a size it cannot read, naming the field', async () => {
    await expect(ServerHarness.start({ module: 'servers/tmpfs/main', name: 'tmpfs', config: { size: 'lots' } })).rejects.toThrow(/size/);
  });
});
