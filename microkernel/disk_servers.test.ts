import { describe, expect, it } from 'vitest';
import { matches, mountPoints } from './disk_servers.js';
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

describe('mountPoints', () => {
  const entry = (service: string, disk: string, label: string, readOnly = false) => ({ service, disk, label, readOnly });

  it('mounts each disk at /mnt/LABEL, or /mnt/DISK without a label; read-only disks read-only', () => {
    expect(mountPoints([entry('ext2.0', 'virtio-blk.0', 'data'), entry('ext2.1', 'virtio-blk.1', '', true)], undefined)).toEqual({
      root: undefined,
      mounts: [{ path: '/mnt/data', service: 'ext2.0' }, { path: '/mnt/virtio-blk.1', service: 'ext2.1', readOnly: true }],
    });
  });

  it('gives a label taken already, or one that is no name, the disk\'s name; a slash in a label is no path', () => {
    const plan = mountPoints([entry('ext2.0', 'virtio-blk.0', 'data'), entry('ext2.1', 'virtio-blk.1', 'data'), entry('ext2.2', 'virtio-blk.2', '..'), entry('ext2.3', 'virtio-blk.3', 'a/b')], undefined);
    expect(plan.mounts.map((mount) => mount.path)).toEqual(['/mnt/data', '/mnt/virtio-blk.1', '/mnt/virtio-blk.2', '/mnt/a_b']);
  });

  it('puts the root disk at / instead of under /mnt', () => {
    expect(mountPoints([entry('ext2.0', 'virtio-blk.0', 'data'), entry('ext2.1', 'virtio-blk.1', 'system')], 'virtio-blk.1')).toEqual({
      root: 'ext2.1', mounts: [{ path: '/mnt/data', service: 'ext2.0' }],
    });
  });
});
