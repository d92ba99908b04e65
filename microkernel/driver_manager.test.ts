import { describe, expect, it } from 'vitest';
import { compareVersions } from './driver_manager.js';

describe('compareVersions', () => {
  it('compareVersions orders dotted versions numerically, part by part', () => {
    expect(compareVersions('1.0.10', '1.0.9')).toBe(1);
    expect(compareVersions('0.2.0', '0.10.0')).toBe(-1);
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
    expect(compareVersions('2.0.0', '1.99.99')).toBe(1);
    expect(compareVersions('1.0.0-beta', '1.0.0-alpha')).toBe(1);
  });
});
