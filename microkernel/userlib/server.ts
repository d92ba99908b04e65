// What a server or driver module exports, and what it is given when it starts.
//
// A module's default export is `defineServer({...})`. The runtime (thread_main.ts) owns
// the thread: it receives the kernel's start message, checks the config against the
// server's declared schema (config.ts), builds the context, runs `init`, serves requests,
// beats the heartbeat and reports ready. A server only writes handlers.
//
//   export default defineServer({
//     config: Type.Object({ greeting: Type.String({ default: 'hello' }) }, { additionalProperties: false }),
//     init(context) {
//       context.serve(echoInterface, { echo: ({ text }) => ({ text: `${context.config.greeting} ${text}` }) });
//     },
//   });

import type { Logger } from './logger.js';
import type { ClientOf, HandlersOf, InterfaceDefinition, NotificationArgs, NotificationName } from '../../ipc/define.js';
import type { NotificationContext } from '../../ipc/endpoint.js';
import type { RegisterWindow } from '../../hal/mmio.js';
import type { Ram } from '../../hal/ram.js';
import type { Clock } from '../../hal/clock.js';
import type { DeviceBinding, StartKind } from '../protocol.js';
import type { CallContext } from '../../ipc/define.js';
import { Type, type Static, type TObject, type TSchema } from '../../ipc/typebox.js';

export interface BoundDevice extends DeviceBinding {
  /** The device's register block, mapped into this thread. */
  readonly window: RegisterWindow;
}

/** What the kernel tells every program about the system as a whole (boot arguments), apart from its config. */
export interface SystemSettings {
  /** The `verbose` boot argument: every log level on the console, debug records kept. */
  readonly verbose: boolean;
  /** The `checked` boot argument: RAM references passed between programs are checked against ownership and grants. */
  readonly checked: boolean;
}

export interface ServerContext<Config = Readonly<Record<string, unknown>>> {
  readonly name: string;
  readonly generation: number;
  /** fresh: first start; restart: after a crash or on request; handover: state preserved through KHO. */
  readonly start: StartKind;
  readonly log: Logger;
  readonly ram: Ram;
  readonly clock: Clock;
  /** The config, checked against the schema the server declared (with its defaults filled in). */
  readonly config: Config;
  readonly system: SystemSettings;
  /** The device this driver instance is bound to (drivers only). */
  readonly device: BoundDevice | undefined;

  /** Serves `definition` to every client the kernel attaches. Call during init. */
  serve<D extends InterfaceDefinition>(definition: D, handlers: HandlersOf<D>): void;
  /** A client of the service named `name` (default: the interface's name), reached through the kernel's name service. */
  connect<D extends InterfaceDefinition>(definition: D, name?: string): ClientOf<D>;
  /**
   * Handles notification `notification` that the service `definition` sends to this thread;
   * `handler` gets the arguments as the interface declares them (checked before it runs).
   */
  onNotification<const D extends InterfaceDefinition, N extends NotificationName<D>>(
    definition: D, notification: N, handler: (args: NotificationArgs<D, N>, context: NotificationContext) => void,
  ): void;
  /**
   * Calls `handler` each time the program `name` restarts while this thread had a channel
   * to it (the PEER_RESTARTED path, whether or not a call was pending), with its new
   * generation. A follow or subscription the old generation held is gone: ask again here.
   */
  onPeerRestarted(name: string, handler: (generation: number) => void): void;
  /** Sends notification `notification` of `definition`, with the arguments it declares, to the client on channel `channelId` (from a CallContext). */
  notify<const D extends InterfaceDefinition, N extends NotificationName<D>>(
    call: CallContext | number, definition: D, notification: N, args: NotificationArgs<D, N>,
  ): void;
  /** True while the client on channel `channelId` (from a CallContext) is still there: a reply would reach it. */
  isOpen(call: CallContext | number): boolean;
  /** What the previous generation passed to remember() (0 on a fresh start). */
  readonly remembered: number;
  /**
   * Asks the kernel to keep one number for this program's next generation (Hubris's
   * packrat, reduced to a word): e.g. where its preserved state lives. Memory allocated
   * by a program that remembers something is kept across its restarts.
   */
  remember(value: number): void;
  /** Physically contiguous, zeroed RAM for device DMA; returns its physical address. */
  allocateDma(bytes: number, alignment?: number): Promise<number>;
  /** Calls `handler` for each interrupt of the bound device; the runtime claims and completes it. */
  onInterrupt(handler: (source: number) => void): void;
}

/** The config of a server that declares none: nothing may be configured. */
export const NO_CONFIG = Type.Object({}, { additionalProperties: false });

export interface ServerDefinition<S extends TSchema = TObject> {
  /** The config's schema, as TypeBox data; checked before init (default: no config at all). */
  readonly config?: S;
  /** Sets the server up. The server is "ready" (and its clients served) once this resolves. */
  init(context: ServerContext<Static<S>>): void | Promise<void>;
  /** A clean stop was asked: release what must be released. The thread ends afterwards. */
  stop?(): void | Promise<void>;
  /** Only for the log server itself: where this thread's own records go instead of the log service. */
  localLogSink?(records: import('./logger.js').LogRecordData[]): void;
}

/** Identity function that gives a server module its type (and its config's type, from `config`). */
export function defineServer<S extends TSchema = typeof NO_CONFIG>(definition: ServerDefinition<S>): ServerDefinition<S> {
  return definition;
}
