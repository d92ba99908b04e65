import { describe, it, expect } from 'vitest';
import { LogRing, formatRecord } from './log_ring.js';

const record = (message: string, time = 1500) => ({ time, level: 40, server: 'console', generation: 2, message });

describe('LogRing', () => {
  it('LogRing keeps the last records oldest first and drops the oldest when full', () => {
    const ring = new LogRing(3);
    for (const message of ['a', 'b', 'c', 'd', 'e']) ring.append(record(message));
    expect(ring.last().map((entry) => entry.message)).toEqual(['c', 'd', 'e']);
    expect(ring.last(2).map((entry) => entry.message)).toEqual(['d', 'e']);
    expect(ring.dropped).toBe(2);
  });

  it('formatRecord shows time, level, server and generation', () => {
    expect(formatRecord(record('hello'))).toBe('[    1.500000] warn  console#2: hello');
    expect(formatRecord({ ...record('x'), fields: '{"a":1}' })).toBe('[    1.500000] warn  console#2: x {"a":1}');
  });
});
