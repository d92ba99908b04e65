// TCP over the stack: connections by (local port, remote address, remote port),
// listeners with a backlog, and RFC 9293 §3.10.7.1's reset for segments nobody is there
// for. Initial sequence numbers follow RFC 6528's shape: a per-layer random secret
// offset plus a clock that ticks every 4 µs.

import { formatIpv4, type Ipv4Address } from './address.js';
import { IpProtocol, IPV4_HEADER_BYTES } from './ipv4.js';
import { TcpConnection, type CloseReason } from './tcp_connection.js';
import { buildTcp, parseTcp, segmentLength, TcpFlag, TCP_HEADER_BYTES, type TcpSegment } from './tcp_segment.js';
import { add } from './tcp_sequence.js';
import type { Timers } from './timers.js';

export interface TcpHost {
  /** The interface's address, or undefined without one. */
  localAddress(): Ipv4Address | undefined;
  readonly mtu: number;
  sendIpv4(destination: Ipv4Address, protocol: number, payload: Uint8Array): void;
}

export interface TcpCounts {
  segmentsIn: number;
  badSegments: number;
  resetsSent: number;
  /** SYNs dropped because the listener's backlog was full. */
  backlogDrops: number;
}

export class TcpListener {
  private readonly ready: TcpConnection[] = [];
  /** Connections handshaking or established and not yet accepted. */
  readonly pending = new Set<TcpConnection>();
  private waiter: (() => void) | undefined;
  open = true;

  constructor(readonly port: number, readonly backlog: number) {}

  /** The next established connection, or undefined. */
  accept(): TcpConnection | undefined {
    const connection = this.ready.shift();
    if (connection) this.pending.delete(connection);
    return connection;
  }

  /** Resolves when a connection is ready to accept (or the listener closed). */
  whenReady(): Promise<void> {
    if (this.ready.length > 0 || !this.open) return Promise.resolve();
    return new Promise((resolve) => { this.waiter = resolve; });
  }

  /** @internal */
  established(connection: TcpConnection): void {
    this.ready.push(connection);
    this.waiter?.();
    this.waiter = undefined;
  }

  /** @internal */
  gone(connection: TcpConnection): void {
    this.pending.delete(connection);
    const index = this.ready.indexOf(connection);
    if (index >= 0) this.ready.splice(index, 1);
  }
}

export class TcpLayer {
  readonly counts: TcpCounts = { segmentsIn: 0, badSegments: 0, resetsSent: 0, backlogDrops: 0 };
  private readonly connections = new Map<string, { connection: TcpConnection; remote: Ipv4Address }>();
  private readonly listeners = new Map<number, TcpListener>();
  private readonly secret: number;

  constructor(private readonly host: TcpHost, private readonly timers: Timers, random: () => number = Math.random) {
    this.secret = Math.floor(random() * 0x1_0000_0000);
  }

  get maximumSegmentSize(): number {
    return this.host.mtu - IPV4_HEADER_BYTES - TCP_HEADER_BYTES;
  }

  listen(port: number, backlog = 16): TcpListener {
    if (this.listeners.has(port)) throw new RangeError(`TCP port ${port} is already listening`);
    const listener = new TcpListener(port, backlog);
    this.listeners.set(port, listener);
    return listener;
  }

  unlisten(listener: TcpListener): void {
    listener.open = false;
    this.listeners.delete(listener.port);
    for (const connection of listener.pending) connection.abort();
    void listener.whenReady();
  }

  /** Opens a connection to remote:remotePort from `localPort` (default: an ephemeral one). */
  connect(remote: Ipv4Address, remotePort: number, localPort = this.ephemeralPort(remote, remotePort)): TcpConnection {
    if (this.host.localAddress() === undefined) throw new RangeError('the interface has no IPv4 address');
    const key = `${localPort}/${remote}/${remotePort}`;
    if (this.live(key)) throw new RangeError(`a connection from port ${localPort} to ${formatIpv4(remote)}:${remotePort} exists`);
    const connection = this.create(localPort, remote, remotePort);
    connection.connect();
    return connection;
  }

  /** Rows for netstat: every connection that is not CLOSED, and the listeners. */
  list(): { local: number; remote: string; state: string }[] {
    const rows = [...this.listeners.keys()].map((port) => ({ local: port, remote: '*', state: 'LISTEN' }));
    for (const [key, { connection, remote }] of this.connections) {
      if (connection.state === 'CLOSED') { this.connections.delete(key); continue; }
      rows.push({ local: connection.localPort, remote: `${formatIpv4(remote)}:${connection.remotePort}`, state: connection.state });
    }
    return rows;
  }

  /** One IPv4 payload of protocol TCP. */
  receive(source: Ipv4Address, destination: Ipv4Address, bytes: Uint8Array): void {
    this.counts.segmentsIn++;
    const parsed = parseTcp(bytes, source, destination);
    if (!parsed.ok) return void this.counts.badSegments++;
    const segment = parsed.segment;
    const key = `${segment.destinationPort}/${source}/${segment.sourcePort}`;
    const entry = this.live(key);
    if (entry) return entry.connection.receive(segment);
    const listener = this.listeners.get(segment.destinationPort);
    if (listener && (segment.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN) {
      if (listener.pending.size >= listener.backlog) return void this.counts.backlogDrops++;
      const connection = this.create(segment.destinationPort, source, segment.sourcePort, listener);
      listener.pending.add(connection);
      connection.acceptSyn(segment);
      return;
    }
    // A listener ignores a RST and answers any ACK with a RST; so does a port with nobody.
    if (listener && (segment.flags & TcpFlag.ACK) === 0) return;
    this.reset(source, segment);
  }

  private live(key: string): { connection: TcpConnection; remote: Ipv4Address } | undefined {
    const entry = this.connections.get(key);
    if (entry && entry.connection.state === 'CLOSED') {
      this.connections.delete(key);
      return undefined;
    }
    return entry;
  }

  private create(localPort: number, remote: Ipv4Address, remotePort: number, listener?: TcpListener): TcpConnection {
    const key = `${localPort}/${remote}/${remotePort}`;
    const connection = new TcpConnection({
      timers: this.timers, localPort, remotePort,
      maximumSegmentSize: this.maximumSegmentSize,
      initialSequence: this.initialSequence(localPort, remote, remotePort),
      transmit: (segment) => this.send(remote, segment),
      events: listener ? {
        established: () => listener.established(connection),
        closed: (reason: CloseReason) => { if (reason !== 'closed') listener.gone(connection); },
      } : {},
    });
    this.connections.set(key, { connection, remote });
    return connection;
  }

  private send(remote: Ipv4Address, segment: TcpSegment): void {
    const local = this.host.localAddress();
    if (local === undefined) return;
    try {
      this.host.sendIpv4(remote, IpProtocol.TCP, buildTcp(segment, local, remote));
    } catch {
      // No route or no address: as a lost segment; the retransmission timer tries again.
    }
  }

  /** RFC 9293 §3.10.7.1: a RST for a segment no connection or listener takes (never for a RST). */
  private reset(remote: Ipv4Address, segment: TcpSegment): void {
    if ((segment.flags & TcpFlag.RST) !== 0) return;
    this.counts.resetsSent++;
    const answer = (segment.flags & TcpFlag.ACK) !== 0
      ? { sequence: segment.acknowledgement, acknowledgement: 0, flags: TcpFlag.RST }
      : { sequence: 0, acknowledgement: add(segment.sequence, segmentLength(segment)), flags: TcpFlag.RST | TcpFlag.ACK };
    this.send(remote, { sourcePort: segment.destinationPort, destinationPort: segment.sourcePort, window: 0, data: new Uint8Array(0), ...answer });
  }

  private initialSequence(localPort: number, remote: Ipv4Address, remotePort: number): number {
    const tuple = Math.imul(localPort ^ (remotePort << 16), 0x9e3779b1) ^ Math.imul(remote, 0x85ebca6b);
    return (Math.floor(this.timers.now() * 250) + tuple + this.secret) >>> 0;
  }

  private ephemeralPort(remote: Ipv4Address, remotePort: number): number {
    for (let port = 49152; port <= 65535; port++) if (!this.live(`${port}/${remote}/${remotePort}`) && !this.listeners.has(port)) return port;
    throw new RangeError('no ephemeral TCP port is free');
  }
}
