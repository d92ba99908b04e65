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
//   - a session that holds the floor mid-line and types nothing for `yieldAfterMs` while
//     another waits is set aside, so a half typed line blocks nobody for long: Ctrl-C
//     abandons its line in the console (its terminal sees the ^C and the prompt after it),
//     it goes to the back of the queue, and when its turn comes again the keys of its
//     unfinished line are typed again (the console's line editing rebuilds the same line),
//     followed by whatever it typed meanwhile;
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

/** How long a holder mid-line may type nothing while another session waits (default). */
const DEFAULT_YIELD_AFTER_MS = 2000;

interface Attached {
  readonly peer: TerminalPeer;
  waiting: Uint8Array[];
  gone: boolean;
  /** The keys of its unfinished line that the console has been sent. */
  line: Uint8Array[];
  /** Set aside mid-line: its keys wait until its turn comes again. */
  yielding: boolean;
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
  private readonly yieldAfterMs: number;
  private yieldTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(prompt: string, options: { yieldAfterMs?: number } = {}) {
    this.prompt = Buffer.from(prompt);
    this.yieldAfterMs = options.yieldAfterMs ?? DEFAULT_YIELD_AFTER_MS;
  }

  connect(sink: TerminalSink): void {
    this.sink = sink;
  }

  /** How many terminals are attached. */
  get count(): number {
    return this.sessions.size;
  }

  attach(peer: TerminalPeer): TerminalSession {
    const session: Attached = { peer, waiting: [new Uint8Array([CARRIAGE_RETURN])], gone: false, line: [], yielding: false };
    this.sessions.add(session);
    this.queue.push(session);
    this.pump();
    return {
      input: (bytes) => {
        if (session.gone || bytes.length === 0) return;
        if (this.holder !== session && !this.queue.includes(session)) this.queue.push(session);
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
    if (holder && (!this.lineSent || (!holder.yielding && holder.waiting.length > 0) || (this.sink?.bufferedInput ?? 0) > 0)) return;
    this.ready = true;
    if (holder) holder.yielding = false;
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
        // Set aside mid-line before: its unfinished line is typed again first.
        next.waiting.unshift(...next.line.splice(0));
      }
    }
    const holder = this.holder;
    if (holder && !holder.yielding && holder.waiting.length > 0) {
      for (const bytes of holder.waiting.splice(0)) {
        if (bytes.includes(LINE_FEED) || bytes.includes(CARRIAGE_RETURN) || bytes.includes(CTRL_C)) {
          this.lineSent = true;
          holder.line = [];
        } else if (!this.lineSent) {
          holder.line.push(bytes);
        }
        this.sink?.pushInput(bytes);
      }
    }
    this.armYield();
  }

  /** (Re)starts the wait after which a silent holder mid-line is set aside, while another session waits. */
  private armYield(): void {
    clearTimeout(this.yieldTimer);
    this.yieldTimer = undefined;
    const holder = this.holder;
    if (!holder || holder.yielding || this.lineSent || holder.line.length === 0 || this.queue.length === 0) return;
    this.yieldTimer = setTimeout(() => {
      this.yieldTimer = undefined;
      if (this.holder !== holder || this.lineSent || holder.gone || this.queue.length === 0) return;
      holder.yielding = true;
      this.lineSent = true;
      this.queue.push(holder);
      // Abandon its line in the console; the prompt that answers Ctrl-C passes the floor on.
      this.sink?.pushInput(new Uint8Array([CTRL_C]));
    }, this.yieldAfterMs);
    this.yieldTimer.unref?.();
  }
}
