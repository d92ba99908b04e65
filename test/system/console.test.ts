// Whole-system tests of the console as a user meets it on the main terminal: what it
// refuses, and that a refused line runs nothing.

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
});
