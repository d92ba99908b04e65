// The mounts the VFS makes when it starts: the root, then each of `mounts` in order, its
// mount point made (with its parents) when missing; the root is filled (the initramfs
// unpacked) before the others are mounted on it. A mount that fails is logged and
// skipped: the VFS serves what it could mount.

import type { Logger } from 'pino';
import type { Vfs } from './vfs.js';

export interface StartMounts {
  readonly root: string;
  readonly mounts: readonly { readonly path: string; readonly service: string; readonly readOnly?: boolean }[];
}

const HOLDER = 'vfs';

/** Mounts the root, fills it (`fillRoot`: the initramfs), then the other mounts. */
export async function mountAtStart(vfs: Vfs, config: StartMounts, log: Pick<Logger, 'info' | 'error'>, fillRoot?: () => Promise<void>): Promise<void> {
  if (config.root !== '') {
    try {
      await vfs.serially(() => vfs.mount({ path: '/', service: config.root }));
      log.info({ service: config.root }, `mounted ${config.root} at /`);
    } catch (error) {
      log.error({ service: config.root, error: (error as Error).message }, `could not mount the root ${config.root}`);
      return;
    }
    if (fillRoot) {
      try {
        await vfs.serially(fillRoot);
      } catch (error) {
        log.error({ error: (error as Error).message }, `could not unpack the initramfs: ${(error as Error).message}`);
      }
    }
  }
  for (const mount of config.mounts) {
    try {
      await vfs.serially(async () => {
        await makeDirectories(vfs, mount.path);
        await vfs.mount({ path: mount.path, service: mount.service, ...(mount.readOnly === undefined ? {} : { readOnly: mount.readOnly }) });
      });
      log.info({ service: mount.service, path: mount.path }, `mounted ${mount.service} at ${mount.path}`);
    } catch (error) {
      log.error({ service: mount.service, path: mount.path, error: (error as Error).message }, `could not mount ${mount.service} at ${mount.path}`);
    }
  }
}

/** mkdir -p: each missing directory of `path`. */
export async function makeDirectories(vfs: Vfs, path: string): Promise<void> {
  let prefix = '';
  for (const component of path.split('/').filter((part) => part.length > 0)) {
    prefix += `/${component}`;
    try {
      await vfs.mkdir(HOLDER, { path: prefix });
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
  }
}
