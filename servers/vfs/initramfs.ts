// Unpacking the initramfs into the root, as Linux's init/initramfs.c does: each cpio newc
// member in order becomes a directory, a regular file or a symlink, with its mode, owner
// and modification time; a member whose inode an earlier one had (nlink > 1) becomes a
// hard link to it; names lose a leading "./" or "/"; "." is the root itself. An existing
// directory is kept; an existing file is replaced. Directories' times are set last (as
// Linux's dir_utime), since making what they hold changes them; a member whose parent
// the archive lacks gets its parents made (GNU cpio archives list what they were given).

import { decodeNewc, type CpioMember } from '../../hal/cpio_newc.js';
import { FileType, OpenFlags } from '../../ipc/interfaces/fs.js';
import { makeDirectories } from './start_mounts.js';
import type { Vfs } from './vfs.js';

const HOLDER = 'vfs-initramfs';

export interface UnpackCount {
  readonly directories: number;
  readonly files: number;
  readonly symlinks: number;
  readonly bytes: number;
}

/** Unpacks `archive` below "/" of `vfs`; throws (naming the member) what it cannot make. */
export async function unpackInitramfs(vfs: Vfs, archive: Uint8Array): Promise<UnpackCount> {
  const count = { directories: 0, files: 0, symlinks: 0, bytes: 0 };
  const linked = new Map<number, string>();
  const directoryTimes: { path: string; time: number }[] = [];
  for (const member of decodeNewc(archive)) {
    const name = member.name.replace(/^(\.\/|\/)+/, '');
    if (name === '' || name === '.') continue;
    const path = `/${name}`;
    try {
      if (name.includes('/')) await makeDirectories(vfs, path.slice(0, path.lastIndexOf('/')));
      await unpackMember(vfs, member, path, linked, count);
      if ((member.mode & FileType.S_IFMT) === FileType.S_IFDIR && member.modifyTime !== undefined) directoryTimes.push({ path, time: member.modifyTime });
    } catch (error) {
      throw new Error(`initramfs member ${member.name}: ${(error as Error).message}`, { cause: error });
    }
  }
  for (const { path, time } of directoryTimes.reverse()) await vfs.utimens(HOLDER, { path, accessTime: time, modifyTime: time });
  return count;
}

async function unpackMember(vfs: Vfs, member: CpioMember, path: string, linked: Map<number, string>, count: { directories: number; files: number; symlinks: number; bytes: number }): Promise<void> {
  const type = member.mode & FileType.S_IFMT;
  const permissions = member.mode & 0o7777;
  const owner = { uid: member.uid ?? 0, gid: member.gid ?? 0 };
  const times = member.modifyTime === undefined ? {} : { accessTime: member.modifyTime, modifyTime: member.modifyTime };
  if (type === FileType.S_IFDIR) {
    try {
      await vfs.mkdir(HOLDER, { path, permissions, ...owner });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      await vfs.chmod(HOLDER, { path, permissions });
    }
    count.directories++;
    return;
  }
  if (type === FileType.S_IFLNK) {
    await removeIfPresent(vfs, path);
    await vfs.symlink(HOLDER, { path, target: new TextDecoder().decode(member.data), ...owner });
    await vfs.utimens(HOLDER, { path, followSymlinks: false, ...times });
    count.symlinks++;
    return;
  }
  if (type !== FileType.S_IFREG) throw new Error(`type 0o${type.toString(8)} is not a file, directory or symlink`);
  await removeIfPresent(vfs, path);
  const first = member.inode !== undefined && (member.links ?? 1) > 1 ? linked.get(member.inode) : undefined;
  if (first !== undefined) {
    await vfs.link(HOLDER, { existing: first, path });
    count.files++;
    return;
  }
  const { description } = await vfs.open(HOLDER, { path, flags: OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, permissions, ...owner });
  try {
    if (member.data.length > 0) await vfs.write(HOLDER, { description, data: member.data });
  } finally {
    await vfs.close(HOLDER, { description });
  }
  await vfs.chmod(HOLDER, { path, permissions });
  await vfs.utimens(HOLDER, { path, ...times });
  if (member.inode !== undefined && (member.links ?? 1) > 1) linked.set(member.inode, path);
  count.files++;
  count.bytes += member.data.length;
}

async function removeIfPresent(vfs: Vfs, path: string): Promise<void> {
  try {
    await vfs.unlink(HOLDER, { path });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
}
