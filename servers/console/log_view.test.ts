import { describe, expect, it } from 'vitest';
import { briefRecord } from './log_view.js';

const record = (fields: Record<string, unknown> = {}, generation = 1) =>
  ({ level: 40, time: 1796317444786, uptimeMs: 1037.76, server: 'virtio-blk', generation, msg: 'request failed', ...fields });

describe('briefRecord', () => {
  it('briefRecord shows uptime, level, who and the message; the generation only after a restart', () => {
    expect(briefRecord(record())).toBe('[    1.04] warn  virtio-blk: request failed');
    expect(briefRecord(record({}, 3))).toBe('[    1.04] warn  virtio-blk#3: request failed');
  });

  it('briefRecord writes fields as key=value, quoting text with spaces, errors as their message, long values cut', () => {
    const line = briefRecord(record({ sector: 8, disk: 'virtio-blk', reason: 'device said no', error: { type: 'IpcError', message: 'timed out', stack: 'at …' }, data: 'x'.repeat(100) }));
    expect(line).toBe(`[    1.04] warn  virtio-blk: request failed sector=8 disk=virtio-blk reason="device said no" error="timed out" data=${'x'.repeat(59)}…`);
  });
});
