// The log server: collects every server's pino records into a ring for `dmesg`, writes
// each as a JSON line in pino's own format to the log device (a console port backed by the
// run directory's log file, so pino-pretty and jq read it), and forwards records at or
// above each follower's level as notifications.
//
// The ring lives in guest RAM preserved through KHO (ram_ring.ts), as pstore keeps a
// console log: a restarted log server finds it again in this boot's KHO subtree "log",
// and after a kexec it restores it from the incoming handover, so dmesg shows the
// previous boot's log too. Without a KHO server it falls back to a private ring.
//
// It must never block on its own logging, so its own records go straight into the ring.

import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import type { CallContext } from '../../ipc/define.js';
import { defineServer, type ServerContext } from '../../microkernel/userlib/server.js';
import type { LogRecordData } from '../../microkernel/userlib/logger.js';
import { LogRing, formatRecord, fromRing, storedRecord, type StoredRecord } from './log_ring.js';
import { MessageTooLargeError } from '../../ipc/errors.js';
import { RamRing } from '../../microkernel/userlib/ram_ring.js';
import { openPreservedBlock } from '../../microkernel/userlib/preserved_block.js';
import { khoInterface } from '../../ipc/interfaces/kho.js';
import { Type, type Static } from '../../ipc/typebox.js';

/** The log server's config (its manifest.json; `log.capacity=N` on the command line). */
const logConfig = Type.Object({
  /** Records kept when the ring cannot be preserved (no KHO server) and lives in the server. */
  capacity: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10000 }),
  /** Size of the ring kept in RAM preserved through KHO. */
  preservedBytes: Type.Integer({ minimum: 65536, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
  /** The chardev instance whose host side is run/baton.log (none: no file copy). */
  logDevice: Type.Optional(Type.String({ minLength: 1 })),
}, { additionalProperties: false });
type LogContext = ServerContext<Static<typeof logConfig>>;

// The log server's own records, before init has built the ring.
let append: ((records: LogRecordData[]) => void) | undefined;
const early: LogRecordData[] = [];

export default defineServer({
  config: logConfig,

  localLogSink(records) {
    if (append) append(records);
    else early.push(...records);
  },

  async init(context) {
    const ring = await openRing(context);
    const followers = new Map<number, number>();
    const logDevice = context.config.logDevice === undefined ? undefined : context.connect(chardevInterface, context.config.logDevice);
    const encoder = new TextEncoder();
    let fileBatch: string[] = [];
    let flushing = false;

    const flushFile = async () => {
      if (!logDevice || flushing) return;
      flushing = true;
      try {
        while (fileBatch.length > 0) {
          const bytes = encoder.encode(fileBatch.join(''));
          fileBatch = [];
          for (let offset = 0; offset < bytes.length; offset += 32768) {
            await logDevice.write({ data: bytes.subarray(offset, offset + 32768) });
          }
        }
      } catch {
        // The log device restarting loses at most this batch of the file copy; the ring keeps it.
      } finally {
        flushing = false;
      }
    };

    const wallClockMs = (sinceBootMs: number) => context.clock.wallClockMs(sinceBootMs);
    // Records ever appended to this ring (it outlives restarts): the sequence number of the newest.
    const newestSequence = () => ring.dropped + ring.size;
    const notifyFollower = (channel: number, record: StoredRecord, sequence: number) => {
      try {
        context.notify(channel, logInterface, 'record', { record, sequence });
      } catch (error) {
        // A record too large for this follower's ring is skipped for it; any other refusal ends the follow.
        if (!(error instanceof MessageTooLargeError)) followers.delete(channel);
      }
    };
    append = (records) => {
      for (const record of records) {
        const stored = storedRecord(record, wallClockMs);
        ring.append(stored);
        const sequence = newestSequence();
        for (const [channel, minimumLevel] of followers) {
          if (stored.level >= minimumLevel) notifyFollower(channel, stored, sequence);
        }
        if (logDevice) fileBatch.push(JSON.stringify(stored) + '\n');
      }
      if (logDevice) void flushFile();
    };
    append(early.splice(0));
    const appendRecords = append;

    context.serve(logInterface, {
      write: ({ records }) => appendRecords(records),
      read: ({ count }) => newestThatFit(ring.last(count).map((raw) => formatRecord(fromRing(raw)))),
      follow: ({ minimumLevel, after }, call: CallContext) => {
        const sequence = newestSequence();
        // What a follower of an earlier generation has not seen yet, before anything new (notifications keep their order).
        if (after !== undefined && after < sequence) {
          const missed = ring.last(Math.min(sequence - after, MAXIMUM_REPLAYED));
          missed.forEach((raw, index) => {
            const record = fromRing(raw);
            if (record.level >= minimumLevel) notifyFollower(call.channelId, record, sequence - missed.length + 1 + index);
          });
        }
        followers.set(call.channelId, minimumLevel);
        return { sequence };
      },
    });
    context.log.info({ capacity: ring.capacity, records: ring.size }, 'log ring ready');
  },
});

type Ring = Pick<LogRing, 'append' | 'last' | 'size' | 'capacity' | 'dropped'>;
/** Most records a follow with `after` sends of what the follower missed. */
const MAXIMUM_REPLAYED = 1000;
const SUBTREE = 'log';

/** The preserved ring: this boot's (after a restart), the previous kernel's (after kexec), or a new one. */
async function openRing(context: LogContext): Promise<Ring> {
  const bytes = context.config.preservedBytes;
  try {
    const block = await openPreservedBlock(context.connect(khoInterface), SUBTREE, bytes, context.start);
    const found = block.found === 'new' ? undefined : RamRing.attach<StoredRecord>(context.ram, block.pa);
    const ring = found ?? RamRing.format<StoredRecord>(context.ram, block.pa, bytes);
    // Every thread maps RAM: a ring written over is formatted again, and the log says so (baton.log keeps what it held).
    ring.onOverwritten = (what) => queueMicrotask(() => context.log.error(`log ring: ${what}; the records before are only in baton.log`));
    return ring;
  } catch (error) {
    context.log.warn(`log ring is not preserved (${(error as Error).message}); keeping it in the server only`);
    return new LogRing(context.config.capacity);
  }
}

/** A reply must fit the channel's ring: the newest lines up to about 48 KiB, and how many older ones were left out. */
const READ_REPLY_BYTES = 48 * 1024;

function newestThatFit(lines: string[]): { lines: string[]; omitted: number } {
  let bytes = 0;
  let first = lines.length;
  while (first > 0 && bytes + lines[first - 1]!.length * 3 + 8 <= READ_REPLY_BYTES) {
    first--;
    bytes += lines[first]!.length * 3 + 8; // UTF-8 worst case per character, plus framing
  }
  return { lines: lines.slice(first), omitted: first };
}
