// Console commands for files, through the VFS (ipc/interfaces/fs.ts), until processes
// bring a shell: ls, cat, write, append, mkdir, rmdir, rm, mv, ln, stat, sha256sum,
// hexdump, df, mount, umount, sync.
//
// Paths are the system's, not the host's: absolute, or taken from "/" (the console has no
// working directory). A refusal names the command, the path and the errno with its text:
// `error: cat /nope: ENOENT (no such file or directory)`. Files are read in pieces, so
// sha256sum and hexdump take a file of any size; cat prints at most CAT_LIMIT bytes.

import type { ClientOf } from '../../ipc/define.js';
import { IpcError } from '../../ipc/errors.js';
import type { DiskServerRow, driversInterface } from '../../ipc/interfaces/drivers.js';
import { FileType, OpenFlags, type fsInterface, type Mount, type Stat } from '../../ipc/interfaces/fs.js';
import type { Parameter } from './command_syntax.js';
import type { Command } from './commands.js';
import { formatSize } from '../../hal/size_text.js';
import { formatTable } from '../../hal/text_table.js';
import { hexDump } from './driver_commands.js';
import { Sha256 } from './sha256.js';

export interface FileCommandServices {
  /** The VFS. */
  readonly fs: ClientOf<typeof fsInterface>;
  readonly drivers: ClientOf<typeof driversInterface>;
}

/** A file command failed: the message is the whole line after "error: ". */
export class FileCommandError extends Error {}

/** A directory entry's type for a directory (DT_DIR). */
const DIRECTORY_ENTRY_TYPE = 2;
/** Bytes moved per read. */
const READ_BYTES = 256 * 1024;
/** The most cat prints: a console is not a pager. */
export const CAT_LIMIT = 1024 * 1024;
/** The most hexdump prints at once. */
export const HEXDUMP_LIMIT = 64 * 1024;

/** What each errno means, as Linux's strerror says it (lower-case). */
const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'operation not permitted', ENOENT: 'no such file or directory', EIO: 'input/output error', EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable', ENOMEM: 'cannot allocate memory', EACCES: 'permission denied', EBUSY: 'device or resource busy',
  EEXIST: 'file exists', EXDEV: 'invalid cross-device link', ENODEV: 'no such device', ENOTDIR: 'not a directory', EISDIR: 'is a directory',
  EINVAL: 'invalid argument', EMFILE: 'too many open files', EFBIG: 'file too large', ENOSPC: 'no space left on device',
  ESPIPE: 'illegal seek', EROFS: 'read-only file system', EMLINK: 'too many links', ENAMETOOLONG: 'file name too long',
  ENOSYS: 'function not implemented', ENOTEMPTY: 'directory not empty', ELOOP: 'too many levels of symbolic links',
};

const PATH: Parameter = { name: 'PATH', kind: 'file' };
const OPTIONAL_PATH: Parameter = { ...PATH, optional: true, describe: 'a path in the system (default /)' };
const TEXT: Parameter = { name: 'TEXT', kind: 'text', rest: true, describe: 'the text to write, then a newline: the rest of the line' };

/** `path` as the VFS takes it: absolute, a relative one taken from "/". */
export function systemPath(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

/** Runs `operation`, turning an errno error into `COMMAND PATH: ERRNO (text)`. */
export async function onPath<T>(command: string, path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof IpcError && ERRNO_TEXT[error.code] !== undefined) {
      throw new FileCommandError(`${command} ${path}: ${error.code} (${ERRNO_TEXT[error.code]})`);
    }
    throw error;
  }
}

/** Opens `path`, runs `use` with the description, closes it whatever happens. */
async function withOpen<T>(fs: FileCommandServices['fs'], path: string, flags: number, use: (description: number, stat: Stat) => Promise<T>): Promise<T> {
  const { description, stat } = await fs.open({ path, flags });
  try {
    return await use(description, stat);
  } finally {
    await fs.close({ description }).catch(() => undefined);
  }
}

/** Calls `take` with each piece of the file from `offset`, up to `length` bytes (all of it by default). */
async function readPieces(fs: FileCommandServices['fs'], description: number, take: (data: Uint8Array) => void, offset = 0, length = Number.MAX_SAFE_INTEGER): Promise<void> {
  for (let done = 0; done < length;) {
    const { data } = await fs.pread({ description, offset: offset + done, length: Math.min(READ_BYTES, length - done) });
    if (data.length === 0) return;
    take(data);
    done += data.length;
  }
}

async function writeText(command: string, services: FileCommandServices, path: string, text: string, flags: number): Promise<void> {
  const data = new TextEncoder().encode(`${text}\n`);
  await onPath(command, path, () => withOpen(services.fs, path, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | flags, async (description) => {
    for (let done = 0; done < data.length;) done += (await services.fs.write({ description, data: data.subarray(done) })).written;
  }));
}

const simple = (summary: string, parameters: Parameter[], act: (services: FileCommandServices, paths: string[]) => Promise<unknown>, name: string): Command<FileCommandServices> => ({
  forms: [{ parameters }],
  summary,
  run: async (args, services) => {
    const paths = parameters.map((parameter) => systemPath(args.word(parameter.name)));
    await onPath(name, paths.join(' '), () => act(services, paths));
    return { output: '' };
  },
});

export const fileCommands: Record<string, Command<FileCommandServices>> = {
  ls: {
    forms: [{ parameters: [OPTIONAL_PATH] }, { subcommand: '-l', parameters: [OPTIONAL_PATH] }],
    summary: 'list a directory (or name a file); -l: mode, links, owner, size, time and symlink targets',
    run: async (args, services) => {
      const path = systemPath(args.optionalWord('PATH') ?? '/');
      const long = args.subcommand === '-l';
      return { output: await onPath('ls', path, () => list(services.fs, path, long)) };
    },
  },
  cat: {
    forms: [{ parameters: [PATH] }],
    summary: `print a file (at most ${formatSize(CAT_LIMIT)}; see hexdump and sha256sum for more)`,
    run: async (args, { fs }) => {
      const path = systemPath(args.word('PATH'));
      const bytes = await onPath('cat', path, () => withOpen(fs, path, OpenFlags.O_RDONLY, async (description, stat) => {
        if ((stat.mode & FileType.S_IFMT) === FileType.S_IFDIR) throw new FileCommandError(`cat ${path}: EISDIR (${ERRNO_TEXT.EISDIR})`);
        if (stat.size > CAT_LIMIT) throw new FileCommandError(`cat ${path}: ${stat.size} bytes is more than cat prints (${formatSize(CAT_LIMIT)}); try hexdump or sha256sum`);
        const pieces: Uint8Array[] = [];
        await readPieces(fs, description, (data) => pieces.push(data.slice()), 0, CAT_LIMIT);
        return concatenate(pieces);
      }));
      return { output: new TextDecoder().decode(bytes).replace(/\n$/, '') };
    },
  },
  write: {
    forms: [{ parameters: [PATH, TEXT] }],
    summary: 'make PATH hold TEXT and a newline (created, or emptied first)',
    run: async (args, services) => {
      await writeText('write', services, systemPath(args.word('PATH')), args.word('TEXT'), OpenFlags.O_TRUNC);
      return { output: '' };
    },
  },
  append: {
    forms: [{ parameters: [PATH, TEXT] }],
    summary: 'add TEXT and a newline at the end of PATH (created if missing)',
    run: async (args, services) => {
      await writeText('append', services, systemPath(args.word('PATH')), args.word('TEXT'), OpenFlags.O_APPEND);
      return { output: '' };
    },
  },
  mkdir: simple('make the directory PATH', [PATH], ({ fs }, [path]) => fs.mkdir({ path: path! }), 'mkdir'),
  rmdir: simple('remove the empty directory PATH', [PATH], ({ fs }, [path]) => fs.rmdir({ path: path! }), 'rmdir'),
  rm: simple('remove the file or symlink PATH', [PATH], ({ fs }, [path]) => fs.unlink({ path: path! }), 'rm'),
  mv: simple('rename FROM to TO (replacing TO as rename(2) does)',
    [{ name: 'FROM', kind: 'file' }, { name: 'TO', kind: 'file' }], ({ fs }, [from, to]) => fs.rename({ from: from!, to: to! }), 'mv'),
  ln: {
    forms: [
      { subcommand: '-s', parameters: [{ name: 'TARGET', kind: 'text', describe: 'what the symlink names, kept as written' }, PATH] },
      { parameters: [{ name: 'EXISTING', kind: 'file' }, PATH] },
    ],
    summary: 'ln -s: make PATH a symlink to TARGET; ln: give the file EXISTING the new name PATH',
    run: async (args, { fs }) => {
      const path = systemPath(args.word('PATH'));
      if (args.subcommand === '-s') await onPath('ln -s', path, () => fs.symlink({ target: args.word('TARGET'), path }));
      else {
        const existing = systemPath(args.word('EXISTING'));
        await onPath('ln', `${existing} ${path}`, () => fs.link({ existing, path }));
      }
      return { output: '' };
    },
  },
  stat: {
    forms: [{ parameters: [PATH] }],
    summary: 'what PATH is (a symlink itself, not what it names): type, size, inode, links, owner, times',
    run: async (args, { fs }) => {
      const path = systemPath(args.word('PATH'));
      const stat = await onPath('stat', path, () => fs.lstat({ path }));
      const target = (stat.mode & FileType.S_IFMT) === FileType.S_IFLNK ? ` -> ${(await onPath('stat', path, () => fs.readlink({ path }))).target}` : '';
      return {
        output: [
          `  File: ${path}${target}`,
          `  Size: ${stat.size}  Blocks: ${stat.sectors}  IO Block: ${stat.blockBytes}  ${typeName(stat.mode)}`,
          `Device: ${stat.device}  Inode: ${stat.inode}  Links: ${stat.links}`,
          `Access: (${(stat.mode & 0o7777).toString(8).padStart(4, '0')}/${modeText(stat.mode)})  Uid: ${stat.uid}  Gid: ${stat.gid}`,
          `Access: ${timeText(stat.accessTime)}`,
          `Modify: ${timeText(stat.modifyTime)}`,
          `Change: ${timeText(stat.changeTime)}`,
        ].join('\n'),
      };
    },
  },
  sha256sum: {
    forms: [{ parameters: [PATH] }],
    summary: 'the SHA-256 of a file, read whole in pieces (as sha256sum prints it)',
    run: async (args, { fs }) => {
      const path = systemPath(args.word('PATH'));
      const digest = await onPath('sha256sum', path, () => withOpen(fs, path, OpenFlags.O_RDONLY, async (description, stat) => {
        if ((stat.mode & FileType.S_IFMT) === FileType.S_IFDIR) throw new FileCommandError(`sha256sum ${path}: EISDIR (${ERRNO_TEXT.EISDIR})`);
        const hash = new Sha256();
        await readPieces(fs, description, (data) => hash.update(data));
        return hash.hex();
      }));
      return { output: `${digest}  ${path}` };
    },
  },
  hexdump: {
    forms: [{ parameters: [PATH, { name: 'OFFSET', kind: 'integer', optional: true, minimum: 0, default: 0 },
      { name: 'LENGTH', kind: 'integer', optional: true, minimum: 1, maximum: HEXDUMP_LIMIT, default: 256 }] }],
    summary: 'bytes of a file in hex and text, from OFFSET (default 0), LENGTH of them (default 256)',
    run: async (args, { fs }) => {
      const path = systemPath(args.word('PATH'));
      const offset = args.integer('OFFSET');
      const bytes = await onPath('hexdump', path, () => withOpen(fs, path, OpenFlags.O_RDONLY, async (description) => {
        const pieces: Uint8Array[] = [];
        await readPieces(fs, description, (data) => pieces.push(data.slice()), offset, args.integer('LENGTH'));
        return concatenate(pieces);
      }));
      return { output: bytes.length === 0 ? `(nothing at offset ${offset})` : hexDump(bytes, offset) };
    },
  },
  df: {
    forms: [{ parameters: [] }],
    summary: 'each mounted filesystem: size, used, available, where it is mounted',
    run: async (_, { fs }) => {
      const { mounts } = await fs.mounts({});
      const rows = await Promise.all(mounts.map(async (mount) => {
        const statistics = await onPath('df', mount.path, () => fs.statfs({ path: mount.path }));
        const size = statistics.blocks * statistics.blockBytes;
        const used = (statistics.blocks - statistics.freeBlocks) * statistics.blockBytes;
        const available = statistics.availableBlocks * statistics.blockBytes;
        const percent = statistics.blocks === 0 ? '-' : `${Math.ceil(100 * (statistics.blocks - statistics.freeBlocks) / statistics.blocks)}%`;
        return [mount.service, mount.type, formatSize(size, 'rounded'), formatSize(used, 'rounded'), formatSize(available, 'rounded'), percent, mount.path + (mount.readOnly ? ' (ro)' : '')];
      }));
      return { output: formatTable(['FILESYSTEM', 'TYPE', 'SIZE', 'USED', 'AVAIL', 'USE%', 'MOUNTED ON'], rows) };
    },
  },
  mount: {
    forms: [{ parameters: [
      { name: 'DISK', kind: 'disk', optional: true },
      { ...PATH, optional: true, describe: 'the directory to mount DISK on (needed with DISK)' },
      { name: 'TYPE', kind: 'text', optional: true, describe: 'ext2 (the default; the only disk filesystem there is)' },
    ] }],
    summary: 'the mount table; or mount DISK on the directory PATH (its ext2 server started if it has none)',
    run: async (args, services) => {
      const disk = args.optionalWord('DISK');
      if (disk === undefined) return { output: formatMounts((await services.fs.mounts({})).mounts) };
      const given = args.optionalWord('PATH');
      if (given === undefined) throw new FileCommandError(`mount ${disk}: needs the directory to mount it on (mount DISK PATH [TYPE])`);
      const path = systemPath(given);
      const type = args.optionalWord('TYPE') ?? 'ext2';
      if (type !== 'ext2') throw new FileCommandError(`mount: no filesystem type "${type}" for a disk (there is: ext2)`);
      const service = await diskServer(services, disk, type);
      const mounted = await onPath('mount', path, () => services.fs.mount({ path, service: service.name, ...(service.access === 'read-only' ? { readOnly: true } : {}) }));
      return { output: `${disk} (${mounted.service}, ${mounted.type}${mounted.readOnly ? ', read-only' : ''}) mounted on ${mounted.path}` };
    },
  },
  umount: simple('write back and detach the filesystem mounted on PATH', [PATH], ({ fs }, [path]) => fs.umount({ path: path! }), 'umount'),
  sync: {
    forms: [{ parameters: [] }],
    summary: 'write every dirty page and every filesystem\'s changes to the disks (returns once they are flushed)',
    run: async (_, { fs }) => {
      await onPath('sync', '/', () => fs.sync({}));
      return { output: '' };
    },
  },
};

/**
 * Tab completion of a path: the entries of the directory `word` is in whose names begin
 * with what follows its last "/", each as the whole word ("/notes/" for a directory, so the
 * next Tab goes on inside it). Nothing when the directory cannot be listed.
 */
export async function pathCandidates(word: string, fs: FileCommandServices['fs']): Promise<string[]> {
  const cut = word.lastIndexOf('/');
  const shownDirectory = word.slice(0, cut + 1);
  const directory = systemPath(shownDirectory || '/');
  const prefix = word.slice(cut + 1);
  try {
    return await withOpen(fs, directory, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY, async (description) => {
      const found: string[] = [];
      for (;;) {
        const { entries } = await fs.getdents({ description });
        if (entries.length === 0) return found;
        for (const entry of entries) {
          if (entry.name === '.' || entry.name === '..' || !entry.name.startsWith(prefix)) continue;
          found.push(`${shownDirectory}${entry.name}${entry.fileType === DIRECTORY_ENTRY_TYPE ? '/' : ''}`);
        }
      }
    });
  } catch {
    return [];
  }
}

/** The running filesystem server of `disk`, started now if it has none. */
async function diskServer(services: FileCommandServices, disk: string, server: string): Promise<DiskServerRow> {
  const find = async () => (await services.drivers.diskServers({})).rows.find((row) => row.disk === disk && row.state === 'running');
  const running = await find();
  if (running) return running;
  const started = await services.drivers.startDiskServer({ disk, server });
  if (!started.running) throw new FileCommandError(`mount: ${started.message}`);
  const now = await find();
  if (!now) throw new FileCommandError(`mount: ${started.name} started but does not serve ${disk}`);
  return now;
}

async function list(fs: FileCommandServices['fs'], path: string, long: boolean): Promise<string> {
  const stat = await fs.lstat({ path });
  if ((stat.mode & FileType.S_IFMT) !== FileType.S_IFDIR) return long ? await longLine(fs, path, path, stat) : path;
  const names: string[] = [];
  await withOpen(fs, path, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY, async (description) => {
    for (;;) {
      const { entries } = await fs.getdents({ description });
      if (entries.length === 0) return;
      for (const entry of entries) if (entry.name !== '.' && entry.name !== '..') names.push(entry.name);
    }
  });
  names.sort();
  if (!long) return names.join('\n');
  const lines = [];
  for (const name of names) {
    const child = path.endsWith('/') ? `${path}${name}` : `${path}/${name}`;
    lines.push(await longLine(fs, child, name, await fs.lstat({ path: child })));
  }
  return lines.join('\n');
}

async function longLine(fs: FileCommandServices['fs'], path: string, shown: string, stat: Stat): Promise<string> {
  const target = (stat.mode & FileType.S_IFMT) === FileType.S_IFLNK ? ` -> ${(await fs.readlink({ path })).target}` : '';
  return `${modeText(stat.mode)} ${String(stat.links).padStart(3)} ${String(stat.uid).padStart(5)} ${String(stat.gid).padStart(5)} ${String(stat.size).padStart(10)} ${timeText(stat.modifyTime)} ${shown}${target}`;
}

/** `drwxr-xr-x`, as ls -l shows a mode. */
export function modeText(mode: number): string {
  const kinds: Record<number, string> = {
    [FileType.S_IFDIR]: 'd', [FileType.S_IFLNK]: 'l', [FileType.S_IFREG]: '-', [FileType.S_IFCHR]: 'c',
    [FileType.S_IFBLK]: 'b', [FileType.S_IFIFO]: 'p', [FileType.S_IFSOCK]: 's',
  };
  let text = kinds[mode & FileType.S_IFMT] ?? '?';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    text += `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  }
  return text;
}

function typeName(mode: number): string {
  switch (mode & FileType.S_IFMT) {
    case FileType.S_IFDIR: return 'directory';
    case FileType.S_IFLNK: return 'symbolic link';
    case FileType.S_IFREG: return 'regular file';
    default: return 'special file';
  }
}

function timeText(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function formatMounts(mounts: readonly Mount[]): string {
  return mounts.map((mount) => `${mount.service} on ${mount.path} type ${mount.type} (${mount.readOnly ? 'ro' : 'rw'})`).join('\n');
}

function concatenate(pieces: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  for (const piece of pieces) { bytes.set(piece, at); at += piece.length; }
  return bytes;
}
