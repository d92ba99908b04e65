// The kernel's log buffer: records for the log service that it cannot take now, kept until
// it can, as Linux's printk buffer holds messages until a console or syslog reads them.
//
// It holds the kernel's own records, those a thread hands the kernel (`log` message) while
// its channel to the log server is not open, and those still unread in the request rings of
// a log server that died. While a generation of the log server runs they go to it at once;
// while none does they wait here (the newest `capacity`, counting what was dropped) and go
// to the next generation as soon as it is running, oldest first.

import type { LogRecordData } from './userlib/logger.js';
import { logBatches, recordSize } from './userlib/logger.js';
import { LogRecord, logInterface } from '../ipc/interfaces/log.js';
import { TypeCompiler } from '../ipc/typebox.js';
import { compileInterface } from '../ipc/define.js';
import { decodeFrame, FRAME_SEND, parseRequest } from '../ipc/wire.js';

export const LOG_BUFFER_RECORDS = 10_000;
const checkRecord = TypeCompiler.Compile(LogRecord);
const writeOperation = compileInterface(logInterface).operationsByName.get('write')!;

export interface LogBufferOptions {
  /** Whether a generation of the log server is running now. */
  running(): boolean;
  /** Sends one batch to it (log.write); throwing counts the batch as dropped. */
  send(records: LogRecordData[]): void;
  /** The record that says `dropped` records were lost because the buffer was full. */
  note(dropped: number): LogRecordData;
  readonly capacity?: number;
}

export class LogBuffer {
  readonly capacity: number;
  private readonly options: LogBufferOptions;
  private kept: Array<{ record: LogRecordData; size: number }> = [];
  private scheduled = false;
  /** Records dropped (buffer full, or refused) and not yet reported to the log service. */
  dropped = 0;

  constructor(options: LogBufferOptions) {
    this.options = options;
    this.capacity = options.capacity ?? LOG_BUFFER_RECORDS;
  }

  get size(): number {
    return this.kept.length;
  }

  /**
   * Keeps `records` (anything that is not a LogRecord is skipped; `from` overrides who logged
   * them, for records a thread handed over) and sends them on the next microtask if the log
   * server runs. The oldest go when the buffer is full.
   */
  keep(records: readonly unknown[], from?: { readonly server: string; readonly generation: number }): void {
    for (const candidate of records) {
      if (!checkRecord.Check(candidate)) {
        this.dropped++;
        continue;
      }
      const record = from ? { ...candidate, server: from.server, generation: from.generation } : candidate;
      this.kept.push({ record, size: recordSize(record) });
    }
    const excess = this.kept.length - this.capacity;
    if (excess > 0) {
      this.kept.splice(0, excess);
      this.dropped += excess;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Sends everything kept to the log server, if one runs (call when a generation becomes running). */
  flush(): void {
    if (!this.options.running() || (this.kept.length === 0 && this.dropped === 0)) return;
    if (this.dropped > 0) {
      const record = this.options.note(this.dropped);
      this.kept.unshift({ record, size: recordSize(record) });
      this.dropped = 0;
    }
    const batches = logBatches(this.kept);
    this.kept = [];
    for (const batch of batches) {
      try {
        this.options.send(batch);
      } catch {
        this.dropped += batch.length;
      }
    }
  }
}

/** The log records in log.write SEND frames among `frames` (a dead log server's unread requests). */
export function recordsInFrames(frames: readonly Uint8Array[]): unknown[] {
  const records: unknown[] = [];
  for (const frame of frames) {
    const decoded = decodeFrame(frame);
    if ('error' in decoded) continue;
    const request = parseRequest(decoded.value);
    if (request.kind !== FRAME_SEND || request.opId !== writeOperation.id) continue;
    const args = request.args as { records?: unknown } | undefined;
    if (Array.isArray(args?.records)) records.push(...(args.records as unknown[]));
  }
  return records;
}
