// The view server: the live view's source inside the system. It is one more client of the
// kernel and the servers — ps, memory, devices, KHO and the log through their interfaces,
// with only the capabilities its manifest grants — and publishes what they answer as
// panels to the board over the view console (a virtio console whose host side is the
// board's HTTP server, hal/live_view). Buttons pressed on a page come back the same way
// and become kernel calls: restart, kill, stop, start, kexec.
//
//   board ──watch, control──▶ view ──list, usage, devices, describe, follow──▶ kernel, memory, drivers, kho, log
//   board ◀──hello, panels, log, result── view

import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { driversInterface } from '../../ipc/interfaces/drivers.js';
import { kernelInterface } from '../../ipc/interfaces/kernel.js';
import { khoInterface } from '../../ipc/interfaces/kho.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { Type } from '../../ipc/typebox.js';
import type { ControlRequest } from '../../hal/live_view/protocol.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { Collector } from './collector.js';
import { logLine, type LogLine } from './panels.js';
import { ViewLink } from './view_link.js';

const viewConfig = Type.Object({
  /** The chardev instance whose host side is the board's live view. */
  device: Type.String({ minLength: 1, default: 'virtio-console.3' }),
  /** Rounds of asking are at least this far apart: at most 10 updates a second. `ps` is asked when the kernel says the program list changed (kernel.changes) and with the slow round. */
  intervalMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 100 }),
  /** How often every panel (message counts, devices, memory, KHO, traffic) is asked while a page looks. */
  slowIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 1000 }),
}, { additionalProperties: false });

/** Log records are sent in batches, at most this often. */
const LOG_BATCH_MS = 100;
/** A control may take a while (a restart waits for the new generation to be ready). */
const CONTROL_TIMEOUT_MS = 30_000;

let link: ViewLink | undefined;
let collector: Collector | undefined;

export default defineServer({
  config: viewConfig,
  async init(context) {
    const kernel = context.connect(kernelInterface);
    const log = context.connect(logInterface);
    const viewLink = new ViewLink(context.connect(chardevInterface, context.config.device), context.log);
    link = viewLink;
    const panels = new Collector({ kernel, drivers: context.connect(driversInterface), memory: context.connect(memoryInterface), kho: context.connect(khoInterface) }, {
      intervalMs: context.config.intervalMs,
      slowIntervalMs: context.config.slowIntervalMs,
      publish: (changed) => viewLink.send({ t: 'panels', panels: changed }),
      failed: (what, error) => context.log.debug(`view: ${what}: ${error.message}`),
    });
    collector = panels;
    viewLink.onLost = () => panels.published.forget();

    const control = async (request: ControlRequest) => {
      try {
        const options = { timeoutMs: CONTROL_TIMEOUT_MS };
        const name = request.name ?? '';
        const { message } = request.action === 'kexec' ? await kernel.kexec({}, options)
          : request.action === 'restart' ? await kernel.restart({ name }, options)
          : request.action === 'kill' ? await kernel.kill({ name }, options)
          : request.action === 'stop' ? await kernel.stop({ name }, options)
          : await kernel.start({ name }, options);
        await viewLink.send({ t: 'result', id: request.id, ok: true, message });
        // The kernel waits for the answer to be shown before it goes down; it has been passed on.
        if (request.action === 'kexec') await kernel.proceed({});
      } catch (error) {
        await viewLink.send({ t: 'result', id: request.id, ok: false, message: (error as Error).message });
      }
      panels.soon();
    };

    // Every log record, batched; the board keeps the recent ones for pages that open later.
    let batch: LogLine[] = [];
    let batchTimer: ReturnType<typeof setTimeout> | undefined;
    let seen: number | undefined;
    context.onNotification(logInterface, 'record', (args: { record: Record<string, unknown>; sequence: number }) => {
      if (seen !== undefined && args.sequence <= seen) return;
      seen = args.sequence;
      batch.push(logLine(args.record, args.sequence));
      batchTimer ??= setTimeout(() => {
        batchTimer = undefined;
        const records = batch;
        batch = [];
        void viewLink.send({ t: 'log', records });
      }, LOG_BATCH_MS);
    });
    const follow = async () => {
      const { sequence } = await log.follow({ minimumLevel: 0, after: seen ?? 0 });
      seen = Math.max(seen ?? 0, sequence);
    };
    context.onPeerRestarted('log', () => void follow().catch((error: unknown) => context.log.warn(`view: could not follow the log again: ${(error as Error).message}`)));

    await viewLink.skipStale();
    await viewLink.send({ t: 'hello', generation: context.generation, start: context.start });
    void viewLink.run((message) => {
      if (message.t === 'watch') panels.watch(message.viewers);
      else void control(message);
    });
    await follow().catch((error: unknown) => context.log.warn(`view: could not follow the log: ${(error as Error).message}`));
  },

  stop() {
    link?.close();
    collector?.stop();
  },
});
