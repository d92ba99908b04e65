// The log server: collects every server's pino records into a ring for `dmesg`, writes
// each as a JSON line to the log device (a console port backed by the run directory's
// log file), and forwards records at or above each follower's level as notifications.
//
// It must never block on its own logging, so its own records go straight into the ring.

import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import type { CallContext } from '../../ipc/define.js';
import { defineServer, type ServerContext } from '../../microkernel/userlib/server.js';
import type { LogRecordData } from '../../microkernel/userlib/logger.js';
import { LogRing, formatRecord } from './log_ring.js';

// The log server's own records, before init has built the ring.
let append: ((records: LogRecordData[]) => void) | undefined;
const early: LogRecordData[] = [];

export default defineServer({
  localLogSink(records) {
    if (append) append(records);
    else early.push(...records);
  },

  init(context: ServerContext) {
    const ring = new LogRing(Number(context.config.capacity ?? 10000));
    const followers = new Map<number, number>();
    const logDevice = typeof context.config.logDevice === 'string' ? context.connect(chardevInterface, context.config.logDevice) : undefined;
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

    append = (records) => {
      for (const record of records) {
        ring.append(record);
        const line = formatRecord(record);
        for (const [channel, minimumLevel] of followers) {
          if (record.level >= minimumLevel) {
            try {
              context.notify(channel, logInterface, 'record', { line, level: record.level });
            } catch {
              followers.delete(channel);
            }
          }
        }
        if (logDevice) fileBatch.push(JSON.stringify(record) + '\n');
      }
      if (logDevice) void flushFile();
    };
    append(early.splice(0));
    const appendRecords = append;

    context.serve(logInterface, {
      write: ({ records }) => appendRecords(records),
      read: ({ count }) => ({ lines: ring.last(count).map(formatRecord) }),
      follow: ({ minimumLevel }, call: CallContext) => {
        followers.set(call.channelId, minimumLevel);
        return {};
      },
    });
    context.log.info({ capacity: ring.capacity }, 'log ring ready');
  },
});
