// The console's line discipline: turns raw terminal bytes into lines, as a tty's
// canonical mode does.
//
// Enter (CR, LF or CR LF) ends a line; Backspace/DEL erases a character; Ctrl-U erases
// the line; Ctrl-C abandons the line; Ctrl-D on an empty line is end of input. With echo
// on, typed characters and erasures are echoed back. Other control bytes are ignored.
// A line longer than MAXIMUM_LINE bytes is refused whole when it ends ('overlong'): none of
// it is run, and nothing of it is kept.

export type LineEvent =
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'overlong'; readonly bytes: number }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'end-of-input' };

const CTRL_C = 0x03, CTRL_D = 0x04, BACKSPACE = 0x08, LINE_FEED = 0x0a, CARRIAGE_RETURN = 0x0d, CTRL_U = 0x15, DELETE = 0x7f;
/** The longest line, in bytes of UTF-8, that a terminal takes. */
export const MAXIMUM_LINE = 4096;

export class LineDiscipline {
  private readonly echo: boolean;
  private pending: number[] = [];
  private lastWasCarriageReturn = false;
  /** Bytes of the current line once it is over MAXIMUM_LINE (0: it is not). */
  private overlongBytes = 0;
  private readonly decoder = new TextDecoder();

  constructor(options: { echo: boolean }) {
    this.echo = options.echo;
  }

  /** The line typed so far (to redraw it after printing something above the prompt). */
  get partialLine(): string {
    return this.decoder.decode(new Uint8Array(this.pending));
  }

  /** Consumes input bytes; returns what to echo and the events completed by them, in order. */
  feed(bytes: Uint8Array): { echo: string; events: LineEvent[] } {
    let echo = '';
    const events: LineEvent[] = [];
    for (const byte of bytes) {
      const afterCarriageReturn = this.lastWasCarriageReturn;
      this.lastWasCarriageReturn = byte === CARRIAGE_RETURN;
      if (byte === LINE_FEED && afterCarriageReturn) continue;
      switch (byte) {
        case LINE_FEED:
        case CARRIAGE_RETURN:
          events.push(this.overlongBytes > 0
            ? { kind: 'overlong', bytes: this.overlongBytes }
            : { kind: 'line', text: this.decoder.decode(new Uint8Array(this.pending)) });
          this.pending = [];
          this.overlongBytes = 0;
          echo += '\r\n';
          break;
        case BACKSPACE:
        case DELETE:
          if (this.pending.length > 0 && this.overlongBytes === 0) {
            // Erase a whole UTF-8 character: drop continuation bytes, then the lead byte.
            while (this.pending.length > 0 && (this.pending[this.pending.length - 1]! & 0xc0) === 0x80) this.pending.pop();
            this.pending.pop();
            echo += '\b \b';
          }
          break;
        case CTRL_U:
          echo += '\b \b'.repeat([...this.partialLine].length);
          this.pending = [];
          this.overlongBytes = 0;
          break;
        case CTRL_C:
          this.pending = [];
          this.overlongBytes = 0;
          echo += '^C\r\n';
          events.push({ kind: 'interrupt' });
          break;
        case CTRL_D:
          if (this.pending.length === 0) events.push({ kind: 'end-of-input' });
          break;
        default:
          if (byte < 0x20) break;
          if (this.overlongBytes > 0 || this.pending.length >= MAXIMUM_LINE) {
            // Count the rest of the line (to say how long it was); echo and keep none of it.
            this.overlongBytes = (this.overlongBytes || this.pending.length) + 1;
            break;
          }
          this.pending.push(byte);
          echo += String.fromCharCode(byte);
      }
    }
    return { echo: this.echo ? fixEcho(echo) : '', events };
  }
}

/** Echo is built byte by byte; re-decode multi-byte UTF-8 sequences so they print as typed. */
function fixEcho(echo: string): string {
  const bytes = Uint8Array.from(echo, (character) => character.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
