// The process and scheduling interfaces' declarations: every error each lists is an errno name with a class
// of its own, and its messages are what the typed schema says.

import { describe, expect, it } from 'vitest';
import type { InterfaceDefinition } from '../define.js';
import { errorFromWire } from '../errors.js';
import { ERRNO_NAMES, errnoErrors } from './errno.js';
import { processInterface } from './process.js';
import { schedulingInterface } from './scheduling.js';

describe('process interface', () => {
  it('lists only errno names, each re-created as its own class', () => {
    const definition: InterfaceDefinition = processInterface;
    const codes = [...new Set(Object.values(definition.ops).flatMap((op) => op.errors ?? []))];
    expect(codes.length).toBeGreaterThan(5);
    for (const code of codes) {
      expect(ERRNO_NAMES).toContain(code);
      expect(errorFromWire({ code, message: 'x' })).toBeInstanceOf(errnoErrors[code as keyof typeof errnoErrors]);
    }
  });

  it('numbers its ops uniquely and keeps the kernel-only ops apart from the callers\' ones', () => {
    const ids = Object.values(processInterface.ops).map((op) => op.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.entries(processInterface.ops).filter(([, op]) => op.id >= 10).map(([name]) => name)).toEqual(['systemCall', 'exited']);
  });
});

describe('scheduling interface', () => {
  it('lists only errno names and numbers its ops uniquely', () => {
    const definition: InterfaceDefinition = schedulingInterface;
    const ids = Object.values(definition.ops).map((op) => op.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const code of new Set(Object.values(definition.ops).flatMap((op) => op.errors ?? []))) expect(ERRNO_NAMES).toContain(code);
  });
});
