import { describe, it, expect } from 'vitest';
import { LogRing, formatRecord, fromRing, storedRecord, type StoredRecord } from './log_ring.js';

const POWER_ON = Date.UTC(2026, 0, 1);
const stored = (msg: string, fields?: Record<string, unknown>): StoredRecord =>
  storedRecord({ time: 1500, level: 40, server: 'console', generation: 2, msg, ...(fields ? { fields } : {}) }, (since) => POWER_ON + since);

describe('LogRing', () => {
  it('LogRing keeps the last records oldest first and drops the oldest when full', () => {
    const ring = new LogRing(3);
    for (const msg of ['a', 'b', 'c', 'd', 'e']) ring.append(stored(msg));
    expect(ring.last().map((entry) => entry.msg)).toEqual(['c', 'd', 'e']);
    expect(ring.last(2).map((entry) => entry.msg)).toEqual(['d', 'e']);
    expect(ring.dropped).toBe(2);
  });

  it('storedRecord is pino\'s line: numeric level, epoch time, msg, fields as properties, plus uptimeMs, server and generation', () => {
    expect(JSON.parse(JSON.stringify(stored('hello', { sector: 7, error: { code: 'IO' } })))).toEqual({
      level: 40, time: POWER_ON + 1500, uptimeMs: 1500, server: 'console', generation: 2, msg: 'hello', sector: 7, error: { code: 'IO' },
    });
  });

  it('storedRecord keeps a field named like a record key under a leading underscore, and turns 64-bit integers into text', () => {
    const record = stored('x', { server: 'disk', _server: 'kept', msg: 'field', big: 2n ** 63n }) as Record<string, unknown>;
    expect(record.server).toBe('console');
    expect(record.msg).toBe('x');
    expect(record._server).toBe('kept');
    expect(record.__server).toBe('disk');
    expect(record._msg).toBe('field');
    expect(record.big).toBe('9223372036854775808');
  });

  it('formatRecord shows time since power-on, level, server and generation, then the fields as JSON', () => {
    expect(formatRecord(stored('hello'))).toBe('[    1.500000] warn  console#2: hello');
    expect(formatRecord(stored('x', { a: 1 }))).toBe('[    1.500000] warn  console#2: x {"a":1}');
  });

  it('fromRing reads records an older build kept (message, fields as JSON text) in the same shape', () => {
    const old = { time: 1500, level: 40, server: 'console', generation: 2, message: 'old', fields: '{"a":1}' };
    expect(formatRecord(fromRing(old))).toBe('[    1.500000] warn  console#2: old {"a":1}');
  });
});
