// The log service: every server's pino records, kept in a ring for dmesg and written to the
// log device in pino's own line format.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

/** One pino record as it travels: pino's level, time and msg, who logged it, and the record's other properties. */
export const LogRecord = Type.Object({
  time: Type.Number({ description: 'milliseconds since board power-on (the log service adds the wall-clock time)' }),
  level: Type.Integer({ minimum: 0, maximum: 100, description: 'pino level: 10 trace .. 60 fatal' }),
  server: Type.String({ maxLength: 128 }),
  generation: Type.Integer({ minimum: 0 }),
  msg: Type.String({ maxLength: 8192 }),
  fields: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), {
    maxProperties: 64,
    description: "the record's other properties (pino's merging object), written as properties of the line",
  })),
});

/**
 * A record as the log service keeps it and writes it, one JSON line each: pino's line format
 * (numeric `level`, `time` in epoch milliseconds, `msg`) plus `uptimeMs` (since board
 * power-on), `server` and `generation`, and the record's fields as properties of their own.
 * A field named like one of these keys is kept with a leading underscore (`_server`).
 */
export const StoredLogRecord = Type.Object({
  level: Type.Integer(),
  time: Type.Number({ description: 'wall-clock milliseconds since the Unix epoch, as pino writes it' }),
  uptimeMs: Type.Number({ description: 'milliseconds since board power-on, as dmesg shows it' }),
  server: Type.String(),
  generation: Type.Integer(),
  msg: Type.String(),
}, { additionalProperties: true });

export const logInterface = defineInterface({
  name: 'log',
  ops: {
    write: { id: 1, kind: 'send', args: Type.Object({ records: Type.Array(LogRecord, { maxItems: 256 }) }),
      doc: 'Appends records to the ring (one-way: logging never blocks on a reply).' },
    read: { id: 2, kind: 'call', idempotent: true,
      args: Type.Object({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })) }),
      reply: Type.Object({ lines: Type.Array(Type.String()), omitted: Type.Optional(Type.Integer({ minimum: 0 })) }),
      doc: 'The last COUNT records (all when omitted), formatted one per line — as many of the newest as fit one reply (about 48 KiB); omitted counts the older ones left out.' },
    follow: { id: 3, kind: 'call', idempotent: true,
      args: Type.Object({
        minimumLevel: Type.Integer({ minimum: 0, maximum: 100 }),
        after: Type.Optional(Type.Integer({ minimum: 0, description: 'also send the records after this sequence number that the ring still holds (at most 1000)' })),
      }),
      reply: Type.Object({ sequence: Type.Integer({ minimum: 0, description: 'the sequence number of the newest record so far' }) }),
      doc: 'From now on, records at or above minimumLevel are sent to the caller as `record` notifications, until the log server restarts: then follow again with `after` set to the last sequence seen, and nothing logged in between is missed.' },
  },
  notifications: {
    record: { id: 100, args: Type.Object({
      record: StoredLogRecord,
      sequence: Type.Integer({ minimum: 1, description: 'records appended since the ring was made, this one included (kept across log server restarts)' }),
    }) },
  },
});
