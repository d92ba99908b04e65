// Paths as the VFS receives them: checked for length (ENAMETOOLONG past PATH_MAX bytes, or
// a component past NAME_MAX) and split into components. Empty components ("a//b") vanish;
// a trailing slash asks that the last component be a directory.

import { errnoError } from '../../ipc/interfaces/errno.js';
import { NAME_MAX, PATH_MAX } from '../../ipc/interfaces/fs.js';

export interface ParsedPath {
  readonly absolute: boolean;
  readonly components: readonly string[];
  /** The path ended in "/" (after at least one component): it must name a directory. */
  readonly trailingSlash: boolean;
}

const encoder = new TextEncoder();

/** `path` split into components; ENOENT when empty, ENAMETOOLONG when too long. */
export function parsePath(path: string): ParsedPath {
  if (path.length === 0) throw errnoError('ENOENT', 'empty path');
  // PATH_MAX counts the terminating NUL, so a path of PATH_MAX bytes is already too long.
  if (encoder.encode(path).length >= PATH_MAX) throw errnoError('ENAMETOOLONG', `path of more than ${PATH_MAX - 1} bytes`);
  const components = path.split('/').filter((component) => component.length > 0);
  for (const component of components) {
    if (encoder.encode(component).length > NAME_MAX) throw errnoError('ENAMETOOLONG', `component "${component.slice(0, 16)}…" of more than ${NAME_MAX} bytes`);
  }
  return { absolute: path.startsWith('/'), components, trailingSlash: components.length > 0 && path.endsWith('/') };
}

/** An absolute path with `.` and `..` taken lexically: how the mount table names a mount point. */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const component of parsePath(path).components) {
    if (component === '.') continue;
    if (component === '..') parts.pop();
    else parts.push(component);
  }
  return `/${parts.join('/')}`;
}
