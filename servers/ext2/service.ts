// The filesystem interface's handlers over one mounted Ext2Filesystem: what the ext2 server
// serves, and what the fs benchmark calls in one thread. Refusals become typed errno errors.

import type { HandlersOf } from '../../ipc/define.js';
import { errnoError } from '../../ipc/interfaces/errno.js';
import type { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { Ext2Error } from './errors.js';
import type { Ext2Filesystem } from './filesystem.js';

/** The filesystem interface's handlers over `filesystem`. */
export function ext2Handlers(filesystem: Ext2Filesystem): HandlersOf<typeof filesystemInterface> {
  const owner = (args: { uid: number; gid: number }) => ({ uid: args.uid, gid: args.gid });
  return {
    info: () => ({ type: 'ext2', root: filesystem.rootInode, statistics: filesystem.statistics() }),
    lookup: (args) => errno(async () => filesystem.stat(await filesystem.lookup(args.directory, args.name))),
    getattr: (args) => errno(() => filesystem.stat(args.inode)),
    readdir: (args) => errno(async () => ({ entries: await filesystem.readDirectory(args.directory) })),
    read: (args) => errno(async () => ({ data: await filesystem.read(args.inode, args.offset, args.length) })),
    write: (args) => errno(async () => ({ written: await filesystem.write(args.inode, args.offset, args.data) })),
    truncate: (args) => errno(async () => { await filesystem.truncate(args.inode, args.size); return {}; }),
    create: (args) => errno(async () => filesystem.stat(await filesystem.create(args.directory, args.name, args.permissions, owner(args)))),
    mkdir: (args) => errno(async () => filesystem.stat(await filesystem.mkdir(args.directory, args.name, args.permissions, owner(args)))),
    symlink: (args) => errno(async () => filesystem.stat(await filesystem.symlink(args.directory, args.name, args.target, owner(args)))),
    readlink: (args) => errno(async () => ({ target: await filesystem.readlink(args.inode) })),
    link: (args) => errno(async () => { await filesystem.link(args.directory, args.name, args.inode); return {}; }),
    unlink: (args) => errno(async () => { await filesystem.unlink(args.directory, args.name); return {}; }),
    rmdir: (args) => errno(async () => { await filesystem.rmdir(args.directory, args.name); return {}; }),
    rename: (args) => errno(async () => { await filesystem.rename(args.fromDirectory, args.fromName, args.toDirectory, args.toName); return {}; }),
    setattr: ({ inode, ...change }) => errno(() => filesystem.setAttributes(inode, change)),
    sync: () => errno(async () => { await filesystem.sync(); return {}; }),
    hold: (args) => errno(async () => { await filesystem.stat(args.inode); filesystem.hold(args.inode); return {}; }),
    release: (args) => errno(async () => { await filesystem.release(args.inode); return {}; }),
  };
}

/** Runs `operation`, turning the filesystem's errors into typed errno errors for the client. */
async function errno<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof Ext2Error) throw errnoError(error.code, error.message.replace(/^E[A-Z]+: /, ''));
    throw error;
  }
}
