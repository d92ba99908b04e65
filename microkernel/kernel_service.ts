// Handlers of the kernel interface (ipc/interfaces/kernel.ts): what `ps`, `restart`,
// `stop`, `start`, `kill`, `shutdown`, `reboot`, `mem` and `dt` ask of the kernel.

import type { HandlersOf } from '../ipc/define.js';
import { StartFailedError, StopRefusedError, type kernelInterface, type TrafficRow } from '../ipc/interfaces/kernel.js';
import { NotFoundError } from './name_service.js';
import type { Process } from './process.js';
import { bulkMessages, heapBytes, messagesHandled, type Supervisor } from './supervisor.js';

export interface KernelServiceHost {
  readonly supervisor: Supervisor;
  readonly heartbeats: Int32Array;
  nowMs(): number;
  bootFinished(): Promise<number>;
  memoryMapText(): Promise<string>;
  deviceTreeText(): string;
  /** Stops everything and powers off (or resets) after the reply has gone out. */
  powerDown(action: { kind: 'poweroff'; status: number } | { kind: 'reset' }): void;
  /** Loads IMAGE now (throwing on a bad one), then kexecs into it after the reply has gone out. */
  kexec(image: string | undefined): string;
  khoText(): Promise<string>;
  khoDump(directory: string): Promise<string>;
  /** IPC messages per client, server and interface since boot (the name service's channels). */
  traffic(): TrafficRow[];
  /** Runs the pending shutdown, reboot or kexec now. */
  proceed(): void;
  /** The initrd's physical range. */
  initramfs(): { start: number; end: number };
  /** `start NAME` of a driver with no instance (a boot driver after unload): binds it again; undefined if NAME is none. */
  startDriver?(name: string): Promise<{ message: string } | undefined>;
}

export function kernelHandlers(host: KernelServiceHost): HandlersOf<typeof kernelInterface> {
  const { supervisor } = host;
  const named = (name: string): Process => {
    const process = supervisor.find(name);
    if (!process) throw new NotFoundError(`no server or driver named "${name}" (see ps)`);
    return process;
  };
  return {
    list: () => ({
      rows: supervisor.processes.map((process) => ({
        name: process.name,
        kind: process.kind,
        generation: process.generation,
        state: process.state,
        restarts: process.restarts,
        uptimeMs: process.state === 'running' ? host.nowMs() - process.startedAtMs : 0,
        messages: messagesHandled(host.heartbeats, process),
        bulk: bulkMessages(host.heartbeats, process),
        heapBytes: process.thread ? heapBytes(host.heartbeats, process) : 0,
        ...(process.device ? { device: process.device.path } : process.disk ? { device: process.disk } : {}),
      })),
    }),
    restart: async ({ name }) => {
      const process = named(name);
      const ready = await supervisor.restart(process);
      if (!ready) throw new StartFailedError(`${name}: restart failed (${process.state})`);
      return { message: `${name}: generation ${process.generation} running` };
    },
    stop: async ({ name }) => {
      const process = named(name);
      // Every program's pages come from the memory service: without it the others fail
      // at their next allocation, so it is restarted (or killed), never stopped.
      if (process.spec.serves.includes('memory')) {
        throw new StopRefusedError(`${name}: not stopped: every server and driver takes its memory from it (restart ${name} instead)`);
      }
      await supervisor.stop(process);
      return { message: `${name}: stopped` };
    },
    start: async ({ name }) => {
      if (!supervisor.find(name)) {
        const started = await host.startDriver?.(name);
        if (started) return { message: started.message };
      }
      const process = named(name);
      if (process.state === 'running' || process.state === 'starting') return { message: `${name}: already ${process.state}` };
      process.quickFailures = 0;
      const ready = await supervisor.start(process, process.generation === 0 ? 'fresh' : 'restart');
      if (!ready) throw new StartFailedError(`${name}: start failed (${process.state})`);
      return { message: `${name}: generation ${process.generation} running` };
    },
    kill: ({ name }) => {
      const process = named(name);
      if (!process.thread) return { message: `${name}: not running (${process.state})` };
      supervisor.kill(process);
      return { message: `${name}: killed (generation ${process.generation})` };
    },
    shutdown: ({ status }) => {
      host.powerDown({ kind: 'poweroff', status });
      return { message: 'shutting down' };
    },
    reboot: () => {
      host.powerDown({ kind: 'reset' });
      return { message: 'rebooting' };
    },
    kexec: ({ image }) => ({ message: host.kexec(image) }),
    kho: async () => ({ text: await host.khoText() }),
    khoDump: async ({ directory }) => ({ message: await host.khoDump(directory) }),
    memoryMap: async () => ({ text: await host.memoryMapText() }),
    deviceTree: () => ({ text: host.deviceTreeText() }),
    proceed: () => (host.proceed(), {}),
    traffic: () => ({ rows: host.traffic() }),
    initramfs: () => host.initramfs(),
    changes: async ({ after, waitMs }) => ({ epoch: await supervisor.epochAfter(after, waitMs ?? 20_000) }),
    waitForBoot: async () => ({ bootMs: await host.bootFinished() }),
  };
}
