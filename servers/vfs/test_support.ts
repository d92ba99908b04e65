// For the VFS's tests: a Vfs in this thread over tmpfs instances in this thread (their
// handlers called as a client would call them), with the calls each filesystem received
// counted, and pages from a range of a test RAM.

import type { ClientOf, HandlersOf } from '../../ipc/define.js';
import type { filesystemInterface } from '../../ipc/interfaces/filesystem.js';
import { Ram } from '../../hal/ram.js';
import { RamRangePages } from '../lib/pages.js';
import { tmpfsHandlers } from '../tmpfs/service.js';
import { Tmpfs } from '../tmpfs/tmpfs.js';
import { Vfs } from './vfs.js';

export type FilesystemHandlers = HandlersOf<typeof filesystemInterface>;

/** A client that calls `handlers` directly; `calls` counts each operation. */
export function directClient(handlers: FilesystemHandlers, calls: Map<string, number>): ClientOf<typeof filesystemInterface> {
  return new Proxy({}, {
    get: (_target, operation: string) => async (args: unknown) => {
      calls.set(operation, (calls.get(operation) ?? 0) + 1);
      const handler = (handlers as Record<string, ((args: unknown, call: unknown) => unknown) | undefined>)[operation];
      if (!handler) throw new Error(`no handler for ${operation}`);
      return handler(args, { channelId: 1, clientSlot: 1 });
    },
  }) as ClientOf<typeof filesystemInterface>;
}

export interface TestSystem {
  readonly vfs: Vfs;
  readonly pages: RamRangePages;
  readonly filesystems: Map<string, { tmpfs: Tmpfs; handlers: FilesystemHandlers; calls: Map<string, number> }>;
}

/** A Vfs whose services `names` are tmpfs instances (or the handlers given), the first mounted at "/". */
export async function testSystem(names: readonly string[], options: { cachePages?: number; dirtyFileLimit?: number; sizeBytes?: number; overrides?: Record<string, (base: FilesystemHandlers) => FilesystemHandlers> } = {}): Promise<TestSystem> {
  const ram = Ram.allocate(64 * 1024 * 1024);
  const half = ram.base + 32 * 1024 * 1024;
  const pages = new RamRangePages(ram, ram.base, half);
  const tmpfsPages = new RamRangePages(ram, half, ram.end);
  const filesystems = new Map<string, { tmpfs: Tmpfs; handlers: FilesystemHandlers; calls: Map<string, number> }>();
  for (const name of names) {
    const tmpfs = new Tmpfs({ pages: tmpfsPages, sizeBytes: options.sizeBytes ?? 8 * 1024 * 1024, inodeLimit: 10_000, label: name });
    const base = tmpfsHandlers(tmpfs);
    filesystems.set(name, { tmpfs, handlers: options.overrides?.[name]?.(base) ?? base, calls: new Map() });
  }
  const vfs = new Vfs({
    pages,
    cachePages: options.cachePages ?? 1024,
    dirtyFileLimit: options.dirtyFileLimit ?? 256,
    connectFilesystem: (service) => {
      const filesystem = filesystems.get(service);
      if (!filesystem) return directClient({}, new Map());
      return directClient(filesystem.handlers, filesystem.calls);
    },
  });
  if (names.length > 0) await vfs.mount({ path: '/', service: names[0]! });
  return { vfs, pages, filesystems };
}

export const text = (value: string) => new TextEncoder().encode(value);
export const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
