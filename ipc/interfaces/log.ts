// The log service: every server's pino records, kept in a ring for dmesg.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

export const LogRecord = Type.Object({
  time: Type.Number({ description: 'milliseconds since board power-on' }),
  level: Type.Integer({ minimum: 0, maximum: 100, description: 'pino level: 10 trace .. 60 fatal' }),
  server: Type.String({ maxLength: 128 }),
  generation: Type.Integer({ minimum: 0 }),
  message: Type.String({ maxLength: 8192 }),
  fields: Type.Optional(Type.String({ maxLength: 16384, description: 'other record fields as JSON' })),
});

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
      args: Type.Object({ minimumLevel: Type.Integer({ minimum: 0, maximum: 100 }) }),
      reply: Type.Object({}),
      doc: 'From now on, records at or above minimumLevel are sent to the caller as `record` notifications.' },
  },
  notifications: {
    record: { id: 100, args: Type.Object({ line: Type.String(), level: Type.Integer() }) },
  },
});
