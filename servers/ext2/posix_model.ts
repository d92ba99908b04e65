// An in-memory model of the POSIX semantics the ext2 server must keep, for property tests:
// random operations run on both, and the results and final trees must agree.

import { Ext2Error, type Errno } from './errors.js';

export type ModelNode =
  | { kind: 'file'; content: Uint8Array }
  | { kind: 'directory'; entries: Map<string, ModelNode> }
  | { kind: 'symlink'; target: string };

export class PosixModel {
  readonly root: ModelNode & { kind: 'directory' } = { kind: 'directory', entries: new Map() };

  /** The node at `path`: ENOENT when a name is missing, ENOTDIR when a non-directory is on the way. */
  resolve(path: string): ModelNode {
    let node: ModelNode = this.root;
    for (const part of split(path)) {
      if (node.kind !== 'directory') fail('ENOTDIR');
      const next = node.entries.get(part);
      if (!next) fail('ENOENT');
      node = next;
    }
    return node;
  }

  /** Runs one operation; throws Ext2Error with the errno the real filesystem must give. */
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
    const node = this.resolve(existing);
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
    if (node.kind === 'directory' && (to === from || to.startsWith(`${from}/`))) {
      if (to === from) return;
      fail('EINVAL');
    }
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
    const node = this.resolve(path);
    if (node.kind === 'directory') fail('EISDIR');
    if (node.kind !== 'file') fail('EINVAL');
    return node;
  }

  private parentOf(path: string): { parent: ModelNode & { kind: 'directory' }; name: string } {
    const parts = split(path);
    const name = parts.pop()!;
    let node: ModelNode = this.root;
    for (const part of parts) {
      if (node.kind !== 'directory') fail('ENOTDIR');
      const next = node.entries.get(part);
      if (!next) fail('ENOENT');
      node = next;
    }
    if (node.kind !== 'directory') fail('ENOTDIR');
    return { parent: node, name };
  }
}

function split(path: string): string[] {
  return path.split('/').filter((part) => part.length > 0);
}

function fail(code: Errno): never {
  throw new Ext2Error(code, 'model');
}
