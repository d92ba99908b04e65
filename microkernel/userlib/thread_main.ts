// The entry of every server and driver thread.
//
// A thread starts as an empty "shell" with the runtime loaded (msgpackr, pino, ipc), so
// the kernel can keep one spare and a restart costs only the server's own module. On the
// kernel's `start` message it maps RAM and devices, imports the server module, runs its
// init and serves until told to stop — or until it crashes, which the supervisor sees.

import { currentThread } from '../../hal/cpu.js';
import { Ram } from '../../hal/ram.js';
import { Clock } from '../../hal/clock.js';
import { DoorbellPage } from '../../hal/doorbells.js';
import { InterruptController } from '../../hal/irq.js';
import { RegisterWindow } from '../../hal/mmio.js';
import { Endpoint } from '../../ipc/endpoint.js';
import { errorToWire, PeerRestartedError, PeerStoppedError } from '../../ipc/errors.js';
import type { ClientOf, InterfaceDefinition } from '../../ipc/define.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { memoryBulkCarrier } from './bulk_carrier.js';
import { HEARTBEAT_BEATS, HEARTBEAT_BULK, HEARTBEAT_HEAP_KIB, HEARTBEAT_MESSAGES, HEARTBEAT_WORDS, type BootInfo, type KernelToThread } from '../protocol.js';
import { KernelLink } from './kernel_link.js';
import { createLogger } from './logger.js';
import { LogLink } from './log_link.js';
import { programFrame } from './program_frame.js';
import { NO_CONFIG, type ServerContext, type ServerDefinition } from './server.js';
import { checkConfigWithArguments } from './config.js';

const thread = currentThread();
const kernel = new KernelLink(thread);
let running: { definition: ServerDefinition; endpoint: Endpoint; heartbeat: ReturnType<typeof setInterval> } | undefined;
const earlyAttachments: KernelToThread[] = [];

thread.onMessage((message) => void receive(message as KernelToThread));
thread.post({ type: 'shell-ready' });

async function receive(message: KernelToThread): Promise<void> {
  if (kernel.handleReply(message)) return;
  switch (message.type) {
    case 'start':
      await start(message.boot);
      return;
    case 'attach':
      if (running) running.endpoint.attachServer(message.channel, message.clientName);
      else earlyAttachments.push(message);
      return;
    case 'crash':
      setImmediate(() => {
        throw new Error(message.reason);
      });
      return;
    case 'stop':
      await stop();
      return;
    default:
      return;
  }
}

async function start(boot: BootInfo): Promise<void> {
  const ram = Ram.attach(boot.ram);
  const clock = new Clock(boot.clock);
  const doorbells = new DoorbellPage(boot.doorbells);
  const interrupts = new InterruptController(doorbells, boot.interrupts);
  let reportFault: (message: string) => void = (message) => console.error(`[${boot.name}] ${message}`);
  const endpoint = new Endpoint({
    doorbells,
    slot: boot.slot,
    name: boot.name,
    // Calls too large for a ring travel in pages lent through the memory service.
    bulk: memoryBulkCarrier({
      name: boot.name,
      ram,
      memory: () => connect(memoryInterface, 'memory'),
      allocate: (bytes) => kernel.allocate(bytes, 4096),
    }),
    // A peer that is gone is the supervisor's business; anything else is logged.
    onFault: (error, where) => {
      if (error instanceof PeerStoppedError || error instanceof PeerRestartedError) return;
      reportFault(`ipc fault in ${where}: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
  const { logger, setSink } = createLogger(boot.name, boot.generation, clock, boot.system.logLevel);
  reportFault = (message) => logger.error(message);

  const clients = new Map<string, unknown>();
  const connect = <D extends InterfaceDefinition>(definition: D, name: string = definition.name): ClientOf<D> => {
    const key = `${name}/${definition.name}`;
    let client = clients.get(key) as ClientOf<D> | undefined;
    if (!client) {
      client = endpoint.client(definition, {
        connect: () => kernel.lookup(name, definition.name),
        reconnect: () => kernel.lookup(name, definition.name),
      });
      clients.set(key, client);
    }
    return client!;
  };

  const interruptHandlers: Array<(source: number) => void> = [];
  const contextWith = (config: ServerContext['config']): ServerContext => ({
    name: boot.name,
    generation: boot.generation,
    start: boot.start,
    log: logger,
    ram,
    clock,
    config,
    system: { verbose: boot.system.verbose, checked: boot.system.checked },
    device: boot.device ? { ...boot.device, window: new RegisterWindow(boot.device.registers) } : undefined,
    serve: (definition, handlers) => endpoint.serve(definition, handlers),
    connect,
    onNotification: (definition, notification, handler) =>
      endpoint.onNotification(definition, notification, handler),
    onPeerRestarted: (name, handler) => {
      endpoint.onPeerRestarted((descriptor, generation) => {
        if (descriptor.serverName === name) handler(generation);
      });
    },
    notify: (call, definition, notification, args) =>
      endpoint.notify(typeof call === 'number' ? call : call.channelId, definition, notification, args),
    isOpen: (call) => endpoint.serving(typeof call === 'number' ? call : call.channelId),
    allocateDma: (bytes, alignment = 4096) => kernel.allocate(bytes, alignment),
    remembered: boot.remembered,
    remember: (value) => kernel.post({ type: 'remember', value }),
    onInterrupt(handler) {
      if (!boot.device) throw new Error(`${boot.name} has no device, so no interrupt`);
      interruptHandlers.push(handler);
      if (interruptHandlers.length === 1) interrupts.enable(boot.device.interrupt, boot.slot);
    },
  });

  endpoint.onWake(() => {
    if (interruptHandlers.length === 0) return;
    for (let source = interrupts.claim(boot.slot); source !== 0; source = interrupts.claim(boot.slot)) {
      for (const handler of interruptHandlers) handler(source);
      interrupts.complete(source);
    }
  });

  const beats = new Int32Array(boot.heartbeat.buffer);
  const row = boot.heartbeat.index * HEARTBEAT_WORDS;
  const heartbeat = setInterval(() => {
    Atomics.add(beats, row + HEARTBEAT_BEATS, 1);
    Atomics.store(beats, row + HEARTBEAT_MESSAGES, endpoint.stats.received);
    Atomics.store(beats, row + HEARTBEAT_BULK, endpoint.stats.bulk);
    Atomics.store(beats, row + HEARTBEAT_HEAP_KIB, Math.ceil(thread.heapBytes() / 1024));
  }, boot.heartbeat.periodMs);

  try {
    // A throw in the program's own code is reported at its source line (loaded drivers carry inline source maps).
    thread.mapStackTraces();
    const module = (await import(boot.module)) as { default?: ServerDefinition };
    const definition = module.default;
    if (!definition || typeof definition.init !== 'function') {
      throw new Error(`${boot.module} has no default export made with defineServer()`);
    }
    // Checked before anything runs: a config that does not match is final (INVALID_CONFIG).
    const { config, ignored } = checkConfigWithArguments(boot.name, definition.config ?? NO_CONFIG, boot.config, boot.configArguments ?? {});
    const context = contextWith(config);
    running = { definition, endpoint, heartbeat };
    if (definition.localLogSink) setSink(definition.localLogSink);
    else {
      const link = new LogLink({
        endpoint,
        lookup: () => kernel.lookup(logInterface.name, logInterface.name),
        toKernel: (records) => kernel.post({ type: 'log', records }),
      });
      setSink((records) => link.write(records));
    }
    endpoint.start();
    for (const warning of ignored) context.log.warn(`boot argument ${warning}`);
    await definition.init(context);
    for (const message of earlyAttachments.splice(0)) void receive(message);
    kernel.post({ type: 'ready' });
  } catch (error) {
    const stack = error instanceof Error ? error.stack : undefined;
    const where = programFrame(stack, new URL('../../../', import.meta.url));
    kernel.post({ type: 'init-failed', error: errorToWire(error), ...(where ? { where } : {}), ...(stack ? { stack } : {}) });
    throw error;
  }
}

async function stop(): Promise<void> {
  if (!running) {
    kernel.post({ type: 'stopped' });
    thread.close();
    return;
  }
  const { definition, endpoint, heartbeat } = running;
  running = undefined;
  try {
    await definition.stop?.();
  } finally {
    clearInterval(heartbeat);
    await endpoint.stop();
    kernel.post({ type: 'stopped' });
    thread.close();
  }
}
