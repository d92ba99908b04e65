// Server logging: pino, with records forwarded to the log server instead of a file.
//
// pino serialises each record to a JSON line and hands it to our destination, which
// turns it back into a structured LogRecord (pino's level, time and msg, the record's other
// properties as `fields`) and batches it for the log service's one-way `write` op. Until
// the log service is reachable, records wait in the batch.

import type { Clock } from '../../hal/clock.js';
import { createJsonLogger, type Logger } from '../../hal/json_logger.js';

export type { Logger, LogFunction } from '../../hal/json_logger.js';

/** A record for the log service (ipc/interfaces/log.ts LogRecord): `time` is milliseconds since power-on. */
export interface LogRecordData {
  time: number;
  level: number;
  server: string;
  generation: number;
  msg: string;
  fields?: Record<string, unknown>;
}

export type RecordSink = (records: LogRecordData[]) => void;

const MAXIMUM_PENDING = 4096;
const BATCH_BYTES = 24 * 1024;
/** Fields whose JSON is longer than this are replaced by a note saying so (a record must fit an IPC frame). */
const MAXIMUM_FIELDS_CHARACTERS = 16 * 1024;
/** Most properties one record carries (the interface's limit). */
const MAXIMUM_FIELDS = 64;

/** A pino logger whose records go to `sink` in batches (flushed on the next microtask). */
export function createLogger(name: string, generation: number, clock: Clock, level: string): { logger: Logger; setSink(sink: RecordSink): void } {
  let sink: RecordSink | undefined;
  /** Records not yet handed to the sink, each with the length of its pino line (a bound on its size). */
  let pending: Array<{ record: LogRecordData; size: number }> = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (!sink || pending.length === 0) return;
    const batch = pending;
    pending = [];
    for (const records of logBatches(batch)) {
      try {
        sink(records);
      } catch {
        // Logging never throws into the program that logs: the sink refused these records.
      }
    }
  };

  const destination = {
    write(line: string): void {
      const record = toRecord(line, name, generation);
      if (pending.length >= MAXIMUM_PENDING) pending.shift();
      pending.push({ record, size: Math.min(line.length, record.msg.length + MAXIMUM_FIELDS_CHARACTERS + 1024) });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
  };

  const logger = createJsonLogger({ level, timestamp: () => `,"time":${clock.nowMs().toFixed(3)}` }, destination.write);
  return {
    logger,
    setSink(next: RecordSink) {
      sink = next;
      flush();
    },
  };
}

/**
 * Splits records (each with a bound on its encoded size) into batches that stay well inside
 * one IPC frame of a 64 KiB ring: at most 256 records and about 24 KiB of text each.
 */
export function logBatches(entries: ReadonlyArray<{ record: LogRecordData; size: number }>): LogRecordData[][] {
  const batches: LogRecordData[][] = [];
  let start = 0;
  let bytes = 0;
  for (let index = 0; index <= entries.length; index++) {
    const size = (entries[index]?.size ?? 0) + 64;
    if (index === entries.length || index - start === 256 || (bytes + size > BATCH_BYTES && index > start)) {
      if (index > start) batches.push(entries.slice(start, index).map((entry) => entry.record));
      start = index;
      bytes = 0;
    }
    bytes += size;
  }
  return batches;
}

/** A bound on the encoded size of a record that did not come from a pino line (JSON of its text and fields). */
export function recordSize(record: LogRecordData): number {
  return record.msg.length + record.server.length + (record.fields ? JSON.stringify(record.fields, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)).length : 0);
}

function toRecord(line: string, server: string, generation: number): LogRecordData {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  const { time, level, msg, ...rest } = parsed;
  const record: LogRecordData = {
    time: typeof time === 'number' ? time : 0,
    level: typeof level === 'number' ? level : 30,
    server,
    generation,
    msg: typeof msg === 'string' ? msg.slice(0, 8192) : '',
  };
  const keys = Object.keys(rest);
  if (keys.length === 0) return record;
  const characters = JSON.stringify(rest).length;
  if (characters > MAXIMUM_FIELDS_CHARACTERS || keys.length > MAXIMUM_FIELDS || keys.some((key) => key.length > 128)) {
    record.fields = { fieldsOmitted: `${keys.length} fields, ${characters} characters of JSON: more than a log record carries (${MAXIMUM_FIELDS} fields, names up to 128 characters, ${MAXIMUM_FIELDS_CHARACTERS} characters)` };
  } else record.fields = rest;
  return record;
}
