// The one file interface for everyone: the VFS (servers/vfs) serves it, the console and
// (later) the process server call it. POSIX's file calls, as Linux's system calls take them:
// paths, open-file descriptions, flags with Linux's numeric values (asm-generic/fcntl.h, the
// values RISC-V uses), errors as POSIX errno names (errno.ts). Filesystems themselves serve
// the VFS the lower filesystem interface (filesystem.ts).
//
// Paths. A path is absolute ("/etc/motd") or relative to `at`, the description of an open
// directory (openat's dirfd; absent means "/", the VFS has no working directory of its own:
// the holder's cwd is a description it keeps). `.`, `..` (at a mount's root, the mount
// point's parent), symlinks (ELOOP after 40) and mount points are resolved by the VFS. A
// component longer than 255 bytes, or a path over 4096, is ENAMETOOLONG.
//
// Open-file descriptions. `open` returns a description: a number naming the VFS's record of
// one open (Linux's struct file): the file, the access mode, O_APPEND, and the offset that
// read, write, lseek and getdents move. Descriptions are reference counted per holder (the
// caller's client name): `open` gives the caller one reference; `dup` gives it one more of
// the same description (same number, same offset: what dup(2) and fork(2) need, so a
// process server keeps one reference per file descriptor of each process, and a fork takes
// one more per inherited descriptor); `share` gives one to another holder by name; `close`
// drops one of the caller's. The description ends with its last reference. Ops on a
// description the caller holds no reference to fail with EBADF. `closeAll` drops every
// reference the caller holds (a holder's new generation calls it when it cannot know its
// predecessor's descriptions).
//
// Times are whole seconds since the epoch (ext2 keeps seconds).

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';
import { ERRNO_NAMES } from './errno.js';
import { DirectoryEntry, FilesystemStatistics } from './filesystem.js';

/** open(2) flags, Linux's values (asm-generic/fcntl.h, as on RISC-V). */
export const OpenFlags = {
  O_RDONLY: 0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  /** The access-mode bits (O_RDONLY, O_WRONLY, O_RDWR). */
  O_ACCMODE: 0o3,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  /** Accepted, means nothing here (no controlling terminals in the VFS). */
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  /** Accepted, means nothing: every file is large-file capable. */
  O_LARGEFILE: 0o100000,
  /** Accepted and ignored: close-on-exec is a flag of the holder's file descriptor, not of the description. */
  O_CLOEXEC: 0o2000000,
} as const;

/** Every flag open accepts; any other bit is EINVAL. */
export const OPEN_FLAGS_ACCEPTED = Object.values(OpenFlags).reduce<number>((all, flag) => all | flag, 0);

/** The status flags setFlags may change (fcntl F_SETFL on Linux changes these among others). */
export const SETTABLE_FLAGS = OpenFlags.O_APPEND;

/** lseek whence values, Linux's. */
export const Whence = { SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2 } as const;

/** File type bits of st_mode (S_IFMT and its kinds), Linux's values. */
export const FileType = {
  S_IFMT: 0o170000,
  S_IFSOCK: 0o140000,
  S_IFLNK: 0o120000,
  S_IFREG: 0o100000,
  S_IFBLK: 0o060000,
  S_IFDIR: 0o040000,
  S_IFCHR: 0o020000,
  S_IFIFO: 0o010000,
} as const;

/** Longest path (PATH_MAX, with its NUL) and longest component (NAME_MAX), as Linux. */
export const PATH_MAX = 4096;
export const NAME_MAX = 255;
/** Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS). */
export const SYMLINK_LIMIT = 40;

const Description = Type.Integer({ minimum: 1, maximum: 0x7fff_ffff, description: 'an open-file description' });
// One byte more than PATH_MAX allows, so an overlong path reaches the VFS and is ENAMETOOLONG (not a schema refusal).
const Path = Type.String({ maxLength: PATH_MAX + 1 });
const At = Type.Optional(Description);
const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Length = Type.Integer({ minimum: 0, maximum: 16 * 1024 * 1024 });
const Data = Type.Uint8Array({ maxByteLength: 16 * 1024 * 1024 });
const Permissions = Type.Integer({ minimum: 0, maximum: 0o7777 });
const Id = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });
const Time = Type.Integer({ minimum: 0, maximum: 0xffff_ffff, description: 'seconds since the epoch' });
const Empty = Type.Object({});
const FollowSymlinks = Type.Optional(Type.Boolean({ description: 'follow a symlink in the last component (default true; false is AT_SYMLINK_NOFOLLOW)' }));
const errors = ERRNO_NAMES;

/** stat(2)'s answer. */
export const Stat = Type.Object({
  device: Type.Integer({ minimum: 1, description: 'st_dev: the mount the file is on (its id in `mounts`)' }),
  inode: Type.Integer({ minimum: 1 }),
  mode: Type.Integer({ minimum: 0, description: 'file type and permission bits, as st_mode' }),
  links: Type.Integer({ minimum: 0 }),
  uid: Type.Integer({ minimum: 0 }),
  gid: Type.Integer({ minimum: 0 }),
  size: Type.Integer({ minimum: 0 }),
  blockBytes: Type.Integer({ minimum: 1, description: 'st_blksize: the page size the VFS caches by' }),
  sectors: Type.Integer({ minimum: 0, description: 'st_blocks: 512-byte sectors held' }),
  accessTime: Type.Integer(),
  modifyTime: Type.Integer(),
  changeTime: Type.Integer(),
});
export type Stat = Static<typeof Stat>;

/** One entry of getdents: a name in the directory, `.` and `..` included. */
export const DirectoryListingEntry = DirectoryEntry;

/** One row of the mount table. */
export const Mount = Type.Object({
  device: Type.Integer({ minimum: 1, description: 'the mount id, as Stat.device' }),
  path: Type.String({ description: 'where it is mounted' }),
  service: Type.String({ description: 'the filesystem server it is (its service name)' }),
  type: Type.String({ description: "the filesystem's type, as it says: 'ext2', 'tmpfs'" }),
  readOnly: Type.Boolean(),
});
export type Mount = Static<typeof Mount>;

/** statfs(2)'s answer: the filesystem's statistics, and the mount they are of. */
export const FsStatistics = Type.Object({ ...FilesystemStatistics.properties, ...Mount.properties });
export type FsStatistics = Static<typeof FsStatistics>;

/**
 * The VFS.
 *
 * @example
 * const fs = context.connect(fsInterface, 'vfs');
 * const { description } = await fs.open({ path: '/tmp/note', flags: OpenFlags.O_WRONLY | OpenFlags.O_CREAT, permissions: 0o644 });
 * await fs.write({ description, data: new TextEncoder().encode('hello\n') });
 * await fs.close({ description });
 */
export const fsInterface = defineInterface({
  name: 'fs',
  ops: {
    open: { id: 1, kind: 'call',
      args: Type.Object({
        path: Path, at: At,
        flags: Type.Integer({ minimum: 0, maximum: 0x7fff_ffff, description: 'OpenFlags, or-ed' }),
        permissions: Type.Optional(Permissions),
        uid: Type.Optional(Id), gid: Type.Optional(Id),
      }),
      reply: Type.Object({ description: Description, stat: Stat }), errors,
      doc: 'open/openat. O_CREAT makes a regular file with `permissions` (default 0o644) owned by uid/gid (default 0); ' +
        'O_EXCL with it is EEXIST if the name exists (a symlink too, never followed); O_TRUNC empties a regular file opened for writing; ' +
        'O_APPEND makes every write go to the end; O_DIRECTORY is ENOTDIR unless a directory; O_NOFOLLOW is ELOOP if the last component is a symlink. ' +
        'A directory opened for writing is EISDIR; a write access on a read-only mount is EROFS. Unknown flag bits are EINVAL.' },
    read: { id: 2, kind: 'call', args: Type.Object({ description: Description, length: Length }), reply: Type.Object({ data: Data }), errors,
      doc: 'Up to `length` bytes at the offset, which moves past them; empty at the end. EBADF unless opened for reading, EISDIR on a directory.' },
    write: { id: 3, kind: 'call', args: Type.Object({ description: Description, data: Data }), reply: Type.Object({ written: Type.Integer({ minimum: 0 }) }), errors,
      doc: 'Writes at the offset (at the end with O_APPEND), which moves past them. EBADF unless opened for writing. Acknowledged writes survive a crash of the filesystem server.' },
    pread: { id: 4, kind: 'call', idempotent: true, args: Type.Object({ description: Description, offset: Offset, length: Length }), reply: Type.Object({ data: Data }), errors,
      doc: 'read at `offset`, leaving the description\'s offset as it is.' },
    pwrite: { id: 5, kind: 'call', args: Type.Object({ description: Description, offset: Offset, data: Data }), reply: Type.Object({ written: Type.Integer({ minimum: 0 }) }), errors,
      doc: 'write at `offset`, leaving the offset as it is (with O_APPEND, Linux\'s behaviour: at the end).' },
    lseek: { id: 6, kind: 'call',
      args: Type.Object({ description: Description, offset: Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }), whence: Type.Integer({ minimum: 0, maximum: 2 }) }),
      reply: Type.Object({ offset: Offset }), errors,
      doc: 'Moves the offset (Whence: SEEK_SET, SEEK_CUR, SEEK_END); EINVAL if it would be negative. Past the end is allowed (a later write makes a hole).' },
    close: { id: 7, kind: 'call', args: Type.Object({ description: Description }), reply: Empty, errors,
      doc: 'Drops one of the caller\'s references; with the last one the description ends (its dirty pages are written to the filesystem, see the VFS README).' },
    dup: { id: 8, kind: 'call', args: Type.Object({ description: Description }), reply: Type.Object({ description: Description }), errors,
      doc: 'One more reference for the caller to the same description (the same number: shared offset and flags). Close each reference once.' },
    share: { id: 9, kind: 'call', args: Type.Object({ description: Description, holder: Type.String({ minLength: 1, maxLength: 128 }) }), reply: Empty, errors,
      doc: 'Gives holder `holder` (a client name) one reference to the caller\'s description, as passing a file descriptor does.' },
    closeAll: { id: 10, kind: 'call', idempotent: true, args: Empty, reply: Type.Object({ closed: Type.Integer({ minimum: 0 }) }),
      doc: 'Drops every reference the caller holds; returns how many.' },
    getFlags: { id: 11, kind: 'call', idempotent: true, args: Type.Object({ description: Description }), reply: Type.Object({ flags: Type.Integer({ minimum: 0 }) }), errors,
      doc: 'fcntl F_GETFL: the access mode and status flags (O_APPEND).' },
    setFlags: { id: 12, kind: 'call', idempotent: true, args: Type.Object({ description: Description, flags: Type.Integer({ minimum: 0 }) }), reply: Empty, errors,
      doc: 'fcntl F_SETFL: sets the SETTABLE_FLAGS (O_APPEND) to those in `flags`; other bits are ignored, as Linux does.' },

    stat: { id: 20, kind: 'call', idempotent: true, args: Type.Object({ path: Path, at: At }), reply: Stat, errors, doc: 'stat: follows a final symlink.' },
    lstat: { id: 21, kind: 'call', idempotent: true, args: Type.Object({ path: Path, at: At }), reply: Stat, errors, doc: 'lstat: the symlink itself.' },
    fstat: { id: 22, kind: 'call', idempotent: true, args: Type.Object({ description: Description }), reply: Stat, errors },
    getdents: { id: 23, kind: 'call',
      args: Type.Object({ description: Description, maxEntries: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })) }),
      reply: Type.Object({ entries: Type.Array(DirectoryListingEntry) }), errors,
      doc: 'The next entries of an open directory (at most maxEntries, default 1024), `.` and `..` included; the offset counts entries. Empty at the end. ENOTDIR on a non-directory.' },

    mkdir: { id: 30, kind: 'call', args: Type.Object({ path: Path, at: At, permissions: Type.Optional(Permissions), uid: Type.Optional(Id), gid: Type.Optional(Id) }), reply: Stat, errors,
      doc: 'mkdir/mkdirat (permissions default 0o755).' },
    rmdir: { id: 31, kind: 'call', args: Type.Object({ path: Path, at: At }), reply: Empty, errors, doc: 'ENOTEMPTY, EBUSY on a mount point, EINVAL on `.`.' },
    unlink: { id: 32, kind: 'call', args: Type.Object({ path: Path, at: At }), reply: Empty, errors, doc: 'EISDIR on a directory. An open file stays readable until its last close.' },
    rename: { id: 33, kind: 'call', args: Type.Object({ from: Path, fromAt: At, to: Path, toAt: At }), reply: Empty, errors,
      doc: 'rename/renameat: replaces `to` as POSIX says; EXDEV across mounts; EINVAL moving a directory into itself; EBUSY on a mount point.' },
    link: { id: 34, kind: 'call', args: Type.Object({ existing: Path, existingAt: At, path: Path, at: At }), reply: Empty, errors,
      doc: 'link/linkat (a final symlink in `existing` is not followed, as Linux); EXDEV across mounts, EPERM on a directory.' },
    symlink: { id: 35, kind: 'call', args: Type.Object({ target: Type.String({ minLength: 1, maxLength: PATH_MAX }), path: Path, at: At, uid: Type.Optional(Id), gid: Type.Optional(Id) }),
      reply: Stat, errors, doc: 'symlink/symlinkat: `path` names `target`, which is kept as written.' },
    readlink: { id: 36, kind: 'call', idempotent: true, args: Type.Object({ path: Path, at: At }), reply: Type.Object({ target: Type.String() }), errors,
      doc: 'EINVAL when `path` is not a symlink.' },
    truncate: { id: 37, kind: 'call', idempotent: true, args: Type.Object({ path: Path, at: At, size: Offset }), reply: Empty, errors,
      doc: 'EISDIR on a directory, EROFS on a read-only mount.' },
    ftruncate: { id: 38, kind: 'call', idempotent: true, args: Type.Object({ description: Description, size: Offset }), reply: Empty, errors,
      doc: 'EINVAL unless opened for writing (Linux\'s answer).' },
    chmod: { id: 39, kind: 'call', idempotent: true, args: Type.Object({ path: Path, at: At, permissions: Permissions, followSymlinks: FollowSymlinks }), reply: Stat, errors },
    chown: { id: 40, kind: 'call', idempotent: true,
      args: Type.Object({ path: Path, at: At, uid: Type.Optional(Id), gid: Type.Optional(Id), followSymlinks: FollowSymlinks }), reply: Stat, errors,
      doc: 'chown/lchown: uid or gid left out stays (chown\'s -1).' },
    utimens: { id: 41, kind: 'call', idempotent: true,
      args: Type.Object({ path: Path, at: At, accessTime: Type.Optional(Time), modifyTime: Type.Optional(Time), followSymlinks: FollowSymlinks }), reply: Stat, errors,
      doc: 'utimensat: a time left out stays (UTIME_OMIT).' },

    fsync: { id: 50, kind: 'call', idempotent: true, args: Type.Object({ description: Description }), reply: Empty, errors,
      doc: 'Resolves once the file\'s data and the filesystem\'s metadata are on the device (the filesystem\'s sync resolved).' },
    sync: { id: 51, kind: 'call', idempotent: true, args: Empty, reply: Empty, errors,
      doc: 'Writes every dirty page back and syncs every mounted filesystem; resolves when all have.' },
    statfs: { id: 52, kind: 'call', idempotent: true, args: Type.Object({ path: Path, at: At }), reply: FsStatistics, errors,
      doc: 'The statistics of the filesystem `path` is on, and its mount.' },

    mount: { id: 60, kind: 'call',
      args: Type.Object({ path: Path, service: Type.String({ minLength: 1, maxLength: 128, description: 'the filesystem server\'s service name, e.g. "ext2.0", "tmpfs"' }), readOnly: Type.Optional(Type.Boolean()) }),
      reply: Mount, errors,
      doc: 'Mounts the filesystem that server `service` serves (filesystem.ts) on the directory `path`. ENOTDIR unless a directory, EBUSY if already mounted (the path or the service), ' +
        'ENODEV if no such filesystem server answers. readOnly: every change on it is EROFS (it is also read-only if the filesystem says so).' },
    umount: { id: 61, kind: 'call', args: Type.Object({ path: Path }), reply: Empty, errors,
      doc: 'Syncs and detaches the mount at `path`. EINVAL if `path` is no mount point, EBUSY while files on it are open, a mount is below it, or it is the root.' },
    mounts: { id: 62, kind: 'call', idempotent: true, args: Empty, reply: Type.Object({ mounts: Type.Array(Mount) }),
      doc: 'The mount table, in mount order (root first): what `mount` and `df` list.' },
  },
});
