// Linux's own ext2 tools (e2fsprogs), run on image files for the ext2 tests: mke2fs -d to
// make images from a folder, e2fsck -fn to judge images baton wrote, debugfs to read them
// back. Tests that need them skip where e2fsprogs is absent and say so.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function findTool(name: string): string | undefined {
  for (const directory of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    const path = join(directory, name);
    if (spawnSync(path, ['-V']).error === undefined) return path;
  }
  return undefined;
}

export const e2fsprogs = {
  mke2fs: findTool('mke2fs'),
  e2fsck: findTool('e2fsck'),
  debugfs: findTool('debugfs'),
};

/** Why ext2 format checks skip here, or undefined when e2fsprogs is installed. */
export const e2fsprogsMissing: string | undefined =
  e2fsprogs.mke2fs && e2fsprogs.e2fsck && e2fsprogs.debugfs ? undefined : 'e2fsprogs (mke2fs, e2fsck, debugfs) is not installed';

export function temporaryDirectory(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `mke2fs -t ext2 -d SOURCE` into a new image of `bytes`; returns its contents. */
export function makeImage(options: {
  source?: string; bytes: number; blockBytes?: number; label?: string; type?: 'ext2' | 'ext4'; features?: string;
  /** Then `e2fsck -fyD`: every directory of more than one block gets an htree index. */
  indexDirectories?: boolean;
}): Uint8Array {
  const work = temporaryDirectory('baton-mke2fs-');
  try {
    const image = join(work.path, 'image');
    const size = `${Math.floor(options.bytes / 1024)}k`;
    const args = ['-q', '-F', '-t', options.type ?? 'ext2'];
    if (options.blockBytes) args.push('-b', String(options.blockBytes));
    if (options.label) args.push('-L', options.label);
    if (options.features) args.push('-O', options.features);
    if (options.source) args.push('-d', options.source);
    // Fixed UUID and hash seed, and no time-dependent choices beyond timestamps.
    args.push('-U', 'clear', '-E', 'hash_seed=00000000-0000-0000-0000-000000000001', image, size);
    execFileSync(e2fsprogs.mke2fs!, args, { stdio: 'pipe', env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' } });
    if (options.indexDirectories) {
      const result = spawnSync(e2fsprogs.e2fsck!, ['-fyD', image], { encoding: 'utf8' });
      // Status 1: "errors corrected" — here, directories optimised.
      if (result.status !== 0 && result.status !== 1) throw new Error(`e2fsck -fyD failed: ${result.stdout}${result.stderr}`);
    }
    return new Uint8Array(readFileSync(image));
  } finally {
    work.remove();
  }
}

/** Runs `use` with the image written to a file in a temporary folder, removed afterwards. */
function withImageFile<T>(image: Uint8Array, use: (path: string, folder: string) => T): T {
  const work = temporaryDirectory('baton-ext2-image-');
  try {
    const path = join(work.path, 'image');
    writeFileSync(path, image);
    return use(path, work.path);
  } finally {
    work.remove();
  }
}

/** `e2fsck -fn` on the image: its exit status and everything it printed. */
export function checkImage(image: Uint8Array): { status: number; output: string } {
  return withImageFile(image, (path) => {
    const result = spawnSync(e2fsprogs.e2fsck!, ['-fn', path], { encoding: 'utf8' });
    return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
  });
}

/** `e2fsck -p` (preen: repair only what is safe without a person) on a copy of the image. */
export function preenImage(image: Uint8Array): { status: number; output: string } {
  return withImageFile(image, (path) => {
    const result = spawnSync(e2fsprogs.e2fsck!, ['-p', path], { encoding: 'utf8' });
    return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
  });
}

/** Runs debugfs requests (`-R`) on the image and returns what it printed. */
export function debugfs(image: Uint8Array, request: string): string {
  return withImageFile(image, (path) => spawnSync(e2fsprogs.debugfs!, ['-R', request, path], { encoding: 'utf8' }).stdout);
}

/** debugfs's `dump` of one file: the bytes Linux's library reads for it. */
export function dumpFile(image: Uint8Array, path: string): Uint8Array {
  return withImageFile(image, (imagePath, folder) => {
    const out = join(folder, 'out');
    spawnSync(e2fsprogs.debugfs!, ['-R', `dump ${path} ${out}`, imagePath], { encoding: 'utf8' });
    return new Uint8Array(readFileSync(out));
  });
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One entry of a test tree: files may be sparse (size with data pieces at offsets). */
export type TreeEntry =
  | { readonly path: string; readonly kind: 'directory' }
  | { readonly path: string; readonly kind: 'file'; readonly content: Uint8Array }
  | { readonly path: string; readonly kind: 'sparse'; readonly size: number; readonly pieces: readonly { offset: number; bytes: Uint8Array }[] }
  | { readonly path: string; readonly kind: 'symlink'; readonly target: string };

/** Creates the entries under `root` on the host (parents first). */
export function writeTree(root: string, entries: readonly TreeEntry[]): void {
  for (const entry of entries) {
    const path = join(root, entry.path);
    mkdirSync(entry.kind === 'directory' ? path : dirname(path), { recursive: true });
    if (entry.kind === 'file') writeFileSync(path, entry.content);
    if (entry.kind === 'symlink') symlinkSync(entry.target, path);
    if (entry.kind === 'sparse') {
      const descriptor = openSync(path, 'w');
      try {
        ftruncateSync(descriptor, entry.size);
        for (const piece of entry.pieces) writeSync(descriptor, piece.bytes, 0, piece.bytes.length, piece.offset);
      } finally {
        closeSync(descriptor);
      }
    }
  }
}

/** What one path holds, as read back by Linux's library. */
export type DumpedEntry = { kind: 'directory' } | { kind: 'file'; sha256: string; size: number } | { kind: 'symlink'; target: string };

/** Every path of the image (except lost+found), read by `debugfs -R "rdump / DIR"`. */
export function dumpTree(image: Uint8Array): Map<string, DumpedEntry> {
  return withImageFile(image, (imagePath, folder) => {
    const out = join(folder, 'out');
    mkdirSync(out);
    const result = spawnSync(e2fsprogs.debugfs!, ['-R', `rdump / ${out}`, imagePath], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`debugfs rdump failed: ${result.stderr}`);
    const entries = new Map<string, DumpedEntry>();
    const walk = (directory: string, prefix: string) => {
      for (const name of readdirSync(directory)) {
        const path = join(directory, name);
        const relative = prefix ? `${prefix}/${name}` : name;
        if (relative === 'lost+found') continue;
        const stat = lstatSync(path);
        if (stat.isSymbolicLink()) entries.set(relative, { kind: 'symlink', target: readlinkSync(path) });
        else if (stat.isDirectory()) { entries.set(relative, { kind: 'directory' }); walk(path, relative); }
        else { const bytes = readFileSync(path); entries.set(relative, { kind: 'file', sha256: sha256(bytes), size: bytes.length }); }
      }
    };
    walk(out, '');
    return entries;
  });
}
