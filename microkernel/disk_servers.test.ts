import { describe, expect, it } from 'vitest';
import { matches } from './disk_servers.js';
import { ManifestError, validateProgram } from './manifest.js';

const ext2 = { offset: 1080, magic: '53ef', holds: 'ext2' };

describe('matches', () => {
  it('is true only when the magic bytes sit at the offset', () => {
    const head = new Uint8Array(1536);
    expect(matches(head, ext2)).toBe(false);
    head[1080] = 0x53;
    head[1081] = 0xef;
    expect(matches(head, ext2)).toBe(true);
    expect(matches(head, { ...ext2, offset: 1079 })).toBe(false);
  });

  it('is false when the disk is shorter than what it looks at', () => {
    expect(matches(new Uint8Array(1024), ext2)).toBe(false);
  });
});

describe('validateProgram diskMatch', () => {
  it('refuses a driver started per disk, naming the field', () => {
    const driver = { name: 'blk', kind: 'driver', entry: 'file:///x.js', match: { compatible: ['virtio,mmio'] }, diskMatch: ext2,
      serves: [], talksTo: [], restart: { policy: 'always', maximumQuickFailures: 5, minimumRunMs: 5000, backoffInitialMs: 100, backoffCapMs: 5000 }, heartbeatMs: 500, config: {}, version: '0.0.0' };
    expect(() => validateProgram(driver)).toThrow(ManifestError);
    expect(() => validateProgram(driver)).toThrow(/diskMatch/);
  });
});
