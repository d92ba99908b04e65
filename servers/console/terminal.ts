// One terminal of the console: a character device, its line discipline, and the queue of
// command lines typed on it, run one at a time in the order typed. Tab asks completion.ts
// for the words the cursor's word can become; input that arrives meanwhile waits for it.
//
// The terminal reads its device in a loop (chardev.read). What it reads is kept
// (kept_input.ts) until a line is taken to run, so a new generation of the console — after
// `restart console`, a crash or a kexec — replays what was typed ahead and runs it. The
// place reading goes on from is kept in the same step as the bytes, and the driver forgets
// input only once a read passes it, so a console killed with a reply on its way loses no
// input and runs none twice: its next generation reads the same bytes again. A read that
// fails because the driver restarted is simply read again: the new driver kept the
// device's input. Output is written in order, one write after another; a write cut off by
// a driver restart is written again (the part shown before the restart may show twice).
// End of input (a hangup) on the main console means shutdown; on another terminal it ends
// a session: its unfinished line and the output of its commands are discarded.

import type { ClientOf } from '../../ipc/define.js';
import { PeerRestartedError } from '../../ipc/errors.js';
import { READ_MAXIMUM_BYTES, READ_MAXIMUM_WAIT_MS, type chardevInterface } from '../../ipc/interfaces/chardev.js';
import type { Logger } from '../../microkernel/userlib/logger.js';
import { runCommand, type CommandServices } from './commands.js';
import { completeLine } from './completion.js';
import type { KeptInput, StreamPlace } from './kept_input.js';
import { LineDiscipline, MAXIMUM_LINE } from './line_discipline.js';

export const PROMPT = 'baton> ';
/** Between read attempts while the device's driver is stopped or missing. */
const RETRY_MS = 1000;
/** Bytes that end a line or act at once: CR, LF, Ctrl-C, Ctrl-D. */
const ACTS = new Set([0x0d, 0x0a, 0x03, 0x04]);
const LINE_FEED = 0x0a, CARRIAGE_RETURN = 0x0d;

export interface TerminalOptions {
  readonly device: string;
  readonly echo: boolean;
  /** End of input on this terminal shuts the system down (the main console). */
  readonly endOfInputShutsDown: boolean;
}

type Queued =
  | { kind: 'line'; text: string; end: number; carriageReturn: boolean; session: number }
  | { kind: 'overlong'; bytes: number; end: number; carriageReturn: boolean; session: number }
  | { kind: 'end-of-input'; end: number | undefined; session: number };

export class Terminal {
  readonly options: TerminalOptions;
  private readonly device: ClientOf<typeof chardevInterface>;
  private readonly services: CommandServices;
  private readonly kept: KeptInput;
  private readonly log: Logger;
  private discipline: LineDiscipline;
  private readonly queue: Queued[] = [];
  /** Commands wait until the system has booted and the first prompt is shown. */
  private busy = true;
  /** A prompt is the last thing on this terminal's screen (log lines printed above must redraw it). */
  private promptShown = false;
  private closed = false;
  /** Input position (bytes since kept[0]) fed to the discipline, and where the last queued line ended. */
  private fed = 0;
  private queuedEnd = 0;
  /** Counts hangups: output of a command typed in an earlier session is discarded. */
  private session = 0;
  private writing: Promise<void> = Promise.resolve();
  /** A prompt could not be written (the driver was stopped): show it again when the device is back. */
  private promptLost = false;
  private roomWaiter: (() => void) | undefined;
  /** A Tab's completion is being asked for: input and hangups wait in the backlog. */
  private completing = false;
  private readonly backlog: Array<{ data: Uint8Array; echo: boolean } | { hangup: StreamPlace }> = [];
  /** The line being run: kept until its answer is written (its `end` moves with consume()). */
  private running: Queued | undefined;
  /** A line the previous generation died running: said once the first prompt is up. */
  private interrupted: string | undefined;
  /** A hangup read but waiting in the backlog: reading waits for it, so its place is kept with its effect. */
  private hangupHandled: Promise<void> | undefined;
  private handledHangup: () => void = () => undefined;
  private readonly encoder = new TextEncoder();
  /** Called when a command took the system down (shutdown, reboot). */
  onFinal: () => void = () => undefined;

  constructor(options: TerminalOptions, device: ClientOf<typeof chardevInterface>, services: CommandServices, kept: KeptInput, log: Logger) {
    this.options = options;
    this.device = device;
    this.services = services;
    this.kept = kept;
    this.log = log;
    this.discipline = this.newDiscipline();
  }

  /** A fresh line discipline; Up recalls this terminal's lines from the preserved history. */
  private newDiscipline(): LineDiscipline {
    const recall = this.services.history.last().filter((entry) => entry.terminal === this.options.device).map((entry) => entry.line);
    return new LineDiscipline({ echo: this.options.echo, recall, prompt: () => (this.promptShown ? PROMPT : '') });
  }

  /** Replays what the previous generation kept, then reads the device until the system goes down. */
  open(): void {
    if (this.kept.running > 0) {
      // The previous generation died running this line: it is not run again (it may have done its work), but it is said.
      const line = new LineDiscipline({ echo: false }).feed(this.kept.bytes().subarray(0, this.kept.running)).events.find((event) => event.kind === 'line');
      this.interrupted = line?.kind === 'line' ? line.text.trim() : undefined;
      this.kept.take(this.kept.running, this.kept.runningEndedWithCarriageReturn);
    }
    let replay = this.kept.bytes();
    if (this.kept.afterCarriageReturn && replay[0] === LINE_FEED) {
      this.kept.take(1, false);
      replay = replay.subarray(1);
    }
    if (replay.length > 0) {
      this.log.info({ device: this.options.device, bytes: replay.length }, 'running input typed ahead before the restart');
      // Already echoed by the generation that received it.
      this.feed(replay, false);
    }
    void this.readLoop();
  }

  /**
   * Shows the first prompt and starts running the commands typed so far. On the control
   * socket the first prompt says the console is ready for a line (and ends the answer of a
   * line the previous generation died running: `restart console`, `kexec`, `reboot`);
   * there it is left out when a line is already waiting, whose answer's prompt says it.
   */
  async prompt(): Promise<void> {
    if (this.interrupted !== undefined) {
      this.log.warn({ device: this.options.device, line: this.interrupted }, 'the console restarted while running a line; it was not run again');
      await this.write(`the console restarted while running "${this.interrupted}" here; it was not run again\r\n`);
      this.interrupted = undefined;
    }
    // Without echo a line already waiting is answered first; its prompt says it is ready.
    if (this.options.echo || this.queue.length === 0) {
      this.promptShown = true;
      await this.write(PROMPT + (this.options.echo ? this.discipline.redraw() : ''));
    }
    this.busy = false;
    void this.drain();
  }

  /** The console is stopping: run, read and write nothing more. */
  close(): void {
    this.closed = true;
  }

  /** Prints a log line above the prompt, then redraws the prompt and what was typed. */
  async printAbove(line: string): Promise<void> {
    if (this.closed) return;
    // Redraw the prompt only if one is on screen: while a command runs there is none, but
    // its final prompt counts from the moment it is written, before the command is "done".
    const redraw = this.promptShown ? PROMPT + this.discipline.redraw() : '';
    await this.write(`\r\x1b[K${line}\r\n${redraw}`);
  }

  /** Writes `text` after everything written before it; never rejects (a lost write is logged). */
  write(text: string, session = this.session): Promise<void> {
    const bytes = this.encoder.encode(text);
    const done = this.writing.then(async () => {
      for (let offset = 0; offset < bytes.length; offset += 16384) {
        if (session !== this.session) return;
        await this.writeChunk(bytes.subarray(offset, offset + 16384));
      }
    });
    this.writing = done;
    return done;
  }

  private async writeChunk(data: Uint8Array): Promise<void> {
    try {
      await this.device.write({ data });
    } catch (error) {
      if (error instanceof PeerRestartedError) {
        await this.device.write({ data }).catch((again: unknown) => this.lost(data, again));
      } else this.lost(data, error);
    }
  }

  private lost(data: Uint8Array, error: unknown): void {
    if (new TextDecoder().decode(data).endsWith(PROMPT)) this.promptLost = true;
    this.log.warn({ device: this.options.device, bytes: data.length, error: (error as Error).message }, 'output lost');
  }

  private async readLoop(): Promise<void> {
    let ended = false;
    let failing = false;
    /** The driver restarted or came back: probe at once. */
    let reconnecting = false;
    while (!this.closed) {
      if (this.kept.room() === 0) {
        // Nothing queued, and still full: an overlong unfinished line (refused when it ends); keep no more of it.
        if (this.queue.length === 0) this.consume(this.fed, false);
        else await new Promise<void>((resolve) => (this.roomWaiter = resolve));
        continue;
      }
      if (this.hangupHandled) {
        await this.hangupHandled;
        continue;
      }
      let reply;
      const place = this.kept.place;
      try {
        const waitMs = reconnecting ? 0 : READ_MAXIMUM_WAIT_MS;
        reply = await this.device.read({
          maximumBytes: Math.min(this.kept.room(), READ_MAXIMUM_BYTES), waitMs, afterHangup: ended, stream: place.stream, from: place.next,
        });
      } catch (error) {
        reconnecting = true;
        if (error instanceof PeerRestartedError) continue;
        if (!failing) this.log.warn({ device: this.options.device, error: (error as Error).message }, 'cannot read the terminal; trying again every second');
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (failing) this.log.info({ device: this.options.device }, 'reading the terminal again');
      failing = false;
      if (this.closed) return;
      if (reply.stream === place.stream && reply.at !== place.next) {
        this.log.warn({ device: this.options.device, from: place.next, at: reply.at }, 'the driver answered from another place in its input than asked');
      }
      const afterData: StreamPlace = { stream: reply.stream, next: (reply.at + reply.data.length) >>> 0 };
      const afterReply: StreamPlace = { stream: reply.stream, next: reply.next };
      if (reply.data.length > 0) {
        ended = false;
        this.kept.receive(reply.data, afterData);
        this.feed(reply.data, this.options.echo);
      } else if (afterData.stream !== place.stream || afterData.next !== place.next) this.kept.advance(afterData);
      if (reconnecting) {
        reconnecting = false;
        this.reprompt();
      }
      if (reply.ended && !ended) {
        ended = true;
        this.hangup(afterReply);
      } else if (afterReply.next !== afterData.next) this.kept.advance(afterReply); // a hangup this terminal knew of already
    }
  }

  /**
   * The device came back (its driver restarted or was started): if a prompt was lost with
   * the driver and the terminal is idle, show it again — on the control socket it is what
   * says the console is ready for a line.
   */
  private reprompt(): void {
    if (!this.promptLost || this.busy || this.queue.length > 0 || this.closed) return;
    this.promptLost = false;
    this.promptShown = true;
    void this.write(PROMPT + (this.options.echo ? this.discipline.redraw() : ''));
  }

  /** Runs input bytes (already kept) through the discipline; lines join the queue with where they end. */
  private feed(data: Uint8Array, echo: boolean): void {
    if (this.completing) {
      this.backlog.push({ data, echo });
      return;
    }
    let start = 0;
    for (let index = 0; index < data.length; index++) {
      if (!ACTS.has(data[index]!) && index < data.length - 1) continue;
      const segment = data.subarray(start, index + 1);
      start = index + 1;
      const discipline = this.discipline;
      const result = discipline.feed(segment);
      // A Tab stops the feed: what follows it is fed once the completion is shown.
      this.fed += segment.length - result.rest.length;
      if (echo && result.echo) void this.write(result.echo);
      for (const event of result.events) {
        const carriageReturn = segment[segment.length - 1] === CARRIAGE_RETURN;
        if (event.kind === 'line') {
          this.queue.push({ kind: 'line', text: event.text, end: this.fed, carriageReturn, session: this.session });
          this.queuedEnd = this.fed;
          // Its echo ended the prompt's line, even while the previous command is still finishing.
          this.promptShown = false;
        } else if (event.kind === 'overlong') {
          this.queue.push({ kind: 'overlong', bytes: event.bytes, end: this.fed, carriageReturn, session: this.session });
          this.queuedEnd = this.fed;
          this.promptShown = false;
        } else if (event.kind === 'end-of-input') {
          // Ctrl-D on an empty line ends the main console's input; elsewhere it does nothing.
          if (this.options.endOfInputShutsDown) {
            this.queue.push({ kind: 'end-of-input', end: this.fed, session: this.session });
            this.queuedEnd = this.fed;
            this.promptShown = false;
          }
        } else if ((this.promptShown || !this.busy) && this.queue.length === 0) {
          // A new prompt if one was on screen or nothing runs (a prompt counts once written,
          // before its write returns), and no typed-ahead line waits to run.
          this.promptShown = true;
          void this.write(PROMPT);
        }
      }
      if (result.completion) {
        this.completing = true;
        const remaining = new Uint8Array(result.rest.length + data.length - start);
        remaining.set(result.rest);
        remaining.set(data.subarray(start), result.rest.length);
        void completeLine(result.completion.before, this.services)
          .catch(() => ({ word: '', candidates: [] }))
          .then((answer) => {
            const shown = discipline.complete(answer);
            if (shown) void this.write(shown);
            this.resume({ data: remaining, echo });
          });
        void this.drain();
        return;
      }
    }
    void this.drain();
  }

  /** A completion is shown: take the rest of its input, then what waited, in order. */
  private resume(rest: { data: Uint8Array; echo: boolean }): void {
    this.completing = false;
    for (const item of [rest, ...this.backlog.splice(0)]) {
      if (this.completing) this.backlog.push(item);
      else if ('hangup' in item) this.hangup(item.hangup);
      else this.feed(item.data, item.echo);
    }
  }

  /** The device hung up (`place`: past the hangup): end of input for the main console, a finished session for a socket. */
  private hangup(place: StreamPlace): void {
    if (this.completing) {
      this.backlog.push({ hangup: place });
      this.hangupHandled ??= new Promise((resolve) => (this.handledHangup = resolve));
      return;
    }
    if (this.options.endOfInputShutsDown) {
      this.kept.advance(place);
      this.queue.push({ kind: 'end-of-input', end: undefined, session: this.session });
      void this.drain();
    } else {
      // The session's unfinished line goes, and the output of its commands.
      this.kept.hangUp(this.queuedEnd, place);
      this.fed = this.queuedEnd;
      this.discipline = this.newDiscipline();
      this.session++;
    }
    if (this.hangupHandled && !this.backlog.some((item) => 'hangup' in item)) {
      this.hangupHandled = undefined;
      this.handledHangup();
    }
  }

  /** Drops kept input up to stream position `end` (a line taken to run). */
  private consume(end: number, carriageReturn: boolean): void {
    this.kept.take(end, carriageReturn);
    this.fed -= end;
    this.queuedEnd = Math.max(0, this.queuedEnd - end);
    for (const entry of this.queue) if (entry.end !== undefined) entry.end -= end;
    if (this.running?.end !== undefined) this.running.end = Math.max(0, this.running.end - end);
    this.roomWaiter?.();
    this.roomWaiter = undefined;
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const next = this.queue.shift()!;
        // A line is kept until its answer is written, unless it ends this console or the system (its next generation is its answer).
        const kept = next.kind === 'line' && !endsTheConsole(next.text);
        if (kept) {
          this.running = next;
          this.kept.begin(next.end, next.carriageReturn);
        } else if (next.end !== undefined) this.consume(next.end, next.kind !== 'end-of-input' && next.carriageReturn);
        this.promptShown = false;
        if (next.kind === 'overlong') {
          await this.write(`error: line too long (${next.bytes} bytes; a line holds at most ${MAXIMUM_LINE}): none of it was run\r\n`, next.session);
          if (next.session === this.session) this.promptShown = true;
          await this.write(PROMPT, next.session);
          continue;
        }
        const line = next.kind === 'line' ? next.text : 'shutdown';
        if (next.kind === 'line' && line.trim()) this.services.history.add({ terminal: this.options.device, line: line.trim() });
        // A command that ends this console (restart console, kexec, …) runs once its echo and
        // everything before it are on the device: a generation killed with output still queued loses it.
        if (!kept) await this.writing;
        const result = await runCommand(line, this.services);
        // Stopping (restart console): the command's error is the stop's, not the user's.
        if (this.closed) return;
        const output = result.output ? result.output.replace(/\r?\n/g, '\r\n') + '\r\n' : '';
        await this.write(output, next.session);
        if (kept) {
          this.running = undefined;
          this.consume(next.end, next.kind === 'line' && next.carriageReturn);
        }
        if (result.final && !result.output.startsWith('error:')) {
          this.closed = true;
          this.onFinal();
          // The answer is on the device: now the kernel may stop everything.
          await this.services.kernel.proceed({}).catch(() => undefined);
          return;
        }
        if (next.session === this.session) this.promptShown = true;
        await this.write(PROMPT, next.session);
      }
    } finally {
      this.busy = false;
    }
  }
}

/** True for a line whose command ends this console generation or the whole system: it is done once it ran, whether or not its answer got out. */
function endsTheConsole(text: string): boolean {
  const [command, target] = text.trim().split(/\s+/);
  if (command === 'kexec' || command === 'reboot' || command === 'shutdown') return true;
  return (command === 'kill' || command === 'restart' || command === 'stop') && target === 'console';
}
