// The fs interface's handlers over one Vfs: each operation queued behind the ones before
// it, for the holder the caller is (its client name; a channel number if it has none).

import type { CallContext, HandlersOf } from '../../ipc/define.js';
import type { fsInterface } from '../../ipc/interfaces/fs.js';
import type { Vfs } from './vfs.js';

/** Who holds the descriptions a call opens: the client's name, as the kernel gave it. */
export function holderOf(call: CallContext): string {
  return call.clientName ?? `channel-${call.channelId}`;
}

export function fsHandlers(vfs: Vfs): HandlersOf<typeof fsInterface> {
  const queued = <A, R>(operation: (holder: string, args: A) => R | Promise<R>) => (args: A, call: CallContext) => vfs.serially(async () => operation(holderOf(call), args));
  return {
    open: queued((holder, args) => vfs.open(holder, args)),
    read: queued((holder, args) => vfs.read(holder, args)),
    write: queued((holder, args) => vfs.write(holder, args)),
    pread: queued((holder, args) => vfs.pread(holder, args)),
    pwrite: queued((holder, args) => vfs.pwrite(holder, args)),
    lseek: queued((holder, args) => vfs.lseek(holder, args)),
    close: queued((holder, args) => vfs.close(holder, args)),
    dup: queued((holder, args) => vfs.dup(holder, args)),
    share: queued((holder, args) => vfs.share(holder, args)),
    closeAll: queued((holder) => vfs.closeAll(holder)),
    getFlags: queued((holder, args) => vfs.getFlags(holder, args)),
    setFlags: queued((holder, args) => vfs.setFlags(holder, args)),
    stat: queued((holder, args) => vfs.stat(holder, args)),
    lstat: queued((holder, args) => vfs.lstat(holder, args)),
    fstat: queued((holder, args) => vfs.fstat(holder, args)),
    getdents: queued((holder, args) => vfs.getdents(holder, args)),
    mkdir: queued((holder, args) => vfs.mkdir(holder, args)),
    rmdir: queued((holder, args) => vfs.rmdir(holder, args)),
    unlink: queued((holder, args) => vfs.unlink(holder, args)),
    rename: queued((holder, args) => vfs.rename(holder, args)),
    link: queued((holder, args) => vfs.link(holder, args)),
    symlink: queued((holder, args) => vfs.symlink(holder, args)),
    readlink: queued((holder, args) => vfs.readlink(holder, args)),
    truncate: queued((holder, args) => vfs.truncate(holder, args)),
    ftruncate: queued((holder, args) => vfs.ftruncate(holder, args)),
    chmod: queued((holder, args) => vfs.chmod(holder, args)),
    chown: queued((holder, args) => vfs.chown(holder, args)),
    utimens: queued((holder, args) => vfs.utimens(holder, args)),
    fsync: queued((holder, args) => vfs.fsync(holder, args)),
    sync: queued(() => vfs.sync()),
    statfs: queued((holder, args) => vfs.statfs(holder, args)),
    mount: queued((_holder, args) => vfs.mount(args)),
    umount: queued((_holder, args) => vfs.umount(args)),
    mounts: queued(() => vfs.mountList()),
  };
}
