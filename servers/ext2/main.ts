// The ext2 server: one ext2 filesystem on one disk, served to the VFS as the filesystem
// interface (ipc/interfaces/filesystem.ts). It reaches the disk only through the block
// service, and answers every refusal with its POSIX errno. Each change is on the disk
// (in write-back order, flushed) before its reply, so an acknowledged write survives a
// crash of this server (kill ext2) as well as a power cut; the VFS's page cache is what
// gathers small writes into few.
//
// Config: `disk`, the block service's name (e.g. "virtio-blk" or "virtio-blk.1"), and
// `access`, "read-write" (default) or "read-only". A read-write mount marks the filesystem
// not clean until `stop` unmounts it, so after a crash `e2fsck -p` checks it. A disk this
// server cannot mount (a feature it does not support, a bad superblock) is refused with
// START_REFUSED, which the supervisor takes as final: said once, not restarted.
//
// The kernel starts one instance per disk that holds ext2 (manifest.json `diskMatch`,
// microkernel/disk_servers.ts): `ext2` for the disk `virtio-blk`, `ext2.N` for `virtio-blk.N`.

import { blockInterface } from '../../ipc/interfaces/block.js';
import { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { Type } from '../../ipc/typebox.js';
import { StartRefusedError } from '../../microkernel/userlib/config.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { BlockServiceStore } from './block_service_store.js';
import { Ext2Error } from './errors.js';
import { Ext2Filesystem } from './filesystem.js';
import { ext2Handlers } from './service.js';

/** The ext2 server's config (its manifest.json), checked by the runtime before init. */
const Ext2Config = Type.Object({
  disk: Type.String({ minLength: 1, description: 'block service name of the disk' }),
  access: Type.Union([Type.Literal('read-write'), Type.Literal('read-only')], { default: 'read-write' }),
}, { additionalProperties: false });

let mounted: Ext2Filesystem | undefined;

export default defineServer({
  config: Ext2Config,
  async init(context) {
    const config = context.config;
    const disk = context.connect(blockInterface, config.disk);
    const store = await BlockServiceStore.open(disk, context.ram, (bytes) => context.allocateDma(bytes));
    let filesystem: Ext2Filesystem;
    try {
      filesystem = await Ext2Filesystem.mount(store, { access: config.access, commit: 'every-operation' });
    } catch (error) {
      // The same disk would be refused the same way: final, not a crash to restart after.
      if (error instanceof Ext2Error) throw new StartRefusedError(`cannot mount ${config.disk} ${config.access}: ${error.message.replace(/^E[A-Z]+: (cannot mount [a-z-]+: )?/, '')}`, { errno: error.code });
      throw error;
    }
    mounted = filesystem;
    const statistics = filesystem.statistics();
    context.log.info({ disk: config.disk, label: statistics.label, blocks: statistics.blocks, blockBytes: statistics.blockBytes, access: filesystem.access }, 'mounted ext2');

    context.serve(filesystemInterface, ext2Handlers(filesystem));
  },

  async stop() {
    await mounted?.unmount();
  },
});
