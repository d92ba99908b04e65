// The network-device class library (after MINIX's libnetdriver): serves the netdev
// interface for any Ethernet device, so a driver writes only "send this frame" and says
// when a frame arrived or the link changed.
//
//   export default defineNetDriver({
//     async init(device) { ...; return { mac, mtu }; ... device.received(frame) on input ... },
//     send(device, frame) { ...queue the frame to the hardware... },
//   });
//
// Frames that arrive wait in an inbox until the reader takes them; beyond
// RECEIVE_QUEUE_FRAMES they are dropped and counted. Sends are handed to the driver one
// at a time, in order; `send` resolves when the hardware has the frame.

import { netdevInterface, RECEIVE_QUEUE_FRAMES } from '../../ipc/interfaces/netdev.js';
import type { ServerDefinition } from '../../microkernel/userlib/server.js';
import { defineDriver, type DriverContext } from './driver.js';

export interface NetDevice extends DriverContext {
  /** A frame arrived from the wire (it is copied). */
  received(frame: Uint8Array): void;
  /** The link went up or down. */
  linkChanged(up: boolean): void;
}

export interface NetDeviceIdentity {
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly linkUp: boolean;
}

export interface NetDriverDefinition {
  /** Brings the device up; returns its address, MTU and link state. */
  init(device: NetDevice): NetDeviceIdentity | Promise<NetDeviceIdentity>;
  /** Sends one frame; resolves when the device has taken it. Never called again before it resolves. */
  send(device: NetDevice, frame: Uint8Array): void | Promise<void>;
  interrupt?(device: NetDevice): void;
  /** Checks the device's queues are intact (DriverDefinition.audit). */
  audit?(device: NetDevice): void;
  stop?(device: NetDevice): void | Promise<void>;
}

/** Frames kept for the reader, and the reader waiting for them. */
class FrameInbox {
  private frames: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  dropped = 0;
  received = 0;

  push(frame: Uint8Array): void {
    if (this.frames.length >= RECEIVE_QUEUE_FRAMES) {
      this.dropped++;
      return;
    }
    this.received++;
    this.frames.push(frame.slice());
    this.wake();
  }

  wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async take(maximum: number, waitMs: number): Promise<Uint8Array[]> {
    if (this.frames.length === 0 && waitMs > 0) {
      this.wake();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.waiter = undefined; resolve(); }, waitMs);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.frames.splice(0, maximum);
  }
}

/**
 * Makes a driver module out of a network driver's send handler; frames in go to `device.received`.
 *
 * @example
 * export default defineNetDriver({
 *   async init(device) { nic = await Nic.open(device, (frame) => device.received(frame)); return nic.identity; },
 *   send: (_, frame) => nic.transmit(frame),
 * });
 */
export function defineNetDriver(definition: NetDriverDefinition): ServerDefinition {
  let device: NetDevice | undefined;
  const inbox = new FrameInbox();
  let identity: NetDeviceIdentity | undefined;
  let linkUp = false;
  let sent = 0;
  let sending: Promise<unknown> = Promise.resolve();

  return defineDriver({
    async init(driver) {
      device = {
        ...driver,
        received: (frame) => inbox.push(frame),
        linkChanged: (up) => {
          if (up !== linkUp) driver.log.info({ linkUp: up }, `${driver.name}: link ${up ? 'up' : 'down'}`);
          linkUp = up;
          inbox.wake();
        },
      };
      const bound = device;
      identity = await definition.init(bound);
      linkUp = identity.linkUp;
      driver.server.serve(netdevInterface, {
        info: () => ({
          mac: identity!.mac.slice(), mtu: identity!.mtu, linkUp,
          counts: { framesSent: sent, framesReceived: inbox.received, receiveDropped: inbox.dropped },
        }),
        send: ({ frames }) => {
          const done = sending.then(async () => {
            for (const frame of frames) {
              await definition.send(bound, frame);
              sent++;
            }
          });
          sending = done.catch(() => undefined);
          return done.then(() => ({ sent: frames.length }));
        },
        receive: async ({ maximumFrames, waitMs }) => ({ frames: await inbox.take(maximumFrames, waitMs), linkUp }),
      });
    },
    interrupt: () => {
      if (device) definition.interrupt?.(device);
    },
    audit: () => {
      if (device) definition.audit?.(device);
    },
    stop: async () => {
      if (device) await definition.stop?.(device);
    },
  });
}
