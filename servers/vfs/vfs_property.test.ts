// Random sequences of operations through the VFS (over a tmpfs) and on a model of POSIX
// semantics with symlinks followed: the same outcome (success, or the same errno) at every
// step; then, after sync, the filesystem holds exactly the model's tree, and reading it back
// through the VFS gives the same bytes.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OpenFlags } from '../../ipc/interfaces/fs.js';
import { ModelError, PosixModel, type ModelNode } from '../../test/harness/posix_model.js';
import type { Tmpfs } from '../tmpfs/tmpfs.js';
import { testSystem } from './test_support.js';
import type { Vfs } from './vfs.js';
import { sameBytes } from '../../test/harness/bytes.js';
import { environmentNumber } from '../../test/harness/host.js';

const me = 'property';
const name = fc.constantFrom('a', 'b', 'c');
const path = fc.oneof({ arbitrary: fc.array(name, { minLength: 1, maxLength: 2 }), weight: 3 }, { arbitrary: fc.array(name, { minLength: 3, maxLength: 3 }), weight: 1 })
  .map((parts) => `/${parts.join('/')}`);
const target = fc.constantFrom('a', 'b', '/a', '/a/b', '..', '../c', 'a/b/c', '.');
const bytes = fc.uint8Array({ minLength: 1, maxLength: 9000 });

type Operation =
  | { op: 'create' | 'mkdir' | 'unlink' | 'rmdir'; path: string }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'link' | 'rename'; from: string; to: string }
  | { op: 'write'; path: string; offset: number; data: Uint8Array }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'sync' | 'dropCaches' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ op: fc.constantFrom('create' as const, 'mkdir' as const, 'unlink' as const, 'rmdir' as const), path }),
  fc.record({ op: fc.constant('symlink' as const), path, target }),
  fc.record({ op: fc.constantFrom('link' as const, 'rename' as const), from: path, to: path }),
  fc.record({ op: fc.constant('write' as const), path, offset: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 1_500_000 })), data: bytes }),
  fc.record({ op: fc.constant('truncate' as const), path, size: fc.integer({ min: 0, max: 50_000 }) }),
  fc.constant({ op: 'sync' as const }),
  fc.constant({ op: 'dropCaches' as const }),
);

/** Where every sequence starts, so that most operations meet something: directories, files with data, a symlink to a directory. */
const SETUP: Operation[] = [
  { op: 'mkdir', path: '/a' }, { op: 'mkdir', path: '/a/b' }, { op: 'create', path: '/c' }, { op: 'create', path: '/a/c' }, { op: 'create', path: '/a/b/c' },
  { op: 'write', path: '/c', offset: 0, data: Uint8Array.from({ length: 300_000 }, (_, index) => index % 251) },
  { op: 'write', path: '/a/c', offset: 5000, data: Uint8Array.from({ length: 20_000 }, (_, index) => index % 13) },
  { op: 'symlink', path: '/b', target: 'a' },
];

async function applyToVfs(vfs: Vfs, step: Operation): Promise<void> {
  switch (step.op) {
    case 'create': {
      const { description } = await vfs.open(me, { path: step.path, flags: OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL });
      await vfs.close(me, { description });
      return;
    }
    case 'mkdir': await vfs.mkdir(me, { path: step.path }); return;
    case 'unlink': await vfs.unlink(me, { path: step.path }); return;
    case 'rmdir': await vfs.rmdir(me, { path: step.path }); return;
    case 'symlink': await vfs.symlink(me, { path: step.path, target: step.target }); return;
    case 'link': await vfs.link(me, { existing: step.from, path: step.to }); return;
    case 'rename': await vfs.rename(me, { from: step.from, to: step.to }); return;
    case 'write': {
      const { description } = await vfs.open(me, { path: step.path, flags: OpenFlags.O_WRONLY });
      await vfs.pwrite(me, { description, offset: step.offset, data: step.data });
      await vfs.close(me, { description });
      return;
    }
    case 'truncate': await vfs.truncate(me, { path: step.path, size: step.size }); return;
    case 'sync': await vfs.sync(); return;
    case 'dropCaches': await vfs.cache.dropAll(); return;
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
    case 'sync': case 'dropCaches': return;
  }
}

async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (error instanceof ModelError || (typeof code === 'string' && code.startsWith('E'))) return code!;
    throw error;
  }
}

/** The tree a tmpfs holds, as the model lists it (paths below the root, no leading slash). */
function tmpfsTree(tmpfs: Tmpfs): Map<string, ModelNode> {
  const tree = new Map<string, ModelNode>();
  const walk = (directory: number, prefix: string) => {
    for (const entry of tmpfs.readdir(directory)) {
      if (entry.name === '.' || entry.name === '..') continue;
      const entryPath = prefix ? `${prefix}/${entry.name}` : entry.name;
      const attributes = tmpfs.getattr(entry.inode);
      const type = attributes.mode & 0o170000;
      if (type === 0o040000) {
        tree.set(entryPath, { kind: 'directory', entries: new Map() });
        walk(entry.inode, entryPath);
      } else if (type === 0o120000) {
        tree.set(entryPath, { kind: 'symlink', target: tmpfs.readlink(entry.inode) });
      } else {
        tree.set(entryPath, { kind: 'file', content: tmpfs.read(entry.inode, 0, attributes.size + 1) });
      }
    }
  };
  walk(tmpfs.root, '');
  return tree;
}

describe('the VFS against a POSIX model', () => {
  it('agrees with the model step by step; after sync the filesystem holds the model\'s tree', async () => {
    await fc.assert(fc.asyncProperty(fc.array(operation, { minLength: 5, maxLength: 40 }), async (steps) => {
      const { vfs, filesystems } = await testSystem(['root'], { cachePages: 256, dirtyFileLimit: 8 });
      const model = new PosixModel({ followSymlinks: true });
      for (const [index, step] of [...SETUP, ...steps].entries()) {
        const expected = await outcome(() => applyToModel(model, step));
        const actual = await outcome(() => applyToVfs(vfs, step));
        expect({ index, step: step.op, actual }).toEqual({ index, step: step.op, actual: expected });
      }
      await vfs.sync();
      const held = tmpfsTree(filesystems.get('root')!.tmpfs);
      const modelled = model.paths();
      expect([...held.keys()].sort()).toEqual([...modelled.keys()].sort());
      for (const [entryPath, node] of modelled) {
        const entry = held.get(entryPath)!;
        if (node.kind === 'file') {
          expect(entry.kind).toBe('file');
          expect(sameBytes((entry as { content: Uint8Array }).content, node.content)).toBe(true);
          const { description } = await vfs.open(me, { path: `/${entryPath}`, flags: OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW });
          const { data } = await vfs.read(me, { description, length: node.content.length + 1 });
          await vfs.close(me, { description });
          expect(sameBytes(data, node.content)).toBe(true);
        } else if (node.kind === 'symlink') {
          expect(entry).toEqual({ kind: 'symlink', target: node.target });
        } else {
          expect(entry.kind).toBe('directory');
        }
      }
    }), { numRuns: environmentNumber('VFS_RUNS', 60), seed: environmentNumber('VFS_SEED', 20261204) });
  });
});
