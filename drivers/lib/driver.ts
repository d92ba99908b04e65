// The driver library: what every driver is written against (the guide: drivers/README.md).
//
// A driver is a folder with a manifest.json (what it binds to, what it needs of the device,
// what it serves and may call, its restart policy) and a main.ts whose default export is
// `defineDriver({...})` — or a class library's define function. The library owns the
// rest, as MINIX's libchardriver and seL4 Microkit's handler loop do: the message loop,
// interrupt delivery (claim, call `interrupt`, complete), mapping the register block,
// DMA memory, registration with the name service, heartbeats, and restart (the kernel's
// supervisor starts the next generation; `init` learns which start it is). A queue fault
// found while servicing an interrupt (virtio/errors.ts) ends the generation, so the next
// one resets the device.
//
//   export default defineDriver({
//     init(driver) { ...set up the device through driver.registers... },
//     interrupt(driver) { ...service the device... },
//   });
//
// The kit:
//   driver.ts        defineDriver: init / interrupt / stop, the DriverContext
//   char_driver.ts   stream devices (consoles): write + received() → the chardev interface
//   block_driver.ts  disks: submit + complete → the block interface, checked and counted
//   net_driver.ts    network devices: send + received() → the netdev interface
//   dma_arena.ts     one DMA block from the kernel, carved up synchronously
//   dma_buffers.ts   a fixed set of DMA buffers lent to one request at a time
//   virtio/          bringing up a virtio-mmio device, split virtqueues, CompletionQueue

import type { RegisterWindow } from '../../hal/mmio.js';
import type { Ram } from '../../hal/ram.js';
import type { Logger } from '../../microkernel/userlib/logger.js';
import { defineServer, NO_CONFIG, type ServerContext, type ServerDefinition, type BoundDevice } from '../../microkernel/userlib/server.js';
import type { Static, TSchema } from '../../ipc/typebox.js';
import type { StartKind } from '../../microkernel/protocol.js';
import { VirtioQueueError } from './virtio/errors.js';

/** What a driver's handlers are given (`Config`: its config, as the driver's schema declares it). */
export interface DriverContext<Config = Readonly<Record<string, unknown>>> {
  readonly name: string;
  readonly generation: number;
  readonly start: StartKind;
  readonly log: Logger;
  readonly ram: Ram;
  readonly device: BoundDevice;
  /** The device's register block. */
  readonly registers: RegisterWindow;
  /** Zeroed, physically contiguous RAM for DMA; returns its physical address. */
  allocateDma(bytes: number, alignment?: number): Promise<number>;
  /** The underlying server context, for serving interfaces and calling services; its `config` is the manifest's, checked. */
  readonly server: ServerContext<Config>;
}

export interface DriverDefinition<S extends TSchema = typeof NO_CONFIG> {
  /** The schema of the manifest's `config`, as TypeBox data; checked before init (default: no config). */
  readonly config?: S;
  /** Brings the device up. The driver is registered (and served) once this resolves. */
  init(driver: DriverContext<Static<S>>): void | Promise<void>;
  /** The device raised its interrupt. */
  interrupt?(driver: DriverContext<Static<S>>): void;
  /**
   * Checks that the device's queues in RAM are as this generation left them (throws a
   * VirtioQueueError QUEUE_FAULT if not; e.g. VirtioDriverTransport.audit). Run every
   * AUDIT_INTERVAL_MS once init resolved: an overwritten queue may never raise an
   * interrupt again, so a fault must not wait for one to be found.
   */
  audit?(driver: DriverContext<Static<S>>): void;
  /** A clean stop: quiesce the device. */
  stop?(driver: DriverContext<Static<S>>): void | Promise<void>;
}

/**
 * A queue fault: the device's queues in RAM are not as this generation left them (a device
 * bug, or another thread wrote over them), so nothing it holds can be trusted. Logs which
 * check failed and ends the generation as a crash; the supervisor starts the next, whose
 * init resets the device and builds its queues in fresh DMA memory.
 */
/** How often a driver's `audit` runs. */
export const AUDIT_INTERVAL_MS = 1000;

function endGeneration(driver: DriverContext<unknown>, fault: VirtioQueueError): void {
  driver.log.error({ device: driver.device.path, check: fault.check }, `${driver.name}: ${fault.message}; ending generation ${driver.generation} so the next resets the device`);
  // Thrown outside the wake handler (which would log and go on): an uncaught error ends the thread.
  setImmediate(() => {
    throw fault;
  });
}

/**
 * Makes a server definition out of a driver's handlers: the module's default export.
 *
 * @example
 * export default defineDriver({
 *   async init(driver) { device = initializeVirtioDevice(driver.registers, driver.ram, await DmaArena.obtain(driver, 65536), options); },
 *   interrupt() { device.takeInterrupt(); queue.service(); },
 *   stop() { device.reset(); },
 * });
 */
export function defineDriver<S extends TSchema = typeof NO_CONFIG>(definition: DriverDefinition<S>): ServerDefinition<S> {
  let driver: DriverContext<Static<S>> | undefined;
  let auditTimer: ReturnType<typeof setInterval> | undefined;
  return defineServer<S>({
    ...(definition.config ? { config: definition.config } : {}),
    async init(server) {
      const device = server.device;
      if (!device) throw new Error(`${server.name} was started without a device to drive`);
      driver = {
        name: server.name,
        generation: server.generation,
        start: server.start,
        log: server.log,
        ram: server.ram,
        device,
        registers: device.window,
        allocateDma: (bytes, alignment) => server.allocateDma(bytes, alignment),
        server,
      };
      const bound = driver;
      let faulted = false;
      /** Runs a handler that touches the queues; a queue fault ends the generation. */
      const guarded = (handler: (driver: DriverContext<Static<S>>) => void) => {
        if (faulted) return; // the generation is ending: its queues are not touched again
        try {
          handler(bound);
        } catch (error) {
          if (!(error instanceof VirtioQueueError && error.code === 'QUEUE_FAULT')) throw error;
          faulted = true;
          endGeneration(bound, error);
        }
      };
      if (definition.interrupt) server.onInterrupt(() => guarded(definition.interrupt!));
      await definition.init(bound);
      if (definition.audit) auditTimer = setInterval(() => guarded(definition.audit!), AUDIT_INTERVAL_MS);
      server.log.info({ device: device.path, start: server.start }, `${server.name} bound to ${device.path}`);
    },
    async stop() {
      if (auditTimer !== undefined) clearInterval(auditTimer);
      if (driver) await definition.stop?.(driver);
    },
  });
}
