// Host files that tests of the thread-side layers compare baton against (the kernel's C
// headers, for the numbers of baton's ABI). Those tests see no Node types, so they read
// host files through here, as the rest of the system reaches the host through hal/.

import { existsSync, readFileSync } from 'node:fs';

/** Whether the host has a file at `path`. */
export function hostFileExists(path: string): boolean {
  return existsSync(path);
}

/** The host file at `path` as UTF-8 text; throws when it cannot be read. */
export function readHostTextFile(path: string): string {
  return readFileSync(path, 'utf8');
}
