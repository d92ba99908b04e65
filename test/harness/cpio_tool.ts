// GNU cpio, run on archives for the initramfs tests: `cpio -t` lists, `cpio -i` unpacks,
// `cpio -o -H newc` writes. Tests skip where cpio is absent and say so.

import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporaryDirectory } from './ext2_tools.js';

export const cpioMissing: string | undefined = spawnSync('cpio', ['--version']).error ? 'GNU cpio is not installed' : undefined;

/** The member names `cpio -t` lists, in order. */
export function cpioList(archive: Uint8Array): string[] {
  const result = spawnSync('cpio', ['-t', '--quiet'], { input: archive, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cpio -t failed: ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line.length > 0);
}

/** Unpacks with `cpio -i`: each regular file's bytes, and each symlink as "-> TARGET". */
export function cpioExtract(archive: Uint8Array): Map<string, Uint8Array> {
  const work = temporaryDirectory('baton-cpio-i-');
  try {
    const result = spawnSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { input: archive, cwd: work.path });
    if (result.status !== 0) throw new Error(`cpio -i failed: ${result.stderr}`);
    const files = new Map<string, Uint8Array>();
    const walk = (directory: string, prefix: string) => {
      for (const name of readdirSync(directory)) {
        const path = join(directory, name);
        const relative = prefix ? `${prefix}/${name}` : name;
        const stats = lstatSync(path);
        if (stats.isSymbolicLink()) files.set(relative, new TextEncoder().encode(`-> ${readlinkSync(path)}`));
        else if (stats.isDirectory()) walk(path, relative);
        else files.set(relative, new Uint8Array(readFileSync(path)));
      }
    };
    walk(work.path, '');
    return files;
  } finally {
    work.remove();
  }
}

/** An archive `cpio -o -H newc` makes of these files (names relative to a temporary folder). */
export function cpioCreate(files: readonly { name: string; content: Uint8Array }[]): Uint8Array {
  const work = temporaryDirectory('baton-cpio-o-');
  try {
    for (const file of files) {
      mkdirSync(join(work.path, file.name, '..'), { recursive: true });
      writeFileSync(join(work.path, file.name), file.content);
    }
    const result = spawnSync('cpio', ['-o', '-H', 'newc', '--quiet'], { input: files.map((file) => file.name).join('\n') + '\n', cwd: work.path });
    if (result.status !== 0) throw new Error(`cpio -o failed: ${result.stderr}`);
    return new Uint8Array(result.stdout);
  } finally {
    work.remove();
  }
}
