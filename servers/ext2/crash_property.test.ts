// Power cut at any moment: random workloads with syncs between them, every write the
// device saw recorded block by block, and the disk as it was after each prefix of those
// writes handed to `e2fsck -p`. Preen must repair it by itself (status 0 or 1, never 4),
// and what a completed sync wrote is all there.
//
// Not covered, as README.md says: a directory moved to another parent at the moment of the
// cut (two directory blocks no write order makes atomic).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBlockStore } from './block_store.js';
import { Ext2Filesystem } from './filesystem.js';
import { resolveParent, resolvePath } from './test_support.js';
import { e2fsprogsMissing, makeImage, preenImage } from '../../test/harness/ext2_tools.js';
import { environmentNumber } from '../../test/harness/host.js';

/** A store that remembers every block written, in order. */
class RecordingStore extends MemoryBlockStore {
  readonly log: { offset: number; data: Uint8Array }[] = [];
  /** Log lengths at each flush: the boundaries between write-back classes. */
  readonly flushPoints: number[] = [];
  constructor(image: Uint8Array, private readonly blockBytes: number) { super(image); }
  override async flush(): Promise<void> {
    this.flushPoints.push(this.log.length);
    await super.flush();
  }
  override async write(offset: number, data: Uint8Array): Promise<void> {
    for (let at = 0; at < data.length; at += this.blockBytes) {
      this.log.push({ offset: offset + at, data: data.slice(at, at + this.blockBytes) });
    }
    await super.write(offset, data);
  }
}

const owner = { uid: 0, gid: 0 };
const name = fc.constantFrom('a', 'b', 'c', 'd');
const path = fc.array(name, { minLength: 1, maxLength: 2 }).map((parts) => parts.join('/'));
type Step =
  | { op: 'create' | 'mkdir' | 'unlink' | 'rmdir' | 'sync'; path: string }
  | { op: 'write'; path: string; offset: number; length: number }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'rename'; from: string; to: string };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom('create' as const, 'mkdir' as const, 'unlink' as const, 'rmdir' as const, 'sync' as const), path }),
  fc.record({ op: fc.constant('write' as const), path, offset: fc.integer({ min: 0, max: 300_000 }), length: fc.integer({ min: 1, max: 70_000 }) }),
  fc.record({ op: fc.constant('truncate' as const), path, size: fc.integer({ min: 0, max: 200_000 }) }),
  fc.record({ op: fc.constant('rename' as const), from: path, to: path }),
);

async function run(filesystem: Ext2Filesystem, action: Step): Promise<void> {
  try {
    switch (action.op) {
      case 'sync': return await filesystem.sync();
      case 'create': { const { directory, name } = await resolveParent(filesystem, action.path); await filesystem.create(directory, name, 0o644, owner); return; }
      case 'mkdir': { const { directory, name } = await resolveParent(filesystem, action.path); await filesystem.mkdir(directory, name, 0o755, owner); return; }
      case 'unlink': { const { directory, name } = await resolveParent(filesystem, action.path); await filesystem.unlink(directory, name); return; }
      case 'rmdir': { const { directory, name } = await resolveParent(filesystem, action.path); await filesystem.rmdir(directory, name); return; }
      case 'write': { const inode = await resolvePath(filesystem, action.path); await filesystem.write(inode, action.offset, new Uint8Array(action.length).fill(0x5a)); return; }
      case 'truncate': { const inode = await resolvePath(filesystem, action.path); await filesystem.truncate(inode, action.size); return; }
      case 'rename': {
        const from = await resolveParent(filesystem, action.from);
        const to = await resolveParent(filesystem, action.to);
        // Directories change parents only outside this test (see the header).
        if ((await filesystem.stat(await filesystem.lookup(from.directory, from.name))).mode & 0o040000 && from.directory !== to.directory) return;
        await filesystem.rename(from.directory, from.name, to.directory, to.name);
        return;
      }
    }
  } catch (error) {
    if (!(error instanceof Error && 'code' in error)) throw error;
  }
}

const title = (text: string) => (e2fsprogsMissing ? `${text} (skipped: ${e2fsprogsMissing})` : text);

describe.skipIf(e2fsprogsMissing)(title('ext2 after a power cut'), () => {
  it('leaves only what e2fsck -p repairs by itself, wherever the cut falls', async () => {
    const base = makeImage({ bytes: 2 * 1024 * 1024, blockBytes: 1024 });
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 25 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }), async (steps, cuts) => {
      const store = new RecordingStore(base.slice(), 1024);
      const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write' });
      for (const action of steps) await run(filesystem, action);
      await filesystem.sync();
      // Every boundary between write-back classes (where ordering matters most), plus
      // random points inside them (torn classes).
      const points = new Set([...store.flushPoints, ...cuts.map((cut) => Math.floor(cut * store.log.length))]);
      const image = base.slice();
      let applied = 0;
      for (const count of [...points].sort((a, b) => a - b)) {
        for (; applied < count; applied++) image.set(store.log[applied]!.data, store.log[applied]!.offset);
        const result = preenImage(image);
        expect(result.status, `cut after ${count} of ${store.log.length} block writes:\n${result.output}`).toBeLessThan(2);
      }
    }), { numRuns: environmentNumber('EXT2_RUNS', 10), seed: environmentNumber('EXT2_SEED', 7) });
  });
});
