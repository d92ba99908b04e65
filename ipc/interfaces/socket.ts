// TCP sockets of the network server, for other servers (and, once processes exist, the
// process server's socket calls). A socket is a number the server hands out; it belongs
// to the channel that made it and is closed (connections reset) when that client goes.
//
// Errors are errno classes (ipc/interfaces/errno.ts), as Linux's socket calls return them:
// ECONNREFUSED (a RST answered the SYN), ETIMEDOUT (no answer after the SYN retries),
// ECONNRESET, EADDRINUSE (a port already listening), ENOTCONN, EPIPE (send after close),
// EBADF (no such socket), ENETUNREACH (no address, no route), EINVAL.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';
import { errnoErrors } from './errno.js';

/** The most bytes one send or receive carries (a message travels through the IPC ring). */
export const SOCKET_TRANSFER_BYTES = 32 * 1024;
export const SOCKET_MAXIMUM_WAIT_MS = 5000;

const SocketId = Type.Integer({ minimum: 1 });

/**
 * @example
 * const sockets = context.connect(socketInterface, 'net');
 * const { socket } = await sockets.connect({ address: '10.0.2.16', port: 7000, timeoutMs: 30_000 }, { timeoutMs: 35_000 });
 * await sockets.send({ socket, data: new TextEncoder().encode('hello') });
 * const { data, ended } = await sockets.receive({ socket, maximumBytes: 4096, waitMs: 1000 });
 * await sockets.close({ socket });
 */
export const socketInterface = defineInterface({
  name: 'socket',
  errors: [errnoErrors.ECONNREFUSED, errnoErrors.ETIMEDOUT, errnoErrors.ECONNRESET, errnoErrors.EADDRINUSE, errnoErrors.ENOTCONN,
    errnoErrors.EPIPE, errnoErrors.EBADF, errnoErrors.ENETUNREACH, errnoErrors.EINVAL],
  ops: {
    listen: { id: 1, kind: 'call',
      args: Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65535 }), backlog: Type.Optional(Type.Integer({ minimum: 1, maximum: 128 })) }),
      reply: Type.Object({ socket: SocketId }),
      doc: 'A listening TCP socket on port (backlog: connections handshaking or waiting to be accepted, default 16).' },
    accept: { id: 2, kind: 'call',
      args: Type.Object({ socket: SocketId, waitMs: Type.Integer({ minimum: 0, maximum: SOCKET_MAXIMUM_WAIT_MS }) }),
      reply: Type.Object({ socket: Type.Optional(SocketId), remote: Type.Optional(Type.String()) }),
      doc: 'The next established connection on a listening socket, or nothing after waitMs.' },
    connect: { id: 3, kind: 'call',
      args: Type.Object({ address: Type.String({ maxLength: 64 }), port: Type.Integer({ minimum: 1, maximum: 65535 }), timeoutMs: Type.Integer({ minimum: 1, maximum: 120_000 }) }),
      reply: Type.Object({ socket: SocketId, localPort: Type.Integer() }),
      doc: 'Opens a TCP connection; resolves once it is established. Set the call timeout above timeoutMs.' },
    send: { id: 4, kind: 'call',
      args: Type.Object({ socket: SocketId, data: Type.Uint8Array({ maxByteLength: SOCKET_TRANSFER_BYTES }) }),
      reply: Type.Object({ sent: Type.Integer() }),
      doc: 'Queues bytes on a connection; resolves when they are queued (not when acknowledged).' },
    receive: { id: 5, kind: 'call',
      args: Type.Object({ socket: SocketId, maximumBytes: Type.Integer({ minimum: 1, maximum: SOCKET_TRANSFER_BYTES }), waitMs: Type.Integer({ minimum: 0, maximum: SOCKET_MAXIMUM_WAIT_MS }) }),
      reply: Type.Object({ data: Type.Uint8Array(), ended: Type.Boolean() }),
      doc: 'Received bytes, in order, as soon as there are some; `ended`: the peer closed and every byte was read.' },
    close: { id: 6, kind: 'call', idempotent: true, args: Type.Object({ socket: SocketId }), reply: Type.Object({}),
      doc: 'Closes a connection (FIN after the bytes queued) or a listening socket.' },
    list: { id: 7, kind: 'call', idempotent: true, args: Type.Object({}),
      reply: Type.Object({ rows: Type.Array(Type.Object({ local: Type.String(), remote: Type.String(), state: Type.String() })) }),
      doc: 'Every TCP socket of the stack and its state, for netstat.' },
  },
});
