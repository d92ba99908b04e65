// The page's terminals: any number of browser terminals (xterm.js over a WebSocket) share
// one console device of the board, whose guest side is a terminal of the console server
// with echo and line editing. They take turns as the control socket's sessions do
// (socket_console.ts), but key by key instead of line by line, so the console's own line
// editing (arrows, Tab, history, Ctrl-W, ...) works in each:
//
//   - a session takes the floor when it has bytes to send and the console is ready (its
//     prompt is the last thing it wrote); from then on its keys go to the console as they
//     come and the console's output (echo, redraws, the answer) goes to it alone;
//   - it gives the floor back once it has sent a line end (or Ctrl-C) and the console has written its
//     prompt again with nothing left unread; the next waiting session takes it;
//   - output while nobody holds the floor (a restarted console's first prompt) goes to all;
//   - a new session starts with an empty line queued, so its first answer is a prompt of
//     its own; a session that leaves while holding the floor mid-line sends Ctrl-C, which
//     abandons the line, and the floor comes back with the prompt after it.
//
// Keys a session sends while another holds the floor wait here, in order.

export interface TerminalSink {
  pushInput(bytes: Uint8Array): void;
  /** Input bytes the driver has not taken yet. */
  readonly bufferedInput: number;
}

/** One browser terminal, as the sessions see it. */
export interface TerminalPeer {
  write(bytes: Uint8Array): void;
}

export interface TerminalSession {
  /** Keys typed in this terminal. */
  input(bytes: Uint8Array): void;
  /** The terminal closed. */
  detach(): void;
}

const CTRL_C = 0x03, LINE_FEED = 0x0a, CARRIAGE_RETURN = 0x0d;

interface Attached {
  readonly peer: TerminalPeer;
  waiting: Uint8Array[];
  gone: boolean;
}

export class TerminalSessions {
  private readonly prompt: Buffer;
  private readonly sessions = new Set<Attached>();
  /** Sessions with keys waiting for the floor, in the order they started waiting. */
  private readonly queue: Attached[] = [];
  private holder: Attached | undefined;
  /** The holder has sent a line end: its answer ends at the next prompt. */
  private lineSent = false;
  /** The console's prompt is the last thing it wrote. */
  private ready = false;
  private tail = Buffer.alloc(0);
  private sink: TerminalSink | undefined;

  constructor(prompt: string) {
    this.prompt = Buffer.from(prompt);
  }

  connect(sink: TerminalSink): void {
    this.sink = sink;
  }

  /** How many terminals are attached. */
  get count(): number {
    return this.sessions.size;
  }

  attach(peer: TerminalPeer): TerminalSession {
    const session: Attached = { peer, waiting: [new Uint8Array([CARRIAGE_RETURN])], gone: false };
    this.sessions.add(session);
    this.queue.push(session);
    this.pump();
    return {
      input: (bytes) => {
        if (session.gone || bytes.length === 0) return;
        if (session.waiting.length === 0 && this.holder !== session) this.queue.push(session);
        session.waiting.push(bytes);
        this.pump();
      },
      detach: () => this.detach(session),
    };
  }

  /** Bytes the console wrote to this terminal device. */
  output(bytes: Uint8Array): void {
    const holder = this.holder;
    if (holder) {
      if (!holder.gone) holder.peer.write(bytes);
    } else {
      for (const session of this.sessions) session.peer.write(bytes);
    }
    this.tail = Buffer.concat([this.tail, bytes]).subarray(-this.prompt.length);
    if (!this.tail.equals(this.prompt)) return;
    if (holder && (!this.lineSent || holder.waiting.length > 0 || (this.sink?.bufferedInput ?? 0) > 0)) return;
    this.ready = true;
    this.holder = undefined;
    this.lineSent = false;
    this.pump();
  }

  private detach(session: Attached): void {
    if (session.gone) return;
    session.gone = true;
    session.waiting = [];
    this.sessions.delete(session);
    const queued = this.queue.indexOf(session);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (this.holder === session && !this.lineSent) {
      // Abandon its unfinished line; the prompt that answers Ctrl-C gives the floor back.
      this.sink?.pushInput(new Uint8Array([CTRL_C]));
      this.lineSent = true;
    }
  }

  /** Gives the floor to the next waiting session when the console is ready, and sends the holder's keys. */
  private pump(): void {
    if (!this.holder && this.ready) {
      const next = this.queue.shift();
      if (next) {
        this.holder = next;
        this.ready = false;
      }
    }
    const holder = this.holder;
    if (!holder || holder.waiting.length === 0) return;
    for (const bytes of holder.waiting.splice(0)) {
      if (bytes.includes(LINE_FEED) || bytes.includes(CARRIAGE_RETURN) || bytes.includes(CTRL_C)) this.lineSent = true;
      this.sink?.pushInput(bytes);
    }
  }
}
