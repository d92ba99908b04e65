// pino, the host's structured logger, as a writer of JSON lines to a function.
//
// pino is a Node library (its types bring all of Node's), so it is reached through here:
// the layers that run on worker threads see only the `Logger` below, never pino's or
// Node's types. Every line is pino's own format (numeric `level`, `time`, `msg`, the
// merging object's properties); what becomes of the line is the caller's `write`.

import pino from 'pino';

/** One level's logging call, as pino takes it: a message, or properties and a message. */
export interface LogFunction {
  (message: string): void;
  (fields: object, message?: string): void;
}

/** A logger: one call per pino level, and the level below which calls are dropped. */
export interface Logger {
  /** pino's level name: "trace", "debug", "info", "warn", "error", "fatal" or "silent". */
  level: string;
  trace: LogFunction;
  debug: LogFunction;
  info: LogFunction;
  warn: LogFunction;
  error: LogFunction;
  fatal: LogFunction;
}

export interface JsonLoggerOptions {
  /** The lowest level logged (pino's names; "silent" logs nothing). */
  readonly level: string;
  /** The `"time"` property of each line, as pino's `timestamp` option gives it (`,"time":…`); pino's epoch milliseconds when absent. */
  readonly timestamp?: () => string;
}

/** A logger that hands each record to `write` as one pino JSON line (no trailing newline needed by the caller). */
export function createJsonLogger(options: JsonLoggerOptions, write: (line: string) => void): Logger {
  return pino({ level: options.level, base: undefined, ...(options.timestamp ? { timestamp: options.timestamp } : {}) }, { write });
}
