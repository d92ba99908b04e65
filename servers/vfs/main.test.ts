// The VFS server alone in its worker, on fake peers: a memory service handing out pages
// of the harness's RAM, and two tmpfs filesystems served from the test's thread. It mounts
// what its config says at start, serves the fs interface, and its refusals arrive as typed
// errno errors.

import { afterEach, describe, expect, it } from 'vitest';
import { Ram } from '../../hal/ram.js';
import { errnoErrors } from '../../ipc/interfaces/errno.js';
import { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { fsInterface, OpenFlags } from '../../ipc/interfaces/fs.js';
import { fakeMemory } from '../../test/harness/fake_memory.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import { RamRangePages } from '../lib/pages.js';
import { tmpfsHandlers } from '../tmpfs/service.js';
import { Tmpfs } from '../tmpfs/tmpfs.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const MIB = 1024 * 1024;

function tmpfsPeer(name: string, ram: Ram, start: number, end: number) {
  const tmpfs = new Tmpfs({ pages: new RamRangePages(ram, start, end), sizeBytes: 4 * MIB, inodeLimit: 1000, label: name });
  return { tmpfs, peer: fakePeer(name, filesystemInterface, tmpfsHandlers(tmpfs)) };
}

describe('vfs server', () => {
  it('mounts its root and /tmp at start and serves files on both through the fs interface', async () => {
    const ram = Ram.allocate(32 * MIB);
    const root = tmpfsPeer('tmpfs', ram, ram.base + 8 * MIB, ram.base + 12 * MIB);
    const tmp = tmpfsPeer('tmpfs-tmp', ram, ram.base + 12 * MIB, ram.base + 16 * MIB);
    harness = await ServerHarness.start({
      module: 'servers/vfs/main', name: 'vfs', ram,
      config: { root: 'tmpfs', mounts: [{ path: '/tmp', service: 'tmpfs-tmp' }] },
      peers: [fakeMemory(ram, ram.base + 16 * MIB, ram.end), root.peer, tmp.peer],
    });
    const fs = harness.client(fsInterface);
    expect((await fs.mounts({})).mounts.map((mount) => [mount.path, mount.service, mount.type])).toEqual([['/', 'tmpfs', 'tmpfs'], ['/tmp', 'tmpfs-tmp', 'tmpfs']]);

    const { description } = await fs.open({ path: '/tmp/hello', flags: OpenFlags.O_RDWR | OpenFlags.O_CREAT, permissions: 0o600 });
    const content = new TextEncoder().encode('through the worker\n'.repeat(1000));
    expect(await fs.write({ description, data: content })).toEqual({ written: content.length });
    expect((await fs.pread({ description, offset: 0, length: content.length })).data).toEqual(content);
    expect(await fs.fstat({ description })).toMatchObject({ size: content.length, mode: 0o100600, blockBytes: 4096 });
    await fs.fsync({ description });
    await fs.close({ description });
    // Written back to the tmpfs behind /tmp, not the root's.
    expect(tmp.tmpfs.lookup(tmp.tmpfs.root, 'hello').size).toBe(content.length);
    expect(() => root.tmpfs.lookup(root.tmpfs.root, 'hello')).toThrow();
    expect(await fs.statfs({ path: '/tmp' })).toMatchObject({ type: 'tmpfs', label: 'tmpfs-tmp', path: '/tmp', blockBytes: 4096 });
  });

  it('answers refusals with typed errno errors and keeps serving', async () => {
    const ram = Ram.allocate(32 * MIB);
    const root = tmpfsPeer('tmpfs', ram, ram.base + 8 * MIB, ram.base + 12 * MIB);
    harness = await ServerHarness.start({ module: 'servers/vfs/main', name: 'vfs', ram, config: { root: 'tmpfs' }, peers: [fakeMemory(ram, ram.base + 16 * MIB, ram.end), root.peer] });
    const fs = harness.client(fsInterface);
    await expect(fs.stat({ path: '/nothing' })).rejects.toBeInstanceOf(errnoErrors.ENOENT);
    await expect(fs.read({ description: 12345, length: 1 })).rejects.toBeInstanceOf(errnoErrors.EBADF);
    await expect(fs.stat({ path: `/${'x'.repeat(300)}` })).rejects.toBeInstanceOf(errnoErrors.ENAMETOOLONG);
    await expect(fs.mount({ path: '/', service: 'tmpfs' })).rejects.toBeInstanceOf(errnoErrors.EBUSY);
    await fs.mkdir({ path: '/mnt' });
    await expect(fs.mount({ path: '/mnt', service: 'absent' })).rejects.toBeInstanceOf(errnoErrors.ENODEV);
    expect((await fs.stat({ path: '/mnt' })).mode).toBe(0o040755);
  });

  it('refuses a config it does not know, naming the field', async () => {
    await expect(ServerHarness.start({ module: 'servers/vfs/main', name: 'vfs', config: { rooot: 'tmpfs' } })).rejects.toThrow(/rooot/);
  });
});
