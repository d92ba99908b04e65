// Whole-system tests of the console as a user meets it: what it refuses, with what
// message, and that a refused line runs nothing.

import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from '../harness/system.js';

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('console', () => {
  it('refuses a line over 4 KiB with an error and runs none of it', async () => {
    system = await RunningSystem.boot();
    const before = await system.command('blk read virtio-blk 0');
    const refused = await system.command(`blk write virtio-blk 0 ${'x'.repeat(5000)}`);
    expect(refused).toBe('error: line too long (5023 bytes; a line holds at most 4096): none of it was run');
    expect(await system.command('blk read virtio-blk 0')).toBe(before);
    expect(await system.command(`random ${' '.repeat(5000)}2`)).toMatch(/^error: line too long \(5008 bytes/);
    expect(await system.command('random 2')).toMatch(/^[0-9a-f]{4}$/);
  });

  it('refuses a line that does not fit its command with what was expected and the usage, and runs nothing', async () => {
    system = await RunningSystem.boot();
    expect(await system.command('random -1')).toBe('error: random: N must be a whole number, from 1 to 16384, not "-1"\nusage: random [N]');
    expect(await system.command('dmesg -n abc')).toBe('error: dmesg: N must be a whole number, 1 or more, not "abc"\nusage: dmesg [-n N]');
    expect(await system.command('blk read nosuchdisk 0')).toBe(
      'error: blk read: no disk named "nosuchdisk" (the disks: virtio-blk)\nusage: blk read DISK SECTOR [COUNT]');
    expect(await system.command('shutdown ps')).toBe('error: shutdown: unexpected "ps" (shutdown takes no arguments)\nusage: shutdown');
    expect(await system.command('ps x')).toMatch(/^error: ps: unexpected "x"/);
    expect(await system.command('help random')).toBe([
      'usage: random [N]', 'N random bytes from the entropy device, in hex (default 16, at most 16384)', '  N  a whole number, from 1 to 16384 (default 16)',
    ].join('\n'));
    // Still running: the refused shutdown did nothing.
    expect(await system.command('ps')).toMatch(/console\s+server\s+1\s+running/);
    const remote = await system.ctl(['random', '0']);
    expect(remote.status).toBe(1);
    expect(remote.stdout).toBe('error: random: N must be a whole number, from 1 to 16384, not "0"\nusage: random [N]\n');
  });
});
