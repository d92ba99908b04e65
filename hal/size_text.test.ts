import { describe, expect, it } from 'vitest';
import { formatSize } from './size_text.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe('formatSize', () => {
  it('formatSize shows a size exactly in the largest unit that divides it', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(4 * KiB)).toBe('4 KiB');
    expect(formatSize(1536 * KiB)).toBe('1536 KiB');
    expect(formatSize(4 * MiB - 4 * KiB)).toBe('4092 KiB');
    expect(formatSize(64 * MiB)).toBe('64 MiB');
    expect(formatSize(2 * GiB)).toBe('2 GiB');
  });

  it('formatSize rounds to one decimal once the exact form would take more than four digits', () => {
    expect(formatSize(10 * MiB + 4 * KiB)).toBe('10.0 MiB');
    expect(formatSize(12345)).toBe('12.1 KiB');
    expect(formatSize(1536 * MiB + 4 * KiB)).toBe('1536.0 MiB');
    expect(formatSize(9999)).toBe('9999 B');
  });

  it('formatSize rounded shows the largest unit reached, whole or to one decimal, as df -h does', () => {
    expect(formatSize(5736 * KiB, 'rounded')).toBe('5.6 MiB');
    expect(formatSize(64 * MiB, 'rounded')).toBe('64 MiB');
    expect(formatSize(512, 'rounded')).toBe('512 B');
    expect(formatSize(1536, 'rounded')).toBe('1.5 KiB');
    expect(formatSize(3 * GiB, 'rounded')).toBe('3 GiB');
  });
});
