// The log ring: the last N records of every server, oldest dropped first (as the kernel's
// printk buffer); the record shape it keeps (pino's line format, log.ts StoredLogRecord),
// and the one-line text form of a record for dmesg.

import type { Static } from '../../ipc/typebox.js';
import type { LogRecord, StoredLogRecord } from '../../ipc/interfaces/log.js';

export type StoredRecord = Static<typeof StoredLogRecord>;

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** The keys a stored record sets itself; a field of the same name is kept as `_NAME`. */
const RESERVED = new Set(['level', 'time', 'uptimeMs', 'server', 'generation', 'msg']);

export function levelName(level: number): string {
  return LEVEL_NAMES[level] ?? `level${level}`;
}

/** The stored (and written) form of `record`: `wallClockMs` turns its boot-relative time into epoch milliseconds. */
export function storedRecord(record: Static<typeof LogRecord>, wallClockMs: (sinceBootMs: number) => number): StoredRecord {
  const stored: StoredRecord = {
    level: record.level,
    time: Math.round(wallClockMs(record.time)),
    uptimeMs: record.time,
    server: record.server,
    generation: record.generation,
    msg: record.msg,
  };
  const extra = stored as Record<string, unknown>;
  // Through JSON once: what came over IPC may hold values JSON has no form for.
  const fields = record.fields ? (JSON.parse(safeJson(record.fields)) as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(fields)) {
    let name = key;
    while (RESERVED.has(name) || (name !== key && name in fields)) name = `_${name}`;
    // defineProperty: a field named __proto__ is a field, not the record's prototype.
    Object.defineProperty(extra, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return stored;
}

/**
 * A record read back from a ring, in the stored shape: a ring kept through kexec from an
 * older build holds `{time (since power-on), message, fields: "JSON text"}` records.
 */
export function fromRing(record: object): StoredRecord {
  const raw = record as Record<string, unknown>;
  if (typeof raw.msg === 'string' && typeof raw.uptimeMs === 'number') return raw as StoredRecord;
  const { time, message, fields, ...rest } = raw;
  let parsed: Record<string, unknown> = {};
  try {
    if (typeof fields === 'string') parsed = JSON.parse(fields) as Record<string, unknown>;
  } catch {
    parsed = { fields };
  }
  return { ...parsed, ...rest, level: Number(rest.level ?? 30), time: 0, uptimeMs: Number(time ?? 0), server: String(rest.server ?? '?'),
    generation: Number(rest.generation ?? 0), msg: String(message ?? '') };
}

/** The record's own fields: everything but the keys a stored record sets itself. */
export function fieldsOf(record: StoredRecord): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (!RESERVED.has(key)) fields[key] = value;
  return fields;
}

/** `[    1.234567] warn  console#2: message {"key":1}` */
export function formatRecord(record: StoredRecord): string {
  const seconds = (record.uptimeMs / 1000).toFixed(6).padStart(12, ' ');
  const fields = fieldsOf(record);
  const text = Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
  return `[${seconds}] ${levelName(record.level).padEnd(5)} ${record.server}#${record.generation}: ${record.msg}${text}`;
}

/** JSON text of values that came over IPC (where a 64-bit integer decodes as a BigInt, which JSON.stringify refuses). */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item));
}

export class LogRing {
  readonly capacity: number;
  private readonly records: StoredRecord[] = [];
  private start = 0;
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('log ring capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.records.length;
  }

  append(record: StoredRecord): void {
    if (this.records.length < this.capacity) {
      this.records.push(record);
      return;
    }
    this.records[this.start] = record;
    this.start = (this.start + 1) % this.capacity;
    this.dropped++;
  }

  /** The last `count` records (all when undefined), oldest first. */
  last(count?: number): StoredRecord[] {
    const ordered = [...this.records.slice(this.start), ...this.records.slice(0, this.start)];
    return count === undefined ? ordered : ordered.slice(Math.max(0, ordered.length - count));
  }
}
