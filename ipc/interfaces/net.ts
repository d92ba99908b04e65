// The network server's own service: what the interface is (address, link, ARP cache,
// counters) and ping. Sockets are ipc/interfaces/socket.ts.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';
import { errorClass } from '../errors.js';

/** The system has no network device (booted without --net). */
export class NoNetworkError extends errorClass('NO_NETWORK') {}

export const PING_MAXIMUM_COUNT = 100;

export const NetStatus = Type.Object({
  /** The netdev instance the stack runs on; absent when there is none (no --net). */
  device: Type.Optional(Type.String()),
  mac: Type.Optional(Type.String()),
  mtu: Type.Optional(Type.Integer()),
  linkUp: Type.Boolean(),
  /** "10.0.2.15/24", absent when not configured. */
  address: Type.Optional(Type.String()),
  gateway: Type.Optional(Type.String()),
  neighbours: Type.Array(Type.Object({ address: Type.String(), mac: Type.String(), expiresInMs: Type.Integer() })),
  /** Counters by protocol and reason: "ip.badChecksum", "arp.requestsSent", ... */
  counts: Type.Record(Type.String(), Type.Integer()),
});

export const PingReply = Type.Object({ sequence: Type.Integer(), ttl: Type.Integer(), timeMs: Type.Number(), bytes: Type.Integer() });

/**
 * @example
 * const net = context.connect(netInterface);
 * const { received } = await net.ping({ address: '10.0.2.2', count: 3, intervalMs: 1000, timeoutMs: 2000 }, { timeoutMs: 10_000 });
 */
export const netInterface = defineInterface({
  name: 'net',
  errors: [NoNetworkError],
  ops: {
    status: { id: 1, kind: 'call', idempotent: true, args: Type.Object({}), reply: NetStatus,
      doc: 'The interface: device, MAC, link, address, ARP cache, counters.' },
    ping: { id: 2, kind: 'call',
      args: Type.Object({
        address: Type.String({ maxLength: 64 }),
        count: Type.Integer({ minimum: 1, maximum: PING_MAXIMUM_COUNT }),
        intervalMs: Type.Integer({ minimum: 10, maximum: 10_000 }),
        /** How long to wait for replies after the last request. */
        timeoutMs: Type.Integer({ minimum: 10, maximum: 30_000 }),
        /** Bytes of data in each echo request (Linux ping's default is 56). */
        bytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1472 })),
      }),
      reply: Type.Object({
        sent: Type.Integer(),
        replies: Type.Array(PingReply),
        /** Errors met (host unreachable, no route), each once. */
        errors: Type.Array(Type.String()),
      }),
      doc: 'Sends count ICMP echo requests intervalMs apart and collects the replies. Set the call timeout above count × intervalMs + timeoutMs.' },
  },
});
