// The VFS server: the one file interface for everyone (ipc/interfaces/fs.ts). It owns the
// paths, the mount table, the open-file descriptions and the page cache; each mounted
// filesystem is a server of its own serving ipc/interfaces/filesystem.ts (tmpfs, ext2).
//
// Config: `root`, the filesystem server mounted at "/" when the VFS starts (none: the
// first `mount` of "/" makes the root); `initramfs`, unpack the boot initramfs (the initrd,
// a cpio newc archive of sysroot/) into the root, as Linux does into its rootfs; `mounts`,
// more mounts made at start, in order, each mount point made first if missing;
// `cachePages`, the most pages the page cache holds; `dirtyFileLimit`, the dirty pages of
// one file past which a write writes it back.
//
// When the root's server restarts without its files (a tmpfs), the initramfs is unpacked
// into it again and the mounts on it are put back on their directories.

import { fsInterface } from '../../ipc/interfaces/fs.js';
import { kernelInterface } from '../../ipc/interfaces/kernel.js';
import { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { Type } from '../../ipc/typebox.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { MemoryServicePages } from '../lib/pages.js';
import { unpackInitramfs } from './initramfs.js';
import { fsHandlers } from './service.js';
import { mountAtStart } from './start_mounts.js';
import { Vfs } from './vfs.js';

const ServiceName = Type.String({ minLength: 1, maxLength: 128 });
const VfsConfig = Type.Object({
  root: Type.String({ maxLength: 128, default: '', description: 'filesystem server mounted at / (empty: none)' }),
  initramfs: Type.Boolean({ default: false, description: 'unpack the boot initramfs into the root' }),
  mounts: Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 4096 }), service: ServiceName, readOnly: Type.Optional(Type.Boolean()) },
    { additionalProperties: false }), { default: [] }),
  cachePages: Type.Integer({ minimum: 256, maximum: 1 << 19, default: 4096 }),
  dirtyFileLimit: Type.Integer({ minimum: 1, maximum: 1 << 19, default: 256 }),
}, { additionalProperties: false });

let running: Vfs | undefined;

export default defineServer({
  config: VfsConfig,
  async init(context) {
    const pages = new MemoryServicePages(context.connect(memoryInterface, 'memory'), context.ram);
    const unpack = async () => {
      const { start, end } = await context.connect(kernelInterface, 'kernel').initramfs({});
      const count = await unpackInitramfs(vfs, context.ram.read(start, end - start));
      context.log.info({ ...count, archiveBytes: end - start }, `unpacked the initramfs into /: ${count.files} files, ${count.directories} directories, ${count.symlinks} symlinks`);
    };
    const vfs = new Vfs({
      pages,
      cachePages: context.config.cachePages,
      dirtyFileLimit: context.config.dirtyFileLimit,
      connectFilesystem: (service) => {
        context.onPeerRestarted(service, () => {
          void vfs.serially(async () => {
            if (await vfs.filesystemRestarted(service)) return;
            context.log.warn({ service }, `filesystem ${service} restarted without its files: what it held is gone`);
            const mount = vfs.mounts.byService(service);
            if (!mount || mount !== vfs.mounts.root) return;
            if (context.config.initramfs) await unpack();
            await vfs.reattachMounts(mount);
          }).catch((error: unknown) => context.log.error({ service, error: (error as Error).message }, `could not restore the root after ${service} restarted`));
        });
        return context.connect(filesystemInterface, service);
      },
    });
    running = vfs;
    context.serve(fsInterface, fsHandlers(vfs));
    await mountAtStart(vfs, context.config, context.log, context.config.initramfs ? unpack : undefined);
  },

  async stop() {
    // A clean stop writes every dirty page back first.
    await running?.serially(() => running!.sync()).catch(() => undefined);
  },
});
