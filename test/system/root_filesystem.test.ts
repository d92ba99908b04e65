// The root from the initramfs, as a user boots it: the VFS mounts the root tmpfs at /,
// unpacks the initrd's archive of sysroot/ into it and mounts the second tmpfs at /tmp;
// when the root tmpfs is killed, its next generation is filled from the initramfs again.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from '../harness/system.js';

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

const sysroot = fileURLToPath(new URL('../../sysroot', import.meta.url));
const UNPACKED = /unpacked the initramfs into \/: (\d+) files, (\d+) directories/g;

/** Regular files and directories below `directory`. */
function count(directory: string): { files: number; directories: number } {
  let files = 0;
  let directories = 0;
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) {
      directories++;
      const below = count(path);
      files += below.files;
      directories += below.directories;
    } else {
      files++;
    }
  }
  return { files, directories };
}

describe('the root filesystem', () => {
  it('is sysroot/ unpacked from the initramfs into a tmpfs at /, with a tmpfs at /tmp, and comes back when the root tmpfs is killed', async () => {
    system = await RunningSystem.boot();
    const booted = await system.commandUntil('dmesg', (output) => output.includes('mounted tmpfs-tmp at /tmp'), 'the /tmp mount in the log');
    const [first] = [...booted.matchAll(UNPACKED)];
    expect(first, booted).toBeDefined();
    // Every file of sysroot/, and the boot manifest the board adds as boot/manifest.json.
    const expected = count(sysroot);
    expect([Number(first![1]), Number(first![2])]).toEqual([expected.files + 1, expected.directories]);
    expect(booted).toContain('mounted tmpfs at /');

    await system.command('kill tmpfs');
    const restored = await system.commandUntil('dmesg', (output) => [...output.matchAll(UNPACKED)].length >= 2, 'the initramfs unpacked again');
    expect(restored).toContain('filesystem tmpfs restarted without its files');
    const ps = await system.command('ps');
    expect(ps).toMatch(/^vfs\s+server\s+1\s+running/m);
    expect(ps).toMatch(/^tmpfs-tmp\s+server\s+1\s+running/m);
    expect(await system.shutdown()).toBe(0);
  });
});
