// `--net socket:PATH`: a switched Ethernet LAN of every baton system (or QEMU guest) given
// the same PATH, with no root and no daemon to start first.
//
// PATH is a Unix stream socket carrying frames as QEMU's `-netdev stream` does (a 32-bit
// big-endian length before each frame, frame_stream.ts). The first system to join finds
// nothing at PATH and becomes the LAN's hub: it listens on PATH and runs a learning switch
// (ethernet_switch.ts) whose ports are its own device and every connection. Later systems
// connect to it. When the hub's system stops, the others see the connection close, the
// link goes down, and they join again — the first to listen becomes the new hub. Why not
// datagrams, as QEMU's `-netdev dgram`: Node has no AF_UNIX SOCK_DGRAM, and a stream
// server is also what lets the hub know who is there.
//
// A socket file left behind by a hub that was killed (connect is refused) is removed
// before listening; anything at PATH that is not a socket is never touched. A connection
// whose writes back up beyond WRITE_BACKLOG_BYTES drops frames, as a congested switch does.

import { lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { EthernetSwitch, type SwitchPort } from './ethernet_switch.js';
import { encodeStreamFrame, StreamFrameReader } from './frame_stream.js';
import type { NetworkLink } from './link.js';

export const WRITE_BACKLOG_BYTES = 1024 * 1024;

export interface SocketLanOptions {
  /** Told of what happens on the LAN (hub taken over, a bad connection dropped). */
  readonly note?: (message: string) => void;
}

/** One connection, as a switch port: frames to it are written with their length. */
class ConnectionPort implements SwitchPort {
  dropped = 0;
  constructor(readonly socket: Socket) {}
  deliver(frame: Uint8Array): void {
    if (this.socket.writableLength > WRITE_BACKLOG_BYTES) {
      this.dropped++;
      return;
    }
    this.socket.write(encodeStreamFrame(frame));
  }
}

export class SocketLanLink implements NetworkLink {
  readonly description: string;
  readonly path: string;
  /** 'hub' while this system owns PATH, 'member' while connected to another's hub. */
  role: 'joining' | 'hub' | 'member' | 'closed' = 'joining';
  private readonly note: (message: string) => void;
  private handler: ((frame: Uint8Array) => void) | undefined;
  private linkHandler: ((up: boolean) => void) | undefined;
  private server: Server | undefined;
  private switch: EthernetSwitch | undefined;
  private connection: Socket | undefined;
  private readonly ownPort: SwitchPort = { deliver: (frame) => this.handler?.(frame) };
  private readonly connections = new Set<Socket>();
  private joined: Promise<void>;

  constructor(path: string, options: SocketLanOptions = {}) {
    this.path = path;
    this.description = `socket:${path}`;
    this.note = options.note ?? (() => undefined);
    this.joined = this.join();
    // Whoever asks ready() hears of a failure; nobody asking is no crash of the board.
    this.joined.catch((error: Error) => this.note(error.message));
  }

  /** Resolves once this system is on the LAN (as hub or member). */
  ready(): Promise<void> {
    return this.joined;
  }

  get up(): boolean {
    return this.role === 'hub' || this.role === 'member';
  }

  send(frame: Uint8Array): void {
    if (this.role === 'hub') this.switch!.forward(this.ownPort, frame);
    else if (this.role === 'member' && this.connection !== undefined && this.connection.writableLength <= WRITE_BACKLOG_BYTES) {
      this.connection.write(encodeStreamFrame(frame));
    }
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  onLinkChange(handler: (up: boolean) => void): void {
    this.linkHandler = handler;
  }

  close(): void {
    this.role = 'closed';
    this.connection?.destroy();
    for (const socket of this.connections) socket.destroy();
    this.server?.close();
  }

  private setRole(role: SocketLanLink['role']): void {
    const wasUp = this.up;
    this.role = role;
    if (wasUp !== this.up) this.linkHandler?.(this.up);
  }

  /** Connects to the hub at PATH, or becomes the hub when there is none. */
  private async join(): Promise<void> {
    for (let attempt = 0; this.role !== 'closed'; attempt++) {
      const outcome = await this.tryConnect();
      if (outcome === 'connected' || (this.role as string) === 'closed') return;
      if (outcome === 'stale') this.removeStaleSocket();
      if (await this.tryListen()) return;
      if (attempt >= 20) throw new Error(`${this.description}: could neither connect to nor listen on ${this.path}`);
    }
  }

  private tryConnect(): Promise<'connected' | 'absent' | 'stale'> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.path);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        this.becomeMember(socket);
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') resolve('absent');
        else if (error.code === 'ECONNREFUSED') resolve('stale');
        else reject(new Error(`${this.description}: ${error.message}`));
      });
    });
  }

  private removeStaleSocket(): void {
    try {
      if (lstatSync(this.path).isSocket()) {
        unlinkSync(this.path);
        this.note(`${this.description}: removed a socket no hub listens on`);
      }
    } catch {
      // Gone already: another system is taking over.
    }
  }

  private tryListen(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') resolve(false);
        else reject(new Error(`${this.description}: cannot listen: ${error.message}`));
      });
      server.listen(this.path, () => {
        server.removeAllListeners('error');
        server.on('error', (error) => this.note(`${this.description}: hub: ${error.message}`));
        this.server = server;
        this.switch = new EthernetSwitch();
        this.switch.add(this.ownPort);
        this.setRole('hub');
        resolve(true);
      });
    });
  }

  private becomeMember(socket: Socket): void {
    this.connection = socket;
    const reader = new StreamFrameReader();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) this.handler?.(frame);
      } catch (error) {
        this.note(`${this.description}: ${(error as Error).message}; leaving the hub`);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.connection !== socket) return;
      this.connection = undefined;
      if (this.role === 'closed') return;
      this.setRole('joining');
      this.note(`${this.description}: the hub went away; joining again`);
      this.joined = this.join().catch((error: Error) => this.note(error.message));
    });
    this.setRole('member');
  }

  private accept(socket: Socket): void {
    if (this.role !== 'hub') return void socket.destroy();
    const port = new ConnectionPort(socket);
    const reader = new StreamFrameReader();
    this.connections.add(socket);
    this.switch!.add(port);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) this.switch?.forward(port, frame);
      } catch (error) {
        this.note(`${this.description}: dropping a connection: ${(error as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connections.delete(socket);
      this.switch?.remove(port);
    });
  }
}
