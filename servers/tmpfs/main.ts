// The tmpfs server: one filesystem in RAM pages from the memory service, served to the VFS
// as the filesystem interface (ipc/interfaces/filesystem.ts). Two instances run in the
// default system: the root (unpacked from the initramfs by the VFS) and /tmp.
//
// Config: `size`, the most file data it holds (bytes, or "64M"; ENOSPC past it), `inodes`,
// the most inodes, and `label`, what statfs names it. Everything is lost when it stops or
// restarts: its inodes live in this thread's memory (see README.md).

import { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { Type } from '../../ipc/typebox.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { MemoryServicePages } from '../lib/pages.js';
import { parseSize } from './size.js';
import { tmpfsHandlers } from './service.js';
import { Tmpfs } from './tmpfs.js';

const TmpfsConfig = Type.Object({
  size: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+[KMG]?$' })], { default: '64M', description: 'most bytes of file data' }),
  inodes: Type.Integer({ minimum: 1, maximum: 1 << 24, default: 65536 }),
  label: Type.String({ maxLength: 64, default: '' }),
}, { additionalProperties: false });

let mounted: Tmpfs | undefined;

export default defineServer({
  config: TmpfsConfig,
  init(context) {
    const pages = new MemoryServicePages(context.connect(memoryInterface, 'memory'), context.ram);
    const sizeBytes = parseSize(context.config.size);
    const tmpfs = new Tmpfs({ pages, sizeBytes, inodeLimit: context.config.inodes, label: context.config.label });
    mounted = tmpfs;
    context.log.info({ sizeBytes, inodes: context.config.inodes }, 'tmpfs ready');
    context.serve(filesystemInterface, tmpfsHandlers(tmpfs));
  },
  async stop() {
    await mounted?.destroy();
  },
});
