// One terminal of the console: a character device, its line discipline, and the queue of
// command lines typed on it, run one at a time in the order typed. Tab asks completion.ts
// for the words the cursor's word can become; input that arrives meanwhile waits for it.

import type { ClientOf } from '../../ipc/define.js';
import type { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { runCommand, type CommandServices } from './commands.js';
import { completeLine } from './completion.js';
import { LineDiscipline, MAXIMUM_LINE, type LineEvent } from './line_discipline.js';

export const PROMPT = 'baton> ';

export interface TerminalOptions {
  readonly device: string;
  readonly echo: boolean;
  /** End of input on this terminal shuts the system down (the main console). */
  readonly endOfInputShutsDown: boolean;
}

export class Terminal {
  readonly options: TerminalOptions;
  private readonly device: ClientOf<typeof chardevInterface>;
  private readonly services: CommandServices;
  private discipline: LineDiscipline;
  private readonly queue: Array<Exclude<LineEvent, { kind: 'interrupt' }>> = [];
  /** Commands wait until the system has booted and the first prompt is shown. */
  private busy = true;
  /** A prompt is the last thing on this terminal's screen (log lines printed above must redraw it). */
  private promptShown = false;
  private closed = false;
  /** A Tab's completion is being asked for: input and hangups wait in the backlog. */
  private completing = false;
  private readonly backlog: Array<Uint8Array | 'hangup'> = [];
  private readonly encoder = new TextEncoder();
  /** Called when a command took the system down (shutdown, reboot). */
  onFinal: () => void = () => undefined;

  constructor(options: TerminalOptions, device: ClientOf<typeof chardevInterface>, services: CommandServices) {
    this.options = options;
    this.device = device;
    this.services = services;
    this.discipline = this.newDiscipline();
  }

  /** A fresh line discipline; Up recalls this terminal's lines from the preserved history. */
  private newDiscipline(): LineDiscipline {
    const recall = this.services.history.last().filter((entry) => entry.terminal === this.options.device).map((entry) => entry.line);
    return new LineDiscipline({ echo: this.options.echo, recall, prompt: () => (this.promptShown ? PROMPT : '') });
  }

  async open(): Promise<void> {
    await this.device.listen({});
  }

  /**
   * Shows the first prompt and starts running the commands typed so far. A terminal
   * without echo (the control socket) gets no first prompt: its client sends a command
   * and reads up to the prompt that ends the answer, and an early prompt would end it.
   */
  async prompt(): Promise<void> {
    if (this.options.echo) {
      this.promptShown = true;
      await this.write(PROMPT);
    }
    this.busy = false;
    void this.drain();
  }

  /** Input bytes from the device. */
  input(data: Uint8Array): void {
    if (this.closed) return;
    if (this.completing) {
      this.backlog.push(data);
      return;
    }
    const discipline = this.discipline;
    const { echo, events, completion, rest } = discipline.feed(data);
    if (echo) void this.write(echo);
    for (const event of events) {
      if (event.kind === 'interrupt') {
        // A new prompt if one was on screen or nothing runs (a prompt counts once written,
        // before its write returns), and no typed-ahead line waits to run.
        if ((this.promptShown || !this.busy) && this.queue.length === 0) {
          this.promptShown = true;
          void this.write(PROMPT);
        }
        continue;
      }
      this.queue.push(event);
      // Its echo ended the prompt's line, even while the previous command is still finishing.
      this.promptShown = false;
    }
    void this.drain();
    if (completion) {
      this.completing = true;
      void completeLine(completion.before, this.services)
        .catch(() => ({ word: '', candidates: [] }))
        .then((answer) => {
          const shown = discipline.complete(answer);
          if (shown) void this.write(shown);
          this.resume(rest);
        });
    }
  }

  /** A completion is shown: take the rest of its input, then what waited, in order. */
  private resume(rest: Uint8Array): void {
    this.completing = false;
    for (const item of [rest, ...this.backlog.splice(0)]) {
      if (this.completing) this.backlog.push(item);
      else if (item === 'hangup') this.hangup();
      else this.input(item);
    }
  }

  /** The device hung up: end of input for the main console, a finished session for a socket. */
  hangup(): void {
    if (this.completing) {
      this.backlog.push('hangup');
      return;
    }
    if (this.options.endOfInputShutsDown) {
      this.queue.push({ kind: 'end-of-input' });
      void this.drain();
    } else {
      this.discipline = this.newDiscipline();
    }
  }

  /** Prints a log line above the prompt, then redraws the prompt and what was typed. */
  async printAbove(line: string): Promise<void> {
    if (this.closed) return;
    // Redraw the prompt only if one is on screen: while a command runs there is none, but
    // its final prompt counts from the moment it is written, before the command is "done".
    const redraw = this.promptShown ? PROMPT + this.discipline.redraw() : '';
    await this.write(`\r\x1b[K${line}\r\n${redraw}`);
  }

  write(text: string): Promise<void> {
    const bytes = this.encoder.encode(text);
    const writes: Promise<unknown>[] = [];
    for (let offset = 0; offset < bytes.length; offset += 16384) {
      writes.push(this.device.write({ data: bytes.subarray(offset, offset + 16384) }));
    }
    return Promise.all(writes).then(() => undefined);
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const next = this.queue.shift()!;
        this.promptShown = false;
        if (next.kind === 'overlong') {
          await this.write(`error: line too long (${next.bytes} bytes; a line holds at most ${MAXIMUM_LINE}): none of it was run\r\n`);
          this.promptShown = true;
          await this.write(PROMPT);
          continue;
        }
        const line = next.kind === 'line' ? next.text : 'shutdown';
        if (next.kind === 'line' && line.trim()) this.services.history.add({ terminal: this.options.device, line: line.trim() });
        const result = await runCommand(line, this.services);
        const output = result.output ? result.output.replace(/\r?\n/g, '\r\n') + '\r\n' : '';
        await this.write(output);
        if (result.final && !result.output.startsWith('error:')) {
          this.closed = true;
          this.onFinal();
          // The answer is on the device: now the kernel may stop everything.
          await this.services.kernel.proceed({}).catch(() => undefined);
          return;
        }
        this.promptShown = true;
        await this.write(PROMPT);
      }
    } finally {
      this.busy = false;
    }
  }
}
