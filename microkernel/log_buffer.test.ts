import { describe, expect, it } from 'vitest';
import { LogBuffer, recordsInFrames } from './log_buffer.js';
import type { LogRecordData } from './userlib/logger.js';
import { encodeCall, encodeSend } from '../ipc/wire.js';

const record = (msg: string): LogRecordData => ({ time: 1, level: 30, server: 'disk', generation: 1, msg });
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

function buffer(capacity?: number) {
  const sent: LogRecordData[][] = [];
  let running = false;
  const log = new LogBuffer({
    running: () => running,
    send: (records) => void sent.push(records),
    note: (dropped) => ({ ...record(`${dropped} dropped`), server: 'kernel', generation: 0 }),
    ...(capacity ? { capacity } : {}),
  });
  return { log, sent, start: () => (running = true), stop: () => (running = false) };
}

describe('LogBuffer', () => {
  it('LogBuffer keeps records while no log server runs and sends them, oldest first, once one does', async () => {
    const { log, sent, start } = buffer();
    log.keep([record('a'), record('b')]);
    await settled();
    expect(sent).toEqual([]);
    expect(log.size).toBe(2);
    start();
    log.flush();
    expect(sent.flat().map((entry) => entry.msg)).toEqual(['a', 'b']);
    expect(log.size).toBe(0);
    log.keep([record('c')]);
    await settled();
    expect(sent.flat().map((entry) => entry.msg)).toEqual(['a', 'b', 'c']);
  });

  it('LogBuffer keeps the newest when full and says how many were lost, skips what is not a record, and names who handed records over', async () => {
    const { log, sent, start } = buffer(2);
    log.keep([record('a'), record('b'), record('c'), { msg: 'no level' }], { server: 'virtio-rng', generation: 4 });
    start();
    log.flush();
    expect(sent.flat().map((entry) => `${entry.server}#${entry.generation} ${entry.msg}`)).toEqual(['kernel#0 2 dropped', 'virtio-rng#4 b', 'virtio-rng#4 c']);
  });

  it('recordsInFrames finds the records of log.write SEND frames and ignores everything else', () => {
    const frames = [
      new Uint8Array(encodeSend(1, { records: [record('unread')] })),
      new Uint8Array(encodeCall(3, 2, {})),
      new Uint8Array([0xc1]),
    ];
    expect(recordsInFrames(frames)).toEqual([record('unread')]);
  });
});
