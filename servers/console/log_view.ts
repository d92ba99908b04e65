// The console's view of the log: it follows the log service (warnings and worse, or every
// level with the `verbose` boot argument) and prints each record above the main terminal's
// prompt in a short form. A follow lives in the log server's generation that took it, so
// after the log server restarts the console follows again (the PEER_RESTARTED path), from
// the last record it showed: what was logged in between (the crash itself) is shown too.
//
//   [    1.04] warn  kernel: log: generation 1 crashed: killed on request; restarting in 0 ms
//   [   12.30] error virtio-blk#2: request failed sector=8 error="device reported 1"

import { logInterface } from '../../ipc/interfaces/log.js';
import type { ClientOf } from '../../ipc/define.js';
import type { ServerContext } from '../../microkernel/userlib/server.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LEVEL_WARN = 40;
/** The keys every record has; the rest are its own fields. */
const RECORD_KEYS = new Set(['level', 'time', 'uptimeMs', 'server', 'generation', 'msg']);
/** A field value longer than this is cut (the whole record is in dmesg and baton.log). */
const MAXIMUM_VALUE_CHARACTERS = 60;

/** Follows the log service for as long as the console runs, printing records with `print`. */
export async function followLog(context: ServerContext, log: ClientOf<typeof logInterface>, print: (line: string) => void): Promise<void> {
  const minimumLevel = context.system.verbose ? 0 : LEVEL_WARN;
  /** The sequence number of the newest record shown (undefined until the first follow). */
  let seen: number | undefined;
  context.onNotification(logInterface, 'record', (args) => {
    if (seen !== undefined && args.sequence <= seen) return; // a replay of what this console already showed
    seen = args.sequence;
    print(briefRecord(args.record));
  });
  const follow = async () => {
    const { sequence } = await log.follow(seen === undefined ? { minimumLevel } : { minimumLevel, after: seen });
    seen = Math.max(seen ?? 0, sequence);
  };
  context.onPeerRestarted('log', (generation) => {
    follow().catch((error: unknown) =>
      context.log.warn(`console: could not follow log generation ${generation} again: ${(error as Error).message}`));
  });
  await follow();
}

/** A record in the console's short form: uptime in seconds, level, who (with the generation after a restart), message, fields as key=value. */
export function briefRecord(record: Record<string, unknown>): string {
  const uptime = typeof record.uptimeMs === 'number' ? record.uptimeMs / 1000 : 0;
  const level = typeof record.level === 'number' ? LEVEL_NAMES[record.level] ?? `level${record.level}` : '?';
  const generation = typeof record.generation === 'number' && record.generation > 1 ? `#${record.generation}` : '';
  const fields = Object.entries(record)
    .filter(([key]) => !RECORD_KEYS.has(key))
    .map(([key, value]) => ` ${key}=${briefValue(value)}`)
    .join('');
  return `[${uptime.toFixed(2).padStart(8)}] ${level.padEnd(5)} ${String(record.server)}${generation}: ${String(record.msg ?? '')}${fields}`;
}

function briefValue(value: unknown): string {
  // An error (pino's serialised form, or ours on the wire) is its message.
  if (value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
    return briefValue((value as { message: string }).message);
  }
  let text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (text.length > MAXIMUM_VALUE_CHARACTERS) text = text.slice(0, MAXIMUM_VALUE_CHARACTERS - 1) + '…';
  return typeof value === 'string' && /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}
