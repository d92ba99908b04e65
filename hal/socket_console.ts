// The control socket: a Unix socket in the run directory that the board exposes as a
// second console (as QEMU's `-serial unix:PATH,server`). One session at a time; a
// client that connects while another is attached waits its turn. Output written while
// no client is attached is dropped, as on a serial line nobody listens to.

import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SocketConsoleSink {
  pushInput(bytes: Uint8Array): void;
}

export class SocketConsole {
  readonly path: string;
  private server: Server | undefined;
  private current: Socket | undefined;
  private readonly waiting: Socket[] = [];
  private sink: SocketConsoleSink | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** The console device that receives what clients type. */
  connect(sink: SocketConsoleSink): void {
    this.sink = sink;
  }

  /** Bytes from the system to the attached client. */
  output(bytes: Uint8Array): void {
    this.current?.write(bytes);
  }

  /** Listens; fails with a clear error if a live system already owns the path. */
  async listen(): Promise<void> {
    if (existsSync(this.path)) {
      if (await isAlive(this.path)) throw new Error(`a baton system is already running with control socket ${this.path} (use --run-dir to run another)`);
      unlinkSync(this.path);
    }
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(previous);
    }
    chmodSync(this.path, 0o600);
  }

  close(): void {
    for (const socket of [this.current, ...this.waiting]) socket?.destroy();
    this.server?.close();
    this.server = undefined;
    if (existsSync(this.path)) unlinkSync(this.path);
  }

  private accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.current === socket) {
        this.current = undefined;
        const next = this.waiting.shift();
        if (next) this.attach(next);
      } else {
        const index = this.waiting.indexOf(socket);
        if (index >= 0) this.waiting.splice(index, 1);
      }
    });
    if (this.current) {
      socket.pause();
      this.waiting.push(socket);
    } else this.attach(socket);
  }

  private attach(socket: Socket): void {
    this.current = socket;
    socket.on('data', (chunk: Buffer) => this.sink?.pushInput(new Uint8Array(chunk)));
    socket.resume();
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
