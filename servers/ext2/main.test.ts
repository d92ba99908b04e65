// The ext2 server alone in its worker, on a fake block service whose disk is an image
// mke2fs made: files written through the filesystem interface reach the disk at sync, the
// image passes e2fsck -fn and debugfs reads them back; refusals arrive as typed errno errors.

import { afterEach, describe, expect, it } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { blockInterface } from '../../ipc/interfaces/block.js';
import { errnoErrors } from '../../ipc/interfaces/errno.js';
import { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import { checkImage, dumpFile, e2fsprogsMissing, makeImage } from '../../test/harness/ext2_tools.js';
import { MemoryBlockStore } from './block_store.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** A block service over `store`, moving data between its image and the harness's RAM. */
function fakeDisk(store: MemoryBlockStore, ram: Ram, counters: { flushes: number; writes?: number }) {
  return fakePeer('virtio-blk', blockInterface, {
    info: () => ({ sectorBytes: 512, sectors: store.bytes / 512, readOnly: store.readOnly, serial: 'fake', maxTransferBytes: 1024 * 1024 }),
    read: async ({ sector, bytes, buffer }) => {
      ram.subarray(buffer.address, bytes).set(await store.read(sector * 512, bytes));
      return { bytes };
    },
    write: async ({ sector, bytes, buffer }) => {
      counters.writes = (counters.writes ?? 0) + 1;
      await store.write(sector * 512, ram.read(buffer.address, bytes));
      return { bytes };
    },
    flush: () => { counters.flushes++; return {}; },
    stats: () => ({ reads: 0, writes: 0, flushes: 0, served: 0, errors: 0, inFlight: 0, bytesRead: 0, bytesWritten: 0 }),
  });
}

const title = (text: string) => (e2fsprogsMissing ? `${text} (skipped: ${e2fsprogsMissing})` : text);

describe.skipIf(e2fsprogsMissing)(title('ext2 server'), () => {
  it('serves files on the disk; sync puts them there, flushed, for e2fsck and debugfs', async () => {
    const store = new MemoryBlockStore(makeImage({ bytes: 8 * 1024 * 1024, blockBytes: 4096, label: 'served' }));
    const ram = Ram.allocate(8 * 1024 * 1024);
    const counters = { flushes: 0 };
    harness = await ServerHarness.start({ module: 'servers/ext2/main', name: 'ext2', ram, config: { disk: 'virtio-blk' }, peers: [fakeDisk(store, ram, counters)] });
    const ext2 = harness.client(filesystemInterface);
    const info = await ext2.info({});
    expect(info).toMatchObject({ type: 'ext2', root: 2, statistics: { label: 'served', blockBytes: 4096, readOnly: false } });
    const directory = await ext2.mkdir({ directory: info.root, name: 'notes', permissions: 0o755, uid: 1000, gid: 1000 });
    const file = await ext2.create({ directory: directory.inode, name: 'today.txt', permissions: 0o644, uid: 1000, gid: 1000 });
    const content = new TextEncoder().encode('written through the filesystem interface\n'.repeat(500));
    expect(await ext2.write({ inode: file.inode, offset: 0, data: content })).toEqual({ written: content.length });
    expect((await ext2.lookup({ directory: directory.inode, name: 'today.txt' })).size).toBe(content.length);
    expect((await ext2.read({ inode: file.inode, offset: 0, length: content.length })).data).toEqual(content);
    const names = (await ext2.readdir({ directory: info.root })).entries.map((entry) => entry.name);
    expect(names).toEqual(expect.arrayContaining(['.', '..', 'lost+found', 'notes']));

    const flushesBefore = counters.flushes;
    await ext2.sync({});
    expect(counters.flushes).toBeGreaterThan(flushesBefore);
    const check = checkImage(store.image);
    expect(check.status, check.output).toBe(0);
    expect(dumpFile(store.image, '/notes/today.txt')).toEqual(content);
  });

  it('answers refusals with typed errno errors and keeps serving', async () => {
    const store = new MemoryBlockStore(makeImage({ bytes: 4 * 1024 * 1024 }));
    const ram = Ram.allocate(8 * 1024 * 1024);
    harness = await ServerHarness.start({ module: 'servers/ext2/main', name: 'ext2', ram, config: { disk: 'virtio-blk' }, peers: [fakeDisk(store, ram, { flushes: 0 })] });
    const ext2 = harness.client(filesystemInterface);
    await expect(ext2.lookup({ directory: 2, name: 'missing' })).rejects.toBeInstanceOf(errnoErrors.ENOENT);
    await ext2.create({ directory: 2, name: 'twice', permissions: 0o644, uid: 0, gid: 0 });
    await expect(ext2.create({ directory: 2, name: 'twice', permissions: 0o644, uid: 0, gid: 0 })).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(ext2.rmdir({ directory: 2, name: 'twice' })).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(ext2.getattr({ inode: 999_999 })).rejects.toMatchObject({ code: 'EINVAL' });
    expect((await ext2.info({})).type).toBe('ext2');
  });

  it('on a read-only disk mounts read-only: writes are EROFS and nothing reaches the disk, the superblock least of all', async () => {
    const image = makeImage({ bytes: 4 * 1024 * 1024, label: 'kept' });
    const store = new MemoryBlockStore(image.slice(), true);
    const ram = Ram.allocate(8 * 1024 * 1024);
    const counters = { flushes: 0, writes: 0 };
    harness = await ServerHarness.start({ module: 'servers/ext2/main', name: 'ext2', ram, config: { disk: 'virtio-blk', access: 'read-write' }, peers: [fakeDisk(store, ram, counters)] });
    const ext2 = harness.client(filesystemInterface);
    expect((await ext2.info({})).statistics).toMatchObject({ label: 'kept', readOnly: true });
    await expect(ext2.create({ directory: 2, name: 'new', permissions: 0o644, uid: 0, gid: 0 })).rejects.toBeInstanceOf(errnoErrors.EROFS);
    await expect(ext2.mkdir({ directory: 2, name: 'new', permissions: 0o755, uid: 0, gid: 0 })).rejects.toMatchObject({ code: 'EROFS' });
    await ext2.sync({});
    await harness.stop();
    harness = undefined;
    expect(counters.writes).toBe(0);
    expect(store.image.length === image.length && store.image.every((byte, index) => byte === image[index]), 'the image changed').toBe(true);
  });

  it('refuses a disk with features it does not support at start, naming them, as a final START_REFUSED', async () => {
    const store = new MemoryBlockStore(makeImage({ bytes: 8 * 1024 * 1024, type: 'ext4' }));
    const ram = Ram.allocate(8 * 1024 * 1024);
    await expect(ServerHarness.start({ module: 'servers/ext2/main', name: 'ext2', ram, config: { disk: 'virtio-blk' }, peers: [fakeDisk(store, ram, { flushes: 0 })] }))
      .rejects.toThrow(/cannot mount virtio-blk read-write: unsupported incompatible features: extent/);
  });

  it('refuses a config without a disk, naming the field', async () => {
    await expect(ServerHarness.start({ module: 'servers/ext2/main', name: 'ext2', config: {} })).rejects.toThrow(/disk/);
  });
});
