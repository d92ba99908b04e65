// The control protocol between the kernel and each thread it starts.
//
// These messages travel by postMessage because they carry SharedArrayBuffers (channel
// rings, RAM, doorbells); the kernel is on this control path only, never on the path of
// an IPC message. Every message a thread sends is validated by the kernel before use.

import type { ChannelDescriptor } from '../ipc/channel.js';
import type { RamDescriptor } from '../hal/ram.js';
import type { RegisterBlockDescriptor } from '../hal/mmio.js';

/** Which start this is, as MINIX's SEF init types: a server restores state accordingly. */
export type StartKind = 'fresh' | 'restart' | 'handover';

export interface DeviceBinding {
  /** Device tree path of the bound node, e.g. "/soc/virtio_mmio@10001000". */
  readonly path: string;
  readonly compatible: readonly string[];
  readonly registers: RegisterBlockDescriptor;
  readonly interrupt: number;
}

/** Everything a thread is told when it is started. */
export interface BootInfo {
  readonly name: string;
  readonly kind: 'server' | 'driver' | 'kernel';
  /** URL of the module whose default export is the server definition. */
  readonly module: string;
  readonly generation: number;
  readonly start: StartKind;
  readonly slot: number;
  readonly kernelSlot: number;
  readonly doorbells: SharedArrayBuffer;
  readonly interrupts: SharedArrayBuffer;
  readonly clock: SharedArrayBuffer;
  readonly ram: RamDescriptor;
  readonly heartbeat: { readonly buffer: SharedArrayBuffer; readonly index: number; readonly periodMs: number };
  readonly device?: DeviceBinding;
  /** The program's config (manifest, overrides, what the kernel adds); checked by the thread against the program's schema. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Its `NAME.key=value` boot arguments, applied over `config` one by one: one that fails the schema is ignored with a warning. */
  readonly configArguments?: Readonly<Record<string, unknown>>;
  /** Boot arguments every program is told, apart from its config. */
  readonly system: SystemBootInfo;
  /** The value this program's previous generation asked the kernel to remember (0 if none). */
  readonly remembered: number;
}

export interface SystemBootInfo {
  readonly verbose: boolean;
  readonly checked: boolean;
  /** pino's level for the thread's logger ("info", or "debug" with `verbose`). */
  readonly logLevel: string;
}

/** What a thread is told when no boot argument says otherwise (harnesses, benchmarks). */
export const DEFAULT_SYSTEM: SystemBootInfo = { verbose: false, checked: false, logLevel: 'info' };

export interface WireFailure {
  readonly code: string;
  readonly message: string;
}

export type KernelToThread =
  | { readonly type: 'start'; readonly boot: BootInfo }
  | { readonly type: 'attach'; readonly channel: ChannelDescriptor; readonly clientName: string }
  | { readonly type: 'lookup-reply'; readonly id: number; readonly channel?: ChannelDescriptor; readonly error?: WireFailure }
  | { readonly type: 'allocate-reply'; readonly id: number; readonly address?: number; readonly error?: WireFailure }
  | { readonly type: 'stop' }
  | { readonly type: 'crash'; readonly reason: string };

export type ThreadToKernel =
  | { readonly type: 'shell-ready' }
  | { readonly type: 'ready' }
  | { readonly type: 'stopped' }
  /** `where`: the first stack frame in the program's own files (file:line:column); `stack`: the whole stack. */
  | { readonly type: 'init-failed'; readonly error: WireFailure; readonly where?: string; readonly stack?: string }
  | { readonly type: 'lookup'; readonly id: number; readonly name: string; readonly interfaceName: string }
  | { readonly type: 'allocate'; readonly id: number; readonly bytes: number; readonly alignment: number }
  | { readonly type: 'remember'; readonly value: number }
  /** Log records the thread could not hand to the log server (its channel is not open): the kernel keeps them for it. */
  | { readonly type: 'log'; readonly records: readonly unknown[] };

/** Heartbeat table: per doorbell slot, [beats, messages handled, bulk messages, heap KiB]. */
export const HEARTBEAT_WORDS = 4;
export const HEARTBEAT_BEATS = 0;
export const HEARTBEAT_MESSAGES = 1;
/** Messages the thread sent or received through lent RAM pages (Endpoint stats.bulk). */
export const HEARTBEAT_BULK = 2;
/** KiB of JavaScript heap the thread's isolate uses (V8's used_heap_size), as of its last heartbeat. */
export const HEARTBEAT_HEAP_KIB = 3;

/** Checks a message from a thread; returns undefined for anything malformed. */
export function parseThreadMessage(message: unknown): ThreadToKernel | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const value = message as Record<string, unknown>;
  switch (value.type) {
    case 'shell-ready':
    case 'ready':
    case 'stopped':
      return { type: value.type };
    case 'init-failed': {
      const error = value.error as Record<string, unknown> | undefined;
      if (typeof error?.code !== 'string' || typeof error.message !== 'string') return undefined;
      return {
        type: 'init-failed', error: { code: error.code, message: error.message },
        ...(typeof value.where === 'string' ? { where: value.where.slice(0, 1024) } : {}),
        ...(typeof value.stack === 'string' ? { stack: value.stack.slice(0, 16 * 1024) } : {}),
      };
    }
    case 'lookup':
      if (!Number.isInteger(value.id) || typeof value.name !== 'string' || typeof value.interfaceName !== 'string') return undefined;
      return { type: 'lookup', id: value.id as number, name: value.name, interfaceName: value.interfaceName };
    case 'allocate':
      if (!Number.isInteger(value.id) || !Number.isInteger(value.bytes) || !Number.isInteger(value.alignment)) return undefined;
      if ((value.bytes as number) <= 0 || (value.alignment as number) <= 0) return undefined;
      return { type: 'allocate', id: value.id as number, bytes: value.bytes as number, alignment: value.alignment as number };
    case 'remember':
      if (!Number.isSafeInteger(value.value)) return undefined;
      return { type: 'remember', value: value.value as number };
    case 'log':
      // Each record is checked where it is kept (log_buffer.ts); a batch is what one log.write carries.
      if (!Array.isArray(value.records) || value.records.length > 256) return undefined;
      return { type: 'log', records: value.records as unknown[] };
    default:
      return undefined;
  }
}
