import { describe, expect, it } from 'vitest';
import { Ram } from '../hal/ram.js';
import { MEMORY_STATE_MAGIC, MEMORY_STATE_READY, MEMORY_STATE_VERSION } from '../ipc/interfaces/memory_state.js';
import { RamWatch } from './ram_watch.js';

function withHeader(ram: Ram, base: number, status: number): void {
  ram.writeU32(base, MEMORY_STATE_MAGIC);
  ram.writeU32(base + 4, MEMORY_STATE_VERSION);
  ram.writeU32(base + 8, status);
}

describe('RamWatch', () => {
  it('RamWatch says nothing until the memory server\'s state is ready, then names what changed in its header', () => {
    const ram = Ram.allocate(1024 * 1024);
    const base = ram.base + 0x2000;
    const watch = new RamWatch(ram, { base });
    expect(watch.check()).toBeUndefined(); // not formatted yet
    withHeader(ram, base, 1);
    expect(watch.check()).toBeUndefined(); // formatting
    withHeader(ram, base, MEMORY_STATE_READY);
    expect(watch.check()).toBeUndefined();
    expect(watch.check()).toBeUndefined();
    ram.fill(base, 16, 0);
    expect(watch.check()).toBe(`the memory server's state at 0x${base.toString(16)} lost its header (magic 0x00000000, expected 0x4d454d42 "BMEM")`);
    withHeader(ram, base, 7);
    expect(watch.check()).toMatch(/has status 7, not ready/);
  });

  it('RamWatch watches nothing in a system whose memory server keeps no state region', () => {
    expect(new RamWatch(Ram.allocate(1024 * 1024), undefined).check()).toBeUndefined();
  });
});
