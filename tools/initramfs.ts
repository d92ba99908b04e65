// The initramfs: sysroot/ as a cpio "newc" archive (hal/cpio_newc.ts), as Linux's
// usr/gen_initramfs.sh makes one of a folder. The build writes it to build/initramfs.cpio
// (tools/bin/bundle.mjs); at boot the board loads it with the boot manifest added as
// boot/manifest.json, the kernel reads that member, and the VFS unpacks the whole into the
// root tmpfs.
//
// Deterministic: members in sorted order, owner 0:0, modes from the files' type and
// execute bits only, every time SOURCE_DATE_EPOCH (or 0), inode numbers in order. The same
// sysroot gives the same bytes on any machine.

import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeNewc, encodeNewc, type CpioMember } from '../hal/cpio_newc.js';
import { INITRD_MANIFEST_MEMBER } from '../microkernel/manifest.js';
import { buildRoot, projectRoot } from './paths.js';

/** Where the build puts the archive of sysroot/. */
export const INITRAMFS_FILE = 'initramfs.cpio';
export { INITRD_MANIFEST_MEMBER as MANIFEST_MEMBER };

const encoder = new TextEncoder();

/** The members of an archive of `folder`: directories before what they hold, names sorted. */
export function folderMembers(folder: string, modifyTime = sourceDateEpoch()): CpioMember[] {
  const members: CpioMember[] = [];
  const walk = (directory: string, prefix: string) => {
    for (const name of readdirSync(directory).sort()) {
      const path = join(directory, name);
      const memberName = prefix ? `${prefix}/${name}` : name;
      const stats = lstatSync(path);
      if (stats.isSymbolicLink()) {
        members.push({ name: memberName, mode: 0o120777, modifyTime, data: encoder.encode(readlinkSync(path)) });
      } else if (stats.isDirectory()) {
        members.push({ name: memberName, mode: 0o040755, modifyTime, data: new Uint8Array(0) });
        walk(path, memberName);
      } else if (stats.isFile()) {
        const executable = (stats.mode & 0o111) !== 0;
        members.push({ name: memberName, mode: executable ? 0o100755 : 0o100644, modifyTime, data: new Uint8Array(readFileSync(path)) });
      } else {
        throw new Error(`${path}: only files, directories and symlinks go into the initramfs`);
      }
    }
  };
  walk(folder, '');
  return members;
}

/** Writes the archive of `root`/sysroot to `root`/build/initramfs.cpio (replacing it whole); returns its path. */
export function writeInitramfs(root: string = projectRoot): string {
  const archive = encodeNewc(folderMembers(join(root, 'sysroot')));
  const target = join(root === projectRoot ? buildRoot : join(root, 'build'), INITRAMFS_FILE);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(`${target}.tmp`, archive);
  renameSync(`${target}.tmp`, target);
  return target;
}

/**
 * The initrd the board loads: the build's archive of sysroot/ (made now if the build has
 * none) with `manifest` added as boot/manifest.json.
 */
export function initrdWithManifest(manifest: Uint8Array, root: string = projectRoot): Uint8Array {
  const built = join(root, 'build', INITRAMFS_FILE);
  let members: CpioMember[];
  try {
    members = decodeNewc(new Uint8Array(readFileSync(built)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${built}: ${(error as Error).message}`);
    members = decodeNewc(new Uint8Array(readFileSync(writeInitramfs(root))));
  }
  const modifyTime = sourceDateEpoch();
  const kept = members.filter((member) => member.name !== INITRD_MANIFEST_MEMBER).map(({ inode: _inode, ...member }) => member);
  if (!kept.some((member) => member.name === 'boot')) kept.push({ name: 'boot', mode: 0o040755, modifyTime, data: new Uint8Array(0) });
  return encodeNewc([...kept, { name: INITRD_MANIFEST_MEMBER, mode: 0o100444, modifyTime, data: manifest }]);
}

/** The boot manifest's bytes in an initrd, or undefined if it has none. */
export function manifestOf(initrd: Uint8Array): Uint8Array | undefined {
  return decodeNewc(initrd).find((member) => member.name === INITRD_MANIFEST_MEMBER)?.data;
}

function sourceDateEpoch(): number {
  const value = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  return Number.isSafeInteger(value) && value >= 0 && value <= 0xffff_ffff ? value : 0;
}
