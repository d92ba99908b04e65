// The socket service (ipc/interfaces/socket.ts): TCP connections and listeners of the
// stack as numbered sockets, each owned by the client channel that made it. Sockets of a
// client that is gone are closed at the next call of anyone (connections reset).

import type { CallContext, HandlersOf } from '../../ipc/define.js';
import { errnoError } from '../../ipc/interfaces/errno.js';
import type { socketInterface } from '../../ipc/interfaces/socket.js';
import { formatIpv4, parseIpv4 } from './address.js';
import type { NetworkStack } from './stack.js';
import type { TcpListener } from './tcp.js';
import type { CloseReason, TcpConnection } from './tcp_connection.js';
import type { Timers } from './timers.js';

type Entry = { readonly owner: number; readonly wakers: Set<() => void>; discarded?: boolean } & (
  | { readonly kind: 'listener'; readonly listener: TcpListener }
  | { readonly kind: 'connection'; readonly connection: TcpConnection; closedBy?: CloseReason });

export function socketHandlers(
  attach: () => Promise<NetworkStack | undefined>,
  isOpen: (call: CallContext | number) => boolean,
  timers: Timers,
): HandlersOf<typeof socketInterface> {
  const sockets = new Map<number, Entry>();
  let nextSocket = 1;

  const stackOrFail = async (): Promise<NetworkStack> => {
    const stack = await attach();
    if (stack === undefined) throw errnoError('ENETUNREACH', 'no network device: boot with --net socket:PATH');
    return stack;
  };
  const sweep = () => {
    for (const [id, entry] of sockets) if (!isOpen(entry.owner)) discard(id, entry, 'abort');
  };
  const discard = (id: number, entry: Entry, how: 'close' | 'abort') => {
    sockets.delete(id);
    entry.discarded = true;
    if (entry.kind === 'listener') {
      if (entry.listener.open) stackForDiscard?.tcp.unlisten(entry.listener);
    } else if (how === 'abort') entry.connection.abort();
    else entry.connection.close();
    for (const wake of entry.wakers) wake();
  };
  let stackForDiscard: NetworkStack | undefined;
  const lookUp = (id: number, call: CallContext): Entry => {
    const entry = sockets.get(id);
    if (entry === undefined || entry.owner !== call.channelId) throw errnoError('EBADF', `no socket ${id}`);
    return entry;
  };
  const add = (entry: Entry): number => {
    const id = nextSocket++;
    sockets.set(id, entry);
    return id;
  };
  /** Watches a connection's events for its entry's waiters. */
  const track = (connection: TcpConnection, owner: number): Entry & { kind: 'connection' } => {
    const entry: Entry & { kind: 'connection' } = { kind: 'connection', connection, owner, wakers: new Set() };
    const wake = () => { for (const waker of [...entry.wakers]) waker(); };
    connection.events = {
      established: wake, readable: wake, peerClosed: wake,
      closed: (reason) => { entry.closedBy ??= reason; wake(); },
    };
    return entry;
  };
  /** Waits until `ready()` or `ms` passes. */
  const wait = (entry: Entry, ready: () => boolean, ms: number): Promise<void> => new Promise((resolve) => {
    if (ready() || ms === 0) return resolve();
    const cancel = timers.after(ms, () => done());
    const done = () => { cancel(); entry.wakers.delete(check); resolve(); };
    const check = () => { if (ready() || entry.discarded) done(); };
    entry.wakers.add(check);
  });
  const failure = (entry: Entry & { kind: 'connection' }): Error => {
    switch (entry.closedBy) {
      case 'refused': return errnoError('ECONNREFUSED', 'connection refused');
      case 'timed-out': return errnoError('ETIMEDOUT', 'connection timed out');
      case 'reset': return errnoError('ECONNRESET', 'connection reset by peer');
      default: return errnoError('ENOTCONN', 'the connection is closed');
    }
  };

  return {
    listen: async ({ port, backlog }, call) => {
      sweep();
      const stack = (stackForDiscard = await stackOrFail());
      let listener: TcpListener;
      try {
        listener = stack.tcp.listen(port, backlog ?? 16);
      } catch {
        throw errnoError('EADDRINUSE', `TCP port ${port} is already listening`);
      }
      return { socket: add({ kind: 'listener', listener, owner: call.channelId, wakers: new Set() }) };
    },
    accept: async ({ socket, waitMs }, call) => {
      const entry = lookUp(socket, call);
      if (entry.kind !== 'listener') throw errnoError('EINVAL', `socket ${socket} is not listening`);
      const listener = entry.listener;
      const deadline = timers.now() + waitMs;
      let connection = listener.accept();
      while (connection === undefined && timers.now() < deadline && !entry.discarded) {
        await Promise.race([listener.whenReady(), new Promise<void>((resolve) => timers.after(Math.max(1, deadline - timers.now()), resolve))]);
        connection = listener.accept();
      }
      if (connection === undefined) return {};
      const tracked = track(connection, call.channelId);
      const remote = stackForDiscard?.tcp.list().find((row) => row.local === connection!.localPort && row.remote.endsWith(`:${connection!.remotePort}`))?.remote;
      return { socket: add(tracked), ...(remote ? { remote } : {}) };
    },
    connect: async ({ address, port, timeoutMs }, call) => {
      sweep();
      const stack = (stackForDiscard = await stackOrFail());
      const remote = parseIpv4(address);
      if (remote === undefined) throw errnoError('EINVAL', `"${address}" is not an IPv4 address`);
      let connection: TcpConnection;
      try {
        connection = stack.tcp.connect(remote, port);
      } catch (error) {
        throw errnoError('ENETUNREACH', (error as Error).message);
      }
      const entry = track(connection, call.channelId);
      const id = add(entry);
      await wait(entry, () => connection.state !== 'SYN-SENT', timeoutMs);
      if (connection.state === 'ESTABLISHED' || connection.state === 'CLOSE-WAIT') return { socket: id, localPort: connection.localPort };
      sockets.delete(id);
      if (connection.state === 'SYN-SENT') {
        connection.abort();
        throw errnoError('ETIMEDOUT', `no answer from ${formatIpv4(remote)}:${port} within ${timeoutMs} ms`);
      }
      throw failure(entry);
    },
    send: ({ socket, data }, call) => {
      const entry = lookUp(socket, call);
      if (entry.kind !== 'connection') throw errnoError('ENOTCONN', `socket ${socket} is listening, not connected`);
      if (entry.closedBy !== undefined && entry.closedBy !== 'closed') throw failure(entry);
      try {
        entry.connection.write(data);
      } catch {
        throw errnoError('EPIPE', `socket ${socket} can send no more (${entry.connection.state})`);
      }
      return { sent: data.length };
    },
    receive: async ({ socket, maximumBytes, waitMs }, call) => {
      const entry = lookUp(socket, call);
      if (entry.kind !== 'connection') throw errnoError('ENOTCONN', `socket ${socket} is listening, not connected`);
      const connection = entry.connection;
      await wait(entry, () => connection.readableBytes > 0 || connection.atEnd || entry.closedBy !== undefined, waitMs);
      if (connection.readableBytes === 0 && entry.closedBy !== undefined && entry.closedBy !== 'closed') throw failure(entry);
      const data = connection.read(maximumBytes);
      return { data, ended: connection.atEnd || (entry.closedBy !== undefined && connection.readableBytes === 0) };
    },
    close: ({ socket }, call) => {
      const entry = sockets.get(socket);
      if (entry !== undefined && entry.owner === call.channelId) discard(socket, entry, 'close');
      return {};
    },
    list: async () => {
      sweep();
      const stack = await attach();
      const address = stack?.address ? formatIpv4(stack.address.address) : '*';
      return { rows: (stack?.tcp.list() ?? []).map((row) => ({ local: `${row.state === 'LISTEN' ? '*' : address}:${row.local}`, remote: row.remote, state: row.state })) };
    },
  };
}
