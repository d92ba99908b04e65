// An in-memory model of POSIX file semantics, for property tests: random operations run on
// the model and on the real thing (the ext2 server's filesystem, the VFS), and the results
// and the final trees must agree. Refusals throw ModelError with the errno name.
//
// Without `followSymlinks` (a filesystem's view: names only) a symlink on the way is
// ENOTDIR; with it (the VFS's view) symlinks before the last component are followed, the
// last one for file operations (write, truncate), and more than 40 is ELOOP.

import type { ErrnoName } from '../../ipc/interfaces/errno.js';

type Errno = ErrnoName;

export class ModelError extends Error {
  constructor(readonly code: Errno) {
    super(`${code}: model`);
    this.name = 'ModelError';
  }
}

const SYMLINK_LIMIT = 40;

export type ModelNode =
  | { kind: 'file'; content: Uint8Array }
  | { kind: 'directory'; entries: Map<string, ModelNode> }
  | { kind: 'symlink'; target: string };

type DirectoryNode = ModelNode & { kind: 'directory' };

export class PosixModel {
  readonly root: DirectoryNode = { kind: 'directory', entries: new Map() };
  private readonly followSymlinks: boolean;

  constructor(options: { followSymlinks?: boolean } = {}) {
    this.followSymlinks = options.followSymlinks === true;
  }

  /** The node at `path` (a last symlink followed when `followLast`): ENOENT when a name is missing, ENOTDIR when a non-directory is on the way. */
  resolve(path: string, followLast = false): ModelNode {
    return this.walk(split(path), followLast);
  }

  private walk(components: string[], followLast: boolean): ModelNode {
    let directories: DirectoryNode[] = [this.root];
    let node: ModelNode = this.root;
    let links = 0;
    const pending = [...components];
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (node.kind !== 'directory') fail('ENOTDIR');
      if (part === '.') continue;
      if (part === '..') {
        if (directories.length > 1) directories.pop();
        node = directories.at(-1)!;
        continue;
      }
      const next: ModelNode | undefined = node.entries.get(part);
      if (!next) fail('ENOENT');
      if (this.followSymlinks && next.kind === 'symlink' && (pending.length > 0 || followLast)) {
        if (++links > SYMLINK_LIMIT) fail('ELOOP');
        pending.unshift(...split(next.target));
        if (next.target.startsWith('/')) {
          directories = [this.root];
          node = this.root;
        }
        continue;
      }
      if (next.kind === 'directory') directories.push(next);
      node = next;
    }
    return node;
  }

  /** Runs one operation; throws ModelError with the errno the real filesystem must give. */
  create(path: string): void {
    const { parent, name } = this.parentOf(path);
    if (parent.entries.has(name)) fail('EEXIST');
    parent.entries.set(name, { kind: 'file', content: new Uint8Array(0) });
  }

  mkdir(path: string): void {
    const { parent, name } = this.parentOf(path);
    if (parent.entries.has(name)) fail('EEXIST');
    parent.entries.set(name, { kind: 'directory', entries: new Map() });
  }

  symlink(path: string, target: string): void {
    const { parent, name } = this.parentOf(path);
    if (parent.entries.has(name)) fail('EEXIST');
    parent.entries.set(name, { kind: 'symlink', target });
  }

  link(existing: string, path: string): void {
    // Linux's order: both lookups, then EEXIST, then a directory's EPERM.
    const node = this.resolve(existing, false);
    const { parent, name } = this.parentOf(path);
    if (parent.entries.has(name)) fail('EEXIST');
    if (node.kind === 'directory') fail('EPERM');
    parent.entries.set(name, node);
  }

  write(path: string, offset: number, data: Uint8Array): void {
    const node = this.file(path);
    const end = Math.max(node.content.length, offset + data.length);
    const content = new Uint8Array(end);
    content.set(node.content);
    content.set(data, offset);
    node.content = content;
  }

  truncate(path: string, size: number): void {
    const node = this.file(path);
    const content = new Uint8Array(size);
    content.set(node.content.subarray(0, size));
    node.content = content;
  }

  unlink(path: string): void {
    const { parent, name } = this.parentOf(path);
    const node = parent.entries.get(name);
    if (!node) fail('ENOENT');
    if (node.kind === 'directory') fail('EISDIR');
    parent.entries.delete(name);
  }

  rmdir(path: string): void {
    const { parent, name } = this.parentOf(path);
    const node = parent.entries.get(name);
    if (!node) fail('ENOENT');
    if (node.kind !== 'directory') fail('ENOTDIR');
    if (node.entries.size > 0) fail('ENOTEMPTY');
    parent.entries.delete(name);
  }

  rename(from: string, to: string): void {
    // Linux's order: both parents first, then the source entry.
    const source = this.parentOf(from);
    const target = this.parentOf(to);
    const node = source.parent.entries.get(source.name);
    if (!node) fail('ENOENT');
    if (node.kind === 'directory' && contains(node, target.parent)) fail('EINVAL');
    const existing = target.parent.entries.get(target.name);
    if (existing === node) return;
    if (existing) {
      if (node.kind === 'directory' && existing.kind !== 'directory') fail('ENOTDIR');
      if (node.kind !== 'directory' && existing.kind === 'directory') fail('EISDIR');
      if (existing.kind === 'directory' && existing.entries.size > 0) fail('ENOTEMPTY');
    }
    source.parent.entries.delete(source.name);
    target.parent.entries.set(target.name, node);
  }

  /** Every path below the root, parents before children. */
  paths(): Map<string, ModelNode> {
    const result = new Map<string, ModelNode>();
    const walk = (node: ModelNode & { kind: 'directory' }, prefix: string) => {
      for (const [name, child] of node.entries) {
        const path = prefix ? `${prefix}/${name}` : name;
        result.set(path, child);
        if (child.kind === 'directory') walk(child, path);
      }
    };
    walk(this.root, '');
    return result;
  }

  private file(path: string): ModelNode & { kind: 'file' } {
    const node = this.resolve(path, true);
    if (node.kind === 'directory') fail('EISDIR');
    if (node.kind !== 'file') fail('EINVAL');
    return node;
  }

  private parentOf(path: string): { parent: ModelNode & { kind: 'directory' }; name: string } {
    const parts = split(path);
    const name = parts.pop()!;
    const node = this.walk(parts, true);
    if (node.kind !== 'directory') fail('ENOTDIR');
    return { parent: node, name };
  }
}

/** Whether `directory` is `node` or below it. */
function contains(node: DirectoryNode, directory: DirectoryNode): boolean {
  if (node === directory) return true;
  for (const child of node.entries.values()) if (child.kind === 'directory' && contains(child, directory)) return true;
  return false;
}

function split(path: string): string[] {
  return path.split('/').filter((part) => part.length > 0);
}

function fail(code: Errno): never {
  throw new ModelError(code);
}
