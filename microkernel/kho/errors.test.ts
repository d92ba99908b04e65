import { describe, it, expect } from 'vitest';
import { errorFromWire, errorToWire } from '../../ipc/errors.js';
import { KhoError, isKhoError } from './errors.js';

describe('KhoError', () => {
  it('KhoError crosses IPC with its errno code, message and data', () => {
    const wire = errorToWire(new KhoError('EEXIST', 'subtree LUO already exists', { name: 'LUO' }));
    expect(wire).toEqual({ code: 'EEXIST', message: 'EEXIST: subtree LUO already exists', data: { name: 'LUO' } });
    const back = errorFromWire(wire);
    expect(back.code).toBe('EEXIST');
    expect(back.data).toEqual({ name: 'LUO' });
  });

  it('isKhoError matches by code', () => {
    expect(isKhoError(new KhoError('ENOMEM', 'x'), 'ENOMEM')).toBe(true);
    expect(isKhoError(new KhoError('ENOMEM', 'x'), 'EINVAL')).toBe(false);
    expect(isKhoError(new Error('x'))).toBe(false);
  });
});
