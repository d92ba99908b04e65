// What every filesystem server serves the VFS (ext2 on a disk, tmpfs in memory pages):
// files by inode number, as Linux's inode_operations and file_operations are. Paths,
// mount points, symlink following, open-file descriptions and the page cache are the
// VFS's; a filesystem server answers for one inode or one directory entry at a time.
//
// Errors are POSIX errno names (errno.ts): ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY,
// ENOSPC, EROFS, ENAMETOOLONG, EINVAL, EFBIG, EMLINK, EPERM, EIO.
//
// `hold` and `release` bracket an open file: an inode unlinked while held stays readable
// until its last release, as POSIX requires of an open file.

import { Type, type Static } from '../typebox.js';
import { defineInterface } from '../define.js';
import { ERRNO_NAMES } from './errno.js';

export const FileAttributes = Type.Object({
  inode: Type.Integer({ minimum: 1 }),
  mode: Type.Integer({ minimum: 0, description: 'file type and permission bits, as st_mode' }),
  links: Type.Integer({ minimum: 0 }),
  uid: Type.Integer({ minimum: 0 }),
  gid: Type.Integer({ minimum: 0 }),
  size: Type.Integer({ minimum: 0 }),
  sectors: Type.Integer({ minimum: 0, description: '512-byte sectors held (st_blocks)' }),
  accessTime: Type.Integer(),
  modifyTime: Type.Integer(),
  changeTime: Type.Integer(),
});
export type FileAttributes = Static<typeof FileAttributes>;

export const DirectoryEntry = Type.Object({
  name: Type.String(),
  inode: Type.Integer({ minimum: 1 }),
  fileType: Type.Integer({ minimum: 0, maximum: 7, description: 'DT_ style: 1 file, 2 directory, 7 symlink, …' }),
});

export const FilesystemStatistics = Type.Object({
  blockBytes: Type.Integer({ minimum: 1 }),
  blocks: Type.Integer({ minimum: 0 }),
  freeBlocks: Type.Integer({ minimum: 0 }),
  availableBlocks: Type.Integer({ minimum: 0 }),
  inodes: Type.Integer({ minimum: 0 }),
  freeInodes: Type.Integer({ minimum: 0 }),
  nameMaximum: Type.Integer({ minimum: 1 }),
  label: Type.String(),
  readOnly: Type.Boolean(),
});
export type FilesystemStatistics = Static<typeof FilesystemStatistics>;

const Inode = Type.Integer({ minimum: 1 });
const Name = Type.String({ minLength: 1, maxLength: 1024 });
const Owner = { uid: Type.Integer({ minimum: 0 }), gid: Type.Integer({ minimum: 0 }) };
const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Empty = Type.Object({});
const errors = ERRNO_NAMES;

/**
 * One mounted filesystem.
 *
 * @example
 * const ext2 = context.connect(filesystemInterface, 'ext2.0');
 * const { inode } = await ext2.lookup({ directory: (await ext2.info({})).root, name: 'etc' });
 */
export const filesystemInterface = defineInterface({
  name: 'filesystem',
  ops: {
    info: { id: 1, kind: 'call', idempotent: true,
      args: Empty,
      reply: Type.Object({
        type: Type.String(), root: Inode, statistics: FilesystemStatistics,
        instance: Type.Optional(Type.String({ maxLength: 64, description: 'names these contents: a server whose restart starts a new, empty filesystem (tmpfs) answers a new value after it' })),
      }),
      doc: 'The filesystem type, its root inode, its statistics (statfs), and (optionally) which contents it serves.' },
    lookup: { id: 2, kind: 'call', idempotent: true, args: Type.Object({ directory: Inode, name: Name }), reply: FileAttributes, errors,
      doc: 'The attributes of the inode `name` names in `directory` (no symlink is followed).' },
    getattr: { id: 3, kind: 'call', idempotent: true, args: Type.Object({ inode: Inode }), reply: FileAttributes, errors },
    readdir: { id: 4, kind: 'call', idempotent: true, args: Type.Object({ directory: Inode }), reply: Type.Object({ entries: Type.Array(DirectoryEntry) }), errors,
      doc: 'Every entry, `.` and `..` included, in on-disk order.' },
    read: { id: 5, kind: 'call', idempotent: true, args: Type.Object({ inode: Inode, offset: Offset, length: Type.Integer({ minimum: 0, maximum: 16 * 1024 * 1024 }) }),
      reply: Type.Object({ data: Type.Uint8Array() }), errors, doc: 'Up to `length` bytes at `offset`; fewer at the end of the file; holes read as zeros.' },
    write: { id: 6, kind: 'call', args: Type.Object({ inode: Inode, offset: Offset, data: Type.Uint8Array({ maxByteLength: 16 * 1024 * 1024 }) }),
      reply: Type.Object({ written: Type.Integer({ minimum: 0 }) }), errors, doc: 'Writes at `offset`, growing the file; acknowledged writes survive a crash of this server.' },
    truncate: { id: 7, kind: 'call', idempotent: true, args: Type.Object({ inode: Inode, size: Offset }), reply: Empty, errors },
    create: { id: 8, kind: 'call', args: Type.Object({ directory: Inode, name: Name, permissions: Type.Integer({ minimum: 0, maximum: 0o7777 }), ...Owner }), reply: FileAttributes, errors },
    mkdir: { id: 9, kind: 'call', args: Type.Object({ directory: Inode, name: Name, permissions: Type.Integer({ minimum: 0, maximum: 0o7777 }), ...Owner }), reply: FileAttributes, errors },
    symlink: { id: 10, kind: 'call', args: Type.Object({ directory: Inode, name: Name, target: Type.String({ minLength: 1, maxLength: 4096 }), ...Owner }), reply: FileAttributes, errors },
    readlink: { id: 11, kind: 'call', idempotent: true, args: Type.Object({ inode: Inode }), reply: Type.Object({ target: Type.String() }), errors },
    link: { id: 12, kind: 'call', args: Type.Object({ directory: Inode, name: Name, inode: Inode }), reply: Empty, errors },
    unlink: { id: 13, kind: 'call', args: Type.Object({ directory: Inode, name: Name }), reply: Empty, errors },
    rmdir: { id: 14, kind: 'call', args: Type.Object({ directory: Inode, name: Name }), reply: Empty, errors },
    rename: { id: 15, kind: 'call', args: Type.Object({ fromDirectory: Inode, fromName: Name, toDirectory: Inode, toName: Name }), reply: Empty, errors },
    setattr: { id: 16, kind: 'call', idempotent: true, args: Type.Object({
      inode: Inode,
      permissions: Type.Optional(Type.Integer({ minimum: 0, maximum: 0o7777 })),
      uid: Type.Optional(Type.Integer({ minimum: 0 })),
      gid: Type.Optional(Type.Integer({ minimum: 0 })),
      accessTime: Type.Optional(Type.Integer()),
      modifyTime: Type.Optional(Type.Integer()),
    }), reply: FileAttributes, errors, doc: 'chmod, chown and utimens: fields left out stay as they are.' },
    sync: { id: 17, kind: 'call', idempotent: true, args: Empty, reply: Empty, errors,
      doc: 'Resolves once every write acknowledged so far is on the device (after its FLUSH).' },
    hold: { id: 18, kind: 'call', args: Type.Object({ inode: Inode }), reply: Empty, errors, doc: 'An open file: the inode outlives its last name until released.' },
    release: { id: 19, kind: 'call', args: Type.Object({ inode: Inode }), reply: Empty, errors },
  },
});
