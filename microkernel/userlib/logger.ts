// Server logging: pino, with records forwarded to the log server instead of a file.
//
// pino serialises each record to a JSON line and hands it to our destination, which
// turns it back into a structured LogRecord and batches it for the log service's one-way
// `write` op. Until the log service is reachable, records wait in the batch.

import pino, { type Logger } from 'pino';
import type { Clock } from '../../hal/clock.js';

export interface LogRecordData {
  time: number;
  level: number;
  server: string;
  generation: number;
  message: string;
  fields?: string;
}

export type RecordSink = (records: LogRecordData[]) => void;

const MAXIMUM_PENDING = 4096;
const BATCH_BYTES = 24 * 1024;

/** A pino logger whose records go to `sink` in batches (flushed on the next microtask). */
export function createLogger(name: string, generation: number, clock: Clock, level: string): { logger: Logger; setSink(sink: RecordSink): void } {
  let sink: RecordSink | undefined;
  let pending: LogRecordData[] = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (!sink || pending.length === 0) return;
    const batch = pending;
    pending = [];
    // Batches stay well inside one IPC frame (64 KiB rings): at most 256 records and
    // about 24 KiB of text each. Logging never throws into the program that logs.
    let start = 0;
    let bytes = 0;
    for (let index = 0; index <= batch.length; index++) {
      const record = batch[index];
      const size = record ? record.message.length + (record.fields?.length ?? 0) + 64 : 0;
      if (index === batch.length || index - start === 256 || (bytes + size > BATCH_BYTES && index > start)) {
        if (index > start) {
          try {
            sink(batch.slice(start, index));
          } catch {
            // The log service refused or is unreachable: these records are lost, the program goes on.
          }
        }
        start = index;
        bytes = 0;
      }
      bytes += size;
    }
  };

  const destination = {
    write(line: string): void {
      const record = toRecord(line, name, generation);
      if (pending.length >= MAXIMUM_PENDING) pending.shift();
      pending.push(record);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
  };

  const logger = pino(
    {
      level,
      base: undefined,
      messageKey: 'message',
      timestamp: () => `,"time":${clock.nowMs().toFixed(3)}`,
    },
    destination,
  );
  return {
    logger,
    setSink(next: RecordSink) {
      sink = next;
      flush();
    },
  };
}

function toRecord(line: string, server: string, generation: number): LogRecordData {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  const { time, level, message, ...rest } = parsed;
  const record: LogRecordData = {
    time: typeof time === 'number' ? time : 0,
    level: typeof level === 'number' ? level : 30,
    server,
    generation,
    message: typeof message === 'string' ? message.slice(0, 8192) : '',
  };
  if (Object.keys(rest).length > 0) record.fields = JSON.stringify(rest).slice(0, 16384);
  return record;
}
