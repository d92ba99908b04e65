import { describe, expect, it } from 'vitest';
import { Clock } from '../../hal/clock.js';
import { createLogger, type LogRecordData } from './logger.js';

const flushed = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('createLogger', () => {
  it('createLogger turns pino records into log records for the sink, with level, server and generation', async () => {
    const { logger, setSink } = createLogger('disk', 3, new Clock(), 'info');
    const batches: LogRecordData[][] = [];
    setSink((records) => void batches.push(records));
    logger.warn({ sector: 7 }, 'slow request');
    logger.debug('not at this level');
    await flushed();
    expect(batches.flat()).toEqual([expect.objectContaining({ level: 40, server: 'disk', generation: 3, msg: 'slow request', fields: { sector: 7 } })]);
  });

  it('createLogger keeps records until there is a sink', async () => {
    const { logger, setSink } = createLogger('log', 1, new Clock(), 'info');
    logger.info('early');
    await flushed();
    const seen: string[] = [];
    setSink((records) => void seen.push(...records.map((record) => record.msg)));
    expect(seen).toEqual(['early']);
  });

  it('createLogger splits large bursts into batches that fit an IPC frame, and survives a failing sink', async () => {
    const { logger, setSink } = createLogger('chatty', 1, new Clock(), 'info');
    const sizes: number[] = [];
    let calls = 0;
    setSink((records) => {
      calls++;
      sizes.push(records.reduce((total, record) => total + record.msg.length, 0));
      if (calls === 1) throw new Error('log service gone');
    });
    for (let index = 0; index < 100; index++) logger.info('x'.repeat(4000));
    await flushed();
    expect(sizes.reduce((total, size) => total + size, 0)).toBe(400_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(24 * 1024);
  });
});
