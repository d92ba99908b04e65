// ext2 against Linux's own tools: images mke2fs -d makes are read byte-exact, and images
// this code writes pass e2fsck -fn and read back through debugfs as written.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBlockStore } from './block_store.js';
import { Ext2Filesystem } from './filesystem.js';
import { MODE_DIRECTORY, MODE_REGULAR, MODE_SYMLINK, MODE_TYPE_MASK } from './layout.js';
import { resolveParent, resolvePath } from './test_support.js';
import {
  checkImage, debugfs, dumpFile, e2fsprogsMissing, makeImage, sha256, temporaryDirectory, writeTree, type TreeEntry,
} from '../../test/harness/ext2_tools.js';

const MiB = 1024 * 1024;
const owner = { uid: 0, gid: 0 };

function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

const text = (value: string) => new TextEncoder().encode(value);

/** The tree every image is made from: nesting, a sparse file past double-indirect, both symlinks. */
function testTree(): TreeEntry[] {
  const entries: TreeEntry[] = [
    { path: 'a/b/c/deep.txt', kind: 'file', content: text('deep\n') },
    { path: 'a/empty', kind: 'directory' },
    { path: 'random.bin', kind: 'file', content: pseudoRandomBytes(300 * 1024 + 17, 7) },
    { path: 'ünïcode.txt', kind: 'file', content: text('names are bytes\n') },
    { path: 'empty-file', kind: 'file', content: new Uint8Array(0) },
    {
      path: 'sparse.bin', kind: 'sparse', size: 70 * MiB,
      pieces: [
        { offset: 0, bytes: text('start') },
        { offset: 66 * MiB + 123, bytes: pseudoRandomBytes(5000, 11) },
        { offset: 70 * MiB - 3, bytes: text('end') },
      ],
    },
    { path: 'fast-link', kind: 'symlink', target: 'a/b/c/deep.txt' },
    { path: 'slow-link', kind: 'symlink', target: `${'long/'.repeat(30)}target` },
  ];
  for (let index = 0; index < 300; index++) {
    entries.push({ path: `many/file-with-a-longish-name-${index}`, kind: 'file', content: text(`file ${index}\n`) });
  }
  return entries;
}

function expectedContent(entry: TreeEntry): Uint8Array {
  if (entry.kind === 'file') return entry.content;
  if (entry.kind !== 'sparse') throw new Error('not a file');
  const bytes = new Uint8Array(entry.size);
  for (const piece of entry.pieces) bytes.set(piece.bytes, piece.offset);
  return bytes;
}

const title = (name: string) => (e2fsprogsMissing ? `${name} (skipped: ${e2fsprogsMissing})` : name);

describe.skipIf(e2fsprogsMissing)(title('Ext2Filesystem reads images made by mke2fs -d'), () => {
  const tree = testTree();
  const images = new Map<number, Uint8Array>();

  beforeAll(() => {
    const source = temporaryDirectory('baton-ext2-tree-');
    try {
      writeTree(source.path, tree);
      images.set(1024, makeImage({ source: source.path, bytes: 16 * MiB, blockBytes: 1024, label: 'one-k' }));
      images.set(4096, makeImage({ source: source.path, bytes: 32 * MiB, blockBytes: 4096, label: 'four-k', indexDirectories: true }));
    } finally {
      source.remove();
    }
  });

  for (const blockBytes of [1024, 4096]) {
    it(`reads every file byte-exact with ${blockBytes}-byte blocks`, async () => {
      const filesystem = await Ext2Filesystem.mount(new MemoryBlockStore(images.get(blockBytes)!.slice()), { access: 'read-only' });
      expect(filesystem.label).toBe(blockBytes === 1024 ? 'one-k' : 'four-k');
      for (const entry of tree) {
        const inode = await resolvePath(filesystem, entry.path);
        const attributes = await filesystem.stat(inode);
        if (entry.kind === 'directory') {
          expect(attributes.mode & MODE_TYPE_MASK).toBe(MODE_DIRECTORY);
        } else if (entry.kind === 'symlink') {
          expect(attributes.mode & MODE_TYPE_MASK).toBe(MODE_SYMLINK);
          expect(await filesystem.readlink(inode)).toBe(entry.target);
        } else {
          const expected = expectedContent(entry);
          expect(attributes.mode & MODE_TYPE_MASK).toBe(MODE_REGULAR);
          expect(attributes.size).toBe(expected.length);
          const content = await filesystem.read(inode, 0, expected.length + 100);
          expect(sha256(content), entry.path).toBe(sha256(expected));
        }
      }
    });
  }

  it('lists a directory as debugfs does, htree-indexed or not', async () => {
    const image = images.get(4096)!.slice();
    const filesystem = await Ext2Filesystem.mount(new MemoryBlockStore(image), { access: 'read-only' });
    const listing = await filesystem.readDirectory(await resolvePath(filesystem, 'many'));
    const names = listing.map((entry) => entry.name).filter((name) => name !== '.' && name !== '..').sort();
    const expected = tree.filter((entry) => entry.path.startsWith('many/')).map((entry) => entry.path.slice(5)).sort();
    expect(names).toEqual(expected);
    expect(debugfs(image, 'stat /many')).toMatch(/Flags: 0x1000/);
    const debugfsNames = debugfs(image, 'ls -p /many').split('\n').filter((line) => line.startsWith('/'))
      .map((line) => line.split('/')[5]!).filter((name) => name !== '.' && name !== '..').sort();
    expect(debugfsNames).toEqual(expected);
  });

  it('writing into an htree directory clears its index flag, and e2fsck agrees', async () => {
    const store = new MemoryBlockStore(images.get(4096)!.slice());
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
    const many = await resolvePath(filesystem, 'many');
    await filesystem.create(many, 'one-more', 0o644, owner);
    await filesystem.unlink(many, 'file-with-a-longish-name-7');
    await filesystem.unmount();
    expect(debugfs(store.image, 'stat /many')).toMatch(/Flags: 0x0\b/);
    const check = checkImage(store.image);
    expect(check.status, check.output).toBe(0);
    expect(debugfs(store.image, 'ls /many')).toMatch(/one-more/);
  });

  it('refuses a mount by the names of the features it does not support', async () => {
    const ext4 = makeImage({ bytes: 8 * MiB, type: 'ext4' });
    await expect(Ext2Filesystem.mount(new MemoryBlockStore(ext4), { access: 'read-write' })).rejects.toThrow(/unsupported incompatible features: .*extent/);
  });

  it('refuses what is not ext2 at all', async () => {
    await expect(Ext2Filesystem.mount(new MemoryBlockStore(new Uint8Array(MiB)), { access: 'read-only' })).rejects.toThrow(/not an ext2 filesystem/);
  });
});

describe.skipIf(e2fsprogsMissing)(title('Ext2Filesystem writes images e2fsck passes'), () => {
  let base: Uint8Array;
  beforeAll(() => { base = makeImage({ bytes: 8 * MiB, blockBytes: 1024 }); });
  afterAll(() => undefined);

  it('creates, writes, renames, links, truncates and removes; e2fsck -fn is clean and debugfs reads it back', async () => {
    const store = new MemoryBlockStore(base.slice());
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
    const root = filesystem.rootInode;
    const docs = await filesystem.mkdir(root, 'docs', 0o755, owner);
    const nested = await filesystem.mkdir(docs, 'nested', 0o700, owner);
    const hello = await filesystem.create(docs, 'hello.txt', 0o644, owner);
    await filesystem.write(hello, 0, text('hello, ext2\n'));
    const big = await filesystem.create(nested, 'big.bin', 0o600, owner);
    const bigContent = pseudoRandomBytes(600 * 1024, 3);
    await filesystem.write(big, 0, bigContent);
    const sparse = await filesystem.create(root, 'sparse', 0o644, owner);
    await filesystem.write(sparse, 5 * MiB, text('far away'));
    await filesystem.symlink(docs, 'fast', 'hello.txt', owner);
    await filesystem.symlink(docs, 'slow', `${'x'.repeat(200)}`, owner);
    await filesystem.link(root, 'hello-again', hello);
    const doomed = await filesystem.create(root, 'doomed', 0o644, owner);
    await filesystem.write(doomed, 0, pseudoRandomBytes(40_000, 5));
    await filesystem.unlink(root, 'doomed');
    await filesystem.mkdir(root, 'gone', 0o755, owner);
    await filesystem.rmdir(root, 'gone');
    await filesystem.rename(docs, 'nested', root, 'moved');
    const shrink = await filesystem.create(root, 'shrink', 0o644, owner);
    await filesystem.write(shrink, 0, pseudoRandomBytes(300 * 1024, 9));
    await filesystem.truncate(shrink, 1500);
    await filesystem.unmount();

    const check = checkImage(store.image);
    expect(check.output).not.toMatch(/Fix\?|Clear\?|Salvage\?|Relocate\?/);
    expect(check.status, check.output).toBe(0);
    expect(new TextDecoder().decode(dumpFile(store.image, '/docs/hello.txt'))).toBe('hello, ext2\n');
    expect(sha256(dumpFile(store.image, '/moved/big.bin'))).toBe(sha256(bigContent));
    expect(dumpFile(store.image, '/shrink').length).toBe(1500);
    const sparseDump = dumpFile(store.image, '/sparse');
    expect(sparseDump.length).toBe(5 * MiB + 8);
    expect(new TextDecoder().decode(sparseDump.subarray(5 * MiB))).toBe('far away');
    expect(debugfs(store.image, 'stat /docs/slow')).toMatch(/Size: 200/);
    expect(debugfs(store.image, 'stat /hello-again')).toMatch(/Links: 2/);
    expect(debugfs(store.image, 'ls /')).not.toMatch(/doomed|gone/);
    expect(debugfs(store.image, 'stats')).toMatch(/Filesystem state:\s+clean/);
  });

  it('counts its mount and leaves the filesystem not clean while mounted, as Linux does', async () => {
    const store = new MemoryBlockStore(base.slice());
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write', now: () => 1_800_000_000 });
    expect(debugfs(store.image, 'stats')).toMatch(/Filesystem state:\s+not clean/);
    expect(debugfs(store.image, 'stats')).toMatch(/Mount count:\s+1/);
    await filesystem.unmount();
    expect(debugfs(store.image, 'stats')).toMatch(/Filesystem state:\s+clean/);
  });

  it('answers errors by errno', async () => {
    const filesystem = await Ext2Filesystem.mount(new MemoryBlockStore(base.slice()), { access: 'read-write' });
    const root = filesystem.rootInode;
    await filesystem.mkdir(root, 'dir', 0o755, owner);
    const file = await filesystem.create(root, 'file', 0o644, owner);
    await filesystem.create(await filesystem.lookup(root, 'dir'), 'inside', 0o644, owner);
    await expect(filesystem.create(root, 'file', 0o644, owner)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(filesystem.lookup(root, 'nothing')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(filesystem.lookup(file, 'x')).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(filesystem.rmdir(root, 'dir')).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await expect(filesystem.unlink(root, 'dir')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(filesystem.rmdir(root, 'file')).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(filesystem.create(root, 'n'.repeat(256), 0o644, owner)).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(filesystem.rename(root, 'dir', await filesystem.lookup(root, 'dir'), 'self')).rejects.toMatchObject({ code: 'EINVAL' });
    const readOnly = await Ext2Filesystem.mount(new MemoryBlockStore(base.slice()), { access: 'read-only' });
    await expect(readOnly.create(readOnly.rootInode, 'x', 0o644, owner)).rejects.toMatchObject({ code: 'EROFS' });
  });

  it('fills the disk to ENOSPC and keeps what was written; e2fsck stays clean', async () => {
    const small = makeImage({ bytes: MiB, blockBytes: 1024 });
    const store = new MemoryBlockStore(small);
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
    const file = await filesystem.create(filesystem.rootInode, 'fill', 0o644, owner);
    let offset = 0;
    await expect((async () => {
      for (;;) offset += await filesystem.write(file, offset, pseudoRandomBytes(64 * 1024, offset + 1));
    })()).rejects.toMatchObject({ code: 'ENOSPC' });
    const attributes = await filesystem.stat(file);
    expect(attributes.size).toBeGreaterThan(offset);
    await filesystem.unmount();
    const check = checkImage(store.image);
    expect(check.status, check.output).toBe(0);
  });

  it('keeps an unlinked file that is held open until its release', async () => {
    const store = new MemoryBlockStore(base.slice());
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
    const file = await filesystem.create(filesystem.rootInode, 'held', 0o644, owner);
    await filesystem.write(file, 0, text('still here'));
    filesystem.hold(file);
    await filesystem.unlink(filesystem.rootInode, 'held');
    expect(new TextDecoder().decode(await filesystem.read(file, 0, 100))).toBe('still here');
    await filesystem.release(file);
    await expect(filesystem.stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    await filesystem.unmount();
    expect(checkImage(store.image).status).toBe(0);
  });

  it('reads file data in runs of consecutive blocks, unsynced changes and holes included, in as many device reads as runs', async () => {
    const store = new MemoryBlockStore(base.slice());
    let deviceReads = 0;
    const read = store.read.bind(store);
    store.read = (offset, length) => { deviceReads++; return read(offset, length); };
    const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
    const file = await filesystem.create(filesystem.rootInode, 'runs.bin', 0o644, owner);
    const expected = new Uint8Array(700 * 1024);
    expected.set(pseudoRandomBytes(300 * 1024, 11));
    expected.set(pseudoRandomBytes(200 * 1024, 12), 500 * 1024); // 300 KiB..500 KiB stays a hole
    await filesystem.write(file, 0, expected.subarray(0, 300 * 1024));
    await filesystem.write(file, 500 * 1024, expected.subarray(500 * 1024));
    await filesystem.sync();
    // Changed after the sync: only in the buffer cache, and what a read must return.
    const patch = pseudoRandomBytes(3000, 13);
    expected.set(patch, 100_000);
    await filesystem.write(file, 100_000, patch);
    expect(sha256(await filesystem.read(file, 0, expected.length))).toBe(sha256(expected));
    expect(sha256(await filesystem.read(file, 299_000, 210 * 1024))).toBe(sha256(expected.subarray(299_000, 299_000 + 210 * 1024)));
    await filesystem.sync();
    const again = await Ext2Filesystem.mount(store, { access: 'read-only' });
    const inode = await again.lookup(again.rootInode, 'runs.bin');
    await again.read(inode, 0, 1); // inode table and indirect blocks now cached
    deviceReads = 0;
    expect(sha256(await again.read(inode, 0, expected.length))).toBe(sha256(expected));
    // 500 KiB of data in 1 KiB blocks takes far fewer device reads than blocks (one per run).
    expect(deviceReads).toBeLessThan(20);
  });

  it('resolves the parent of a path', async () => {
    const filesystem = await Ext2Filesystem.mount(new MemoryBlockStore(base.slice()), { access: 'read-only' });
    const { directory, name } = await resolveParent(filesystem, '/lost+found/x');
    expect(name).toBe('x');
    expect(directory).toBe(await filesystem.lookup(filesystem.rootInode, 'lost+found'));
  });
});
