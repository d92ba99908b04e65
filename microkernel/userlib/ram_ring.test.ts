import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Ram } from '../../hal/ram.js';
import { RamRing } from './ram_ring.js';

const record = (message: string, time = 1) => ({ time, level: 30, server: 's', generation: 1, message });

describe('RamRing', () => {
  it('RamRing returns records oldest first and the last N', () => {
    const ram = Ram.allocate(1024 * 1024);
    const ring = RamRing.format<ReturnType<typeof record>>(ram, ram.base, 64 * 1024);
    for (const message of ['a', 'b', 'c']) ring.append(record(message));
    expect(ring.last().map((entry) => entry.message)).toEqual(['a', 'b', 'c']);
    expect(ring.last(2).map((entry) => entry.message)).toEqual(['b', 'c']);
  });

  it('RamRing keeps the newest records when it wraps, in order', () => {
    const ram = Ram.allocate(1024 * 1024);
    const ring = RamRing.format<ReturnType<typeof record>>(ram, ram.base, 4096);
    for (let index = 0; index < 1000; index++) ring.append(record(`message ${index}`));
    const kept = ring.last().map((entry) => Number(entry.message.split(' ')[1]));
    expect(kept.length).toBeGreaterThan(10);
    expect(kept[kept.length - 1]).toBe(999);
    kept.forEach((value, index) => index > 0 && expect(value).toBe(kept[index - 1]! + 1));
    expect(ring.size).toBe(kept.length);
  });

  it('RamRing is found again at the same address with its records', () => {
    const ram = Ram.allocate(1024 * 1024);
    const ring = RamRing.format<ReturnType<typeof record>>(ram, ram.base + 8192, 8192);
    for (let index = 0; index < 300; index++) ring.append(record(`m${index}`));
    const again = RamRing.attach<ReturnType<typeof record>>(ram, ram.base + 8192);
    expect(again?.last()).toEqual(ring.last());
    expect(RamRing.attach<ReturnType<typeof record>>(ram, ram.base)).toBeUndefined();
  });

  it('RamRing stays consistent for any sequence of record sizes', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 300 }), (sizes) => {
      const ram = Ram.allocate(64 * 1024);
      const ring = RamRing.format<ReturnType<typeof record>>(ram, ram.base, 4096);
      sizes.forEach((size, index) => ring.append(record('x'.repeat(size), index)));
      const times = ring.last().map((entry) => entry.time);
      if (sizes.length > 0) expect(times[times.length - 1]).toBe(sizes.length - 1);
      times.forEach((time, index) => index > 0 && expect(time).toBe(times[index - 1]! + 1));
      expect(times.length).toBe(ring.size);
    }));
  });
});
