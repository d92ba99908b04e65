// The control socket: a Unix socket in the run directory that the board exposes as a
// second console (as QEMU's `-serial unix:PATH,server`), shared by any number of clients
// as a terminal concentrator shares one serial line:
//
//   - each connection is a session of its own; its bytes wait here until they make a whole
//     line (CR, LF or CR LF), so a client that sends half a line blocks nobody, and a
//     disconnect discards its unfinished line. Ctrl-C discards the unfinished line; Ctrl-D
//     means nothing here (only the main console's end of input shuts the system down);
//   - whole lines go to the console one at a time, in the order they were finished, once the
//     console is ready (its prompt — `answerEnd` — is the last thing it wrote); what the
//     console writes until its next prompt is that line's answer and goes to that session
//     only (a prompt written before the driver took the whole line cannot be its answer's
//     end: a restarted console's first prompt). The answer of a session that has gone is
//     discarded; its whole lines still run, as lines sent down a serial line do;
//   - a session with nothing sent, queued or running for `idleMs` is closed, with a note;
//   - output written while no line is answered (a restarted console's first prompt) is
//     dropped, as on a serial line nobody listens to.

import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SocketConsoleSink {
  pushInput(bytes: Uint8Array): void;
  /** Input bytes the driver has not taken yet. */
  readonly bufferedInput: number;
}

export interface SocketConsoleOptions {
  /** The bytes that end an answer: the console's prompt. */
  readonly answerEnd: string;
  /** A session with nothing to do for this long is closed (default 5 minutes). */
  readonly idleMs?: number;
  /** The longest unfinished line a session may hold; a longer one closes the session (default 16 MiB). */
  readonly maximumLineBytes?: number;
}

const CTRL_C = 0x03, CTRL_D = 0x04, LINE_FEED = 0x0a, CARRIAGE_RETURN = 0x0d;
const DEFAULT_IDLE_MS = 5 * 60_000;
const DEFAULT_MAXIMUM_LINE_BYTES = 16 * 1024 * 1024;

class Session {
  readonly socket: Socket;
  /** The unfinished line, in pieces. */
  partial: Buffer[] = [];
  partialBytes = 0;
  /** The last line ended with CR: a LF that comes next belongs to it. */
  afterCarriageReturn = false;
  /** Whole lines queued or being answered. */
  outstanding = 0;
  gone = false;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
  }
}

export class SocketConsole {
  readonly path: string;
  private readonly answerEnd: Buffer;
  private readonly idleMs: number;
  private readonly maximumLineBytes: number;
  private server: Server | undefined;
  private readonly sessions = new Set<Session>();
  private readonly lines: Array<{ session: Session; line: Uint8Array }> = [];
  /** The session whose line the console is answering. */
  private answering: Session | undefined;
  /** The console's prompt is the last thing it wrote: it takes the next line. */
  private ready = false;
  /** The last bytes of output, to find the prompt across writes. */
  private tail = Buffer.alloc(0);
  private sink: SocketConsoleSink | undefined;

  constructor(path: string, options: SocketConsoleOptions) {
    this.path = path;
    this.answerEnd = Buffer.from(options.answerEnd);
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.maximumLineBytes = options.maximumLineBytes ?? DEFAULT_MAXIMUM_LINE_BYTES;
  }

  /** The console device that receives the lines clients send. */
  connect(sink: SocketConsoleSink): void {
    this.sink = sink;
  }

  /** Bytes from the system: the answer of the line being answered (or dropped). */
  output(bytes: Uint8Array): void {
    const answering = this.answering;
    if (answering && !answering.gone) answering.socket.write(bytes);
    this.tail = Buffer.concat([this.tail, bytes]).subarray(-this.answerEnd.length);
    if (!this.tail.equals(this.answerEnd)) return;
    if (answering && (this.sink?.bufferedInput ?? 0) > 0) return;
    this.ready = true;
    if (answering) {
      this.answering = undefined;
      answering.outstanding--;
      this.armIdle(answering);
    }
    this.sendNext();
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
    for (const session of this.sessions) {
      clearTimeout(session.idleTimer);
      session.socket.destroy();
    }
    this.sessions.clear();
    this.server?.close();
    this.server = undefined;
    if (existsSync(this.path)) unlinkSync(this.path);
  }

  private accept(socket: Socket): void {
    const session = new Session(socket);
    this.sessions.add(session);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      session.gone = true;
      session.partial = [];
      clearTimeout(session.idleTimer);
      this.sessions.delete(session);
    });
    socket.on('data', (chunk: Buffer) => this.received(session, chunk));
    this.armIdle(session);
  }

  private received(session: Session, chunk: Buffer): void {
    let start = 0;
    const keep = (end: number) => {
      if (end > start) {
        session.partial.push(chunk.subarray(start, end));
        session.partialBytes += end - start;
      }
    };
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index]!;
      if (byte === LINE_FEED && session.afterCarriageReturn) {
        session.afterCarriageReturn = false;
        start = index + 1;
        continue;
      }
      session.afterCarriageReturn = false;
      if (byte === LINE_FEED || byte === CARRIAGE_RETURN) {
        keep(index);
        this.lines.push({ session, line: Buffer.concat([...session.partial, Buffer.from([LINE_FEED])]) });
        session.outstanding++;
        session.partial = [];
        session.partialBytes = 0;
        session.afterCarriageReturn = byte === CARRIAGE_RETURN;
        start = index + 1;
      } else if (byte === CTRL_C || byte === CTRL_D) {
        keep(index);
        if (byte === CTRL_C) {
          session.partial = [];
          session.partialBytes = 0;
        }
        start = index + 1;
      }
    }
    keep(chunk.length);
    if (session.partialBytes > this.maximumLineBytes) {
      session.partial = [];
      session.socket.end(`error: line too long (more than ${this.maximumLineBytes} bytes); closing this session\r\n`);
    }
    this.armIdle(session);
    this.sendNext();
  }

  /** Hands the next whole line to the console if it is ready for one. */
  private sendNext(): void {
    if (!this.ready || this.answering) return;
    const next = this.lines.shift();
    if (!next) return;
    this.ready = false;
    this.answering = next.session;
    this.sink?.pushInput(next.line);
  }

  /** (Re)starts the idle clock of a session that has nothing outstanding. */
  private armIdle(session: Session): void {
    clearTimeout(session.idleTimer);
    if (session.gone || session.outstanding > 0) return;
    session.idleTimer = setTimeout(() => {
      session.socket.end(`baton: closing this session: nothing sent for ${this.idleMs / 1000} s\r\n`);
    }, this.idleMs);
    session.idleTimer.unref();
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
