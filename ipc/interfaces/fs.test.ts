// The fs interface's numbers are Linux's: open flags against asm-generic/fcntl.h, errno
// numbers against asm-generic/errno-base.h and errno.h, read from the host's kernel headers
// (skipped, and saying so, where they are not installed).

import { describe, expect, it } from 'vitest';
import { hostFileExists, readHostTextFile } from '../../hal/host_files.js';
import { ERRNO_NUMBERS } from './errno.js';
import { OpenFlags, Whence } from './fs.js';

const FCNTL = '/usr/include/asm-generic/fcntl.h';
const ERRNO_HEADERS = ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h'];
const headersMissing = [FCNTL, ...ERRNO_HEADERS].some((path) => !hostFileExists(path)) ? 'the kernel headers (linux-libc-dev) are not installed' : undefined;
const title = (name: string) => (headersMissing ? `${name} (skipped: ${headersMissing})` : name);

/** `#define NAME VALUE` lines of a header (C octal and decimal literals). */
function defines(paths: readonly string[]): Map<string, number> {
  const found = new Map<string, number>();
  for (const path of paths) {
    for (const match of readHostTextFile(path).matchAll(/^#define\s+(\w+)\s+(0[0-7]*|[1-9]\d*)\b/gm)) {
      const literal = match[2]!;
      found.set(match[1]!, literal.startsWith('0') ? Number.parseInt(literal, 8) : Number.parseInt(literal, 10));
    }
  }
  return found;
}

describe('fs interface numbers', () => {
  it.skipIf(headersMissing !== undefined)(title('every open flag has the value asm-generic/fcntl.h gives it'), () => {
    const linux = defines([FCNTL]);
    for (const [name, value] of Object.entries(OpenFlags)) expect([name, linux.get(name)]).toEqual([name, value]);
  });

  it.skipIf(headersMissing !== undefined)(title('every errno name has its Linux number'), () => {
    const linux = defines(ERRNO_HEADERS);
    for (const [name, value] of Object.entries(ERRNO_NUMBERS)) expect([name, linux.get(name)]).toEqual([name, value]);
  });

  it('lseek whence values are SEEK_SET 0, SEEK_CUR 1, SEEK_END 2 (linux/fs.h)', () => {
    expect(Whence).toEqual({ SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2 });
  });
});
