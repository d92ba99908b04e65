// A network device: Ethernet frames in each direction (served by a net driver, e.g.
// virtio-net, through drivers/lib/net_driver.ts; used by the network server).
//
// Frames are whole Ethernet II frames without FCS, 14 to 1514 bytes. Sending is a call
// so the sender is held back while the device is busy; receiving is pulled, as chardev's
// read is: `receive` waits (up to `waitMs`) for frames and returns them in arrival order.
// The driver holds at most RECEIVE_QUEUE_FRAMES for its reader and drops (and counts)
// further ones, as a NIC's ring overflows. One reader per device: frames go to whoever
// asks first.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

/** Most frames one send or receive carries (a reply travels through the IPC ring). */
export const NETDEV_BATCH_FRAMES = 32;
/** The longest frame: 14 bytes of header and an MTU of 1500. */
export const NETDEV_MAXIMUM_FRAME = 1514;
export const NETDEV_MINIMUM_FRAME = 14;
/** Frames the driver keeps for its reader before it drops. */
export const RECEIVE_QUEUE_FRAMES = 512;
/** The longest a receive may wait; shorter than a call's default timeout. */
export const RECEIVE_MAXIMUM_WAIT_MS = 5000;

const Frame = Type.Uint8Array({ minByteLength: NETDEV_MINIMUM_FRAME, maxByteLength: NETDEV_MAXIMUM_FRAME });

export const NetdevCounts = Type.Object({
  framesSent: Type.Integer(),
  framesReceived: Type.Integer(),
  /** Frames that arrived while the reader was RECEIVE_QUEUE_FRAMES behind. */
  receiveDropped: Type.Integer(),
});

/**
 * @example
 * const device = context.connect(netdevInterface, 'virtio-net');
 * const { mac } = await device.info({});
 * await device.send({ frames: [frame] });
 * const { frames } = await device.receive({ maximumFrames: 32, waitMs: 1000 });
 */
export const netdevInterface = defineInterface({
  name: 'netdev',
  ops: {
    info: { id: 1, kind: 'call', idempotent: true, args: Type.Object({}),
      reply: Type.Object({
        mac: Type.Uint8Array({ minByteLength: 6, maxByteLength: 6 }),
        mtu: Type.Integer(),
        linkUp: Type.Boolean(),
        counts: NetdevCounts,
      }),
      doc: 'The device\'s MAC address, MTU, link state and frame counts.' },
    send: { id: 2, kind: 'call',
      args: Type.Object({ frames: Type.Array(Frame, { minItems: 1, maxItems: NETDEV_BATCH_FRAMES }) }),
      reply: Type.Object({ sent: Type.Integer() }),
      doc: 'Puts the frames on the wire in order; resolves once the device has taken them. With the link down they are dropped (sent counts them anyway, as a NIC does).' },
    receive: { id: 3, kind: 'call',
      args: Type.Object({
        maximumFrames: Type.Integer({ minimum: 1, maximum: NETDEV_BATCH_FRAMES }),
        waitMs: Type.Integer({ minimum: 0, maximum: RECEIVE_MAXIMUM_WAIT_MS }),
      }),
      reply: Type.Object({ frames: Type.Array(Type.Uint8Array()), linkUp: Type.Boolean() }),
      doc: 'Frames that arrived, oldest first, as soon as there are some (at most maximumFrames; none after waitMs).' },
  },
});
