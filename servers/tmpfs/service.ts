// The filesystem interface's handlers over one Tmpfs: what the server serves, and what
// tests serve as a fake filesystem peer of the VFS.

import type { HandlersOf } from '../../ipc/define.js';
import type { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import type { Tmpfs } from './tmpfs.js';

/** The filesystem interface's handlers over one Tmpfs (also what tests serve as a fake peer). */
export function tmpfsHandlers(tmpfs: Tmpfs): HandlersOf<typeof filesystemInterface> {
  const owner = (args: { uid: number; gid: number }) => ({ uid: args.uid, gid: args.gid });
  return {
    info: () => ({ type: 'tmpfs', root: tmpfs.root, statistics: tmpfs.statistics(), instance: tmpfs.instance }),
    lookup: (args: { directory: number; name: string }) => tmpfs.lookup(args.directory, args.name),
    getattr: (args: { inode: number }) => tmpfs.getattr(args.inode),
    readdir: (args: { directory: number }) => ({ entries: tmpfs.readdir(args.directory) }),
    read: (args: { inode: number; offset: number; length: number }) => ({ data: tmpfs.read(args.inode, args.offset, args.length) }),
    write: async (args: { inode: number; offset: number; data: Uint8Array }) => ({ written: await tmpfs.write(args.inode, args.offset, args.data) }),
    truncate: async (args: { inode: number; size: number }) => { await tmpfs.truncate(args.inode, args.size); return {}; },
    create: (args: { directory: number; name: string; permissions: number; uid: number; gid: number }) => tmpfs.create(args.directory, args.name, args.permissions, owner(args)),
    mkdir: (args: { directory: number; name: string; permissions: number; uid: number; gid: number }) => tmpfs.mkdir(args.directory, args.name, args.permissions, owner(args)),
    symlink: (args: { directory: number; name: string; target: string; uid: number; gid: number }) => tmpfs.symlink(args.directory, args.name, args.target, owner(args)),
    readlink: (args: { inode: number }) => ({ target: tmpfs.readlink(args.inode) }),
    link: (args: { directory: number; name: string; inode: number }) => { tmpfs.link(args.directory, args.name, args.inode); return {}; },
    unlink: async (args: { directory: number; name: string }) => { await tmpfs.unlink(args.directory, args.name); return {}; },
    rmdir: async (args: { directory: number; name: string }) => { await tmpfs.rmdir(args.directory, args.name); return {}; },
    rename: async (args: { fromDirectory: number; fromName: string; toDirectory: number; toName: string }) => {
      await tmpfs.rename(args.fromDirectory, args.fromName, args.toDirectory, args.toName);
      return {};
    },
    setattr: ({ inode, ...change }: { inode: number; permissions?: number; uid?: number; gid?: number; accessTime?: number; modifyTime?: number }) => tmpfs.setattr(inode, change),
    // Nothing to flush: the data is in RAM, which is all a tmpfs promises.
    sync: () => ({}),
    hold: (args: { inode: number }) => { tmpfs.hold(args.inode); return {}; },
    release: async (args: { inode: number }) => { await tmpfs.release(args.inode); return {}; },
  };
}
