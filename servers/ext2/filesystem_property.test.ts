// Random sequences of operations on ext2 and on a model of POSIX semantics: the same
// results (or the same errno) at every step, then e2fsck -fn is clean and Linux's debugfs
// reads back exactly the model's tree.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBlockStore } from './block_store.js';
import { Ext2Error } from './errors.js';
import { Ext2Filesystem } from './filesystem.js';
import { resolveParent, resolvePath } from './test_support.js';
import { checkImage, dumpTree, e2fsprogsMissing, makeImage, sha256 } from '../../test/harness/ext2_tools.js';
import { environmentNumber } from '../../test/harness/host.js';
import { ModelError, PosixModel } from '../../test/harness/posix_model.js';

const owner = { uid: 0, gid: 0 };
const name = fc.constantFrom('a', 'b', 'c');
const path = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const bytes = fc.uint8Array({ minLength: 1, maxLength: 5000 });

type Operation =
  | { op: 'create' | 'mkdir' | 'unlink' | 'rmdir'; path: string }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'link' | 'rename'; from: string; to: string }
  | { op: 'write'; path: string; offset: number; data: Uint8Array }
  | { op: 'truncate'; path: string; size: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ op: fc.constantFrom('create' as const, 'mkdir' as const, 'unlink' as const, 'rmdir' as const), path }),
  fc.record({ op: fc.constant('symlink' as const), path, target: fc.oneof(fc.constant('short'), fc.constant('l'.repeat(90))) }),
  fc.record({ op: fc.constantFrom('link' as const, 'rename' as const), from: path, to: path }),
  fc.record({ op: fc.constant('write' as const), path, offset: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 400_000 })), data: bytes }),
  fc.record({ op: fc.constant('truncate' as const), path, size: fc.integer({ min: 0, max: 300_000 }) }),
);

async function applyToFilesystem(filesystem: Ext2Filesystem, step: Operation): Promise<void> {
  switch (step.op) {
    case 'create': { const { directory, name } = await resolveParent(filesystem, step.path); await filesystem.create(directory, name, 0o644, owner); return; }
    case 'mkdir': { const { directory, name } = await resolveParent(filesystem, step.path); await filesystem.mkdir(directory, name, 0o755, owner); return; }
    case 'unlink': { const { directory, name } = await resolveParent(filesystem, step.path); await filesystem.unlink(directory, name); return; }
    case 'rmdir': { const { directory, name } = await resolveParent(filesystem, step.path); await filesystem.rmdir(directory, name); return; }
    case 'symlink': { const { directory, name } = await resolveParent(filesystem, step.path); await filesystem.symlink(directory, name, step.target, owner); return; }
    case 'link': { const inode = await resolvePath(filesystem, step.from); const { directory, name } = await resolveParent(filesystem, step.to); await filesystem.link(directory, name, inode); return; }
    case 'rename': {
      const from = await resolveParent(filesystem, step.from);
      const to = await resolveParent(filesystem, step.to);
      await filesystem.rename(from.directory, from.name, to.directory, to.name);
      return;
    }
    case 'write': { const inode = await resolvePath(filesystem, step.path); await filesystem.write(inode, step.offset, step.data); return; }
    case 'truncate': { const inode = await resolvePath(filesystem, step.path); await filesystem.truncate(inode, step.size); return; }
  }
}

function applyToModel(model: PosixModel, step: Operation): void {
  switch (step.op) {
    case 'create': return model.create(step.path);
    case 'mkdir': return model.mkdir(step.path);
    case 'unlink': return model.unlink(step.path);
    case 'rmdir': return model.rmdir(step.path);
    case 'symlink': return model.symlink(step.path, step.target);
    case 'link': return model.link(step.from, step.to);
    case 'rename': return model.rename(step.from, step.to);
    case 'write': return model.write(step.path, step.offset, step.data);
    case 'truncate': return model.truncate(step.path, step.size);
  }
}

async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    if (error instanceof Ext2Error || error instanceof ModelError) return error.code;
    throw error;
  }
}

const title = (text: string) => (e2fsprogsMissing ? `${text} (skipped: ${e2fsprogsMissing})` : text);

describe.skipIf(e2fsprogsMissing)(title('Ext2Filesystem against a POSIX model'), () => {
  it('agrees with the model step by step, and the image is clean and reads back as the model', async () => {
    const base = makeImage({ bytes: 4 * 1024 * 1024, blockBytes: 1024 });
    await fc.assert(fc.asyncProperty(fc.array(operation, { minLength: 5, maxLength: 40 }), async (steps) => {
      const store = new MemoryBlockStore(base.slice());
      const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
      const model = new PosixModel();
      for (const step of steps) {
        const expected = await outcome(() => applyToModel(model, step));
        const actual = await outcome(() => applyToFilesystem(filesystem, step));
        // The model does not tell a missing parent (ENOENT) from a non-directory on the way
        // in every order; the filesystem must fail whenever the model fails, and vice versa.
        expect({ step: step.op, actual: actual === 'ok' }).toEqual({ step: step.op, actual: expected === 'ok' });
        if (expected !== 'ok') expect(actual).toBe(expected);
      }
      await filesystem.unmount();
      const check = checkImage(store.image);
      expect(check.status, check.output).toBe(0);
      const dumped = dumpTree(store.image);
      const modelled = model.paths();
      expect([...dumped.keys()].sort()).toEqual([...modelled.keys()].sort());
      for (const [entryPath, node] of modelled) {
        const entry = dumped.get(entryPath)!;
        if (node.kind === 'file') expect(entry).toEqual({ kind: 'file', size: node.content.length, sha256: sha256(node.content) });
        else if (node.kind === 'symlink') expect(entry).toEqual({ kind: 'symlink', target: node.target });
        else expect(entry).toEqual({ kind: 'directory' });
      }
    }), { numRuns: environmentNumber('EXT2_RUNS', 25), seed: environmentNumber('EXT2_SEED', 20261203) });
  });
});
