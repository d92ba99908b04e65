// The dtc wrapper's contract for checks that need dtc: run them, or say that they were skipped.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { whenDtc } from './dtc.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('whenDtc', () => {
  it('whenDtc runs the check when dtc is there', () => {
    const check = vi.fn();
    expect(whenDtc('a check that runs', check, true)).toBe(true);
    expect(check).toHaveBeenCalledOnce();
  });

  it('whenDtc without dtc runs nothing and says, once per check, which check it skipped and why', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const check = vi.fn();
    expect(whenDtc('the blob decodes in dtc', check, false)).toBe(false);
    expect(whenDtc('the blob decodes in dtc', check, false)).toBe(false);
    expect(check).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledOnce();
    expect(warn).toHaveBeenCalledWith('skipped, dtc is not installed: the blob decodes in dtc');
  });
});
