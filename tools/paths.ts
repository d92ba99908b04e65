// Where things are on the host: the project root, the build, the default run directory.

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root (this file is compiled to build/tools/paths.js). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const buildRoot = join(projectRoot, 'build');
export const defaultRunDirectory = join(projectRoot, 'run');

export function runFiles(runDirectory: string): { socket: string; log: string; viewUrl: string } {
  return { socket: join(runDirectory, 'baton.sock'), log: join(runDirectory, 'baton.log'), viewUrl: join(runDirectory, 'view.url') };
}
