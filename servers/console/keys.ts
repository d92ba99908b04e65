// Terminal input bytes to editing keys: UTF-8 characters, control bytes and the escape
// sequences that terminals send for arrows, Home, End and Delete (xterm's CSI and SS3
// forms, with or without modifiers). A sequence split across reads is completed by the
// next read. Unknown sequences, control bytes and broken UTF-8 are dropped whole: they
// never become text.

export type EditKey =
  | 'accept' | 'erase-back' | 'erase-forward' | 'end-of-input-or-erase-forward'
  | 'left' | 'right' | 'word-left' | 'word-right' | 'home' | 'end'
  | 'previous' | 'next'
  | 'erase-to-start' | 'erase-to-end' | 'erase-word'
  | 'interrupt' | 'clear-screen' | 'complete';

export type Key = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'edit'; readonly key: EditKey };

const ESCAPE = 0x1b, CARRIAGE_RETURN = 0x0d, LINE_FEED = 0x0a;

/** What each control byte does (readline's and bash's defaults). */
const CONTROL_KEYS: Partial<Record<number, EditKey>> = {
  0x01: 'home', // Ctrl-A
  0x02: 'left', // Ctrl-B
  0x03: 'interrupt', // Ctrl-C
  0x04: 'end-of-input-or-erase-forward', // Ctrl-D
  0x05: 'end', // Ctrl-E
  0x06: 'right', // Ctrl-F
  0x08: 'erase-back', // Backspace (Ctrl-H)
  0x09: 'complete', // Tab
  0x0a: 'accept', // LF
  0x0b: 'erase-to-end', // Ctrl-K
  0x0c: 'clear-screen', // Ctrl-L
  0x0d: 'accept', // CR
  0x0e: 'next', // Ctrl-N
  0x10: 'previous', // Ctrl-P
  0x15: 'erase-to-start', // Ctrl-U
  0x17: 'erase-word', // Ctrl-W
  0x7f: 'erase-back', // DEL, what most terminals send for Backspace
};

/** The final byte of CSI or SS3 sequences; `word` is the same key with Ctrl or Alt held. */
const CURSOR_KEYS: Partial<Record<string, { plain: EditKey; word?: EditKey }>> = {
  A: { plain: 'previous' },
  B: { plain: 'next' },
  C: { plain: 'right', word: 'word-right' },
  D: { plain: 'left', word: 'word-left' },
  H: { plain: 'home' },
  F: { plain: 'end' },
};

/** `ESC [ N ~` keys: the vt220 and rxvt numbers for Home, Delete and End. */
const TILDE_KEYS: Partial<Record<string, EditKey>> = { 1: 'home', 7: 'home', 3: 'erase-forward', 4: 'end', 8: 'end' };

/** Alt (ESC prefix) with a character: word moves and erases. */
const META_KEYS: Partial<Record<number, EditKey>> = { 0x62: 'word-left', 0x66: 'word-right', 0x7f: 'erase-word', 0x08: 'erase-word' };

export class KeyDecoder {
  /** Bytes of an escape sequence or UTF-8 character not yet complete. */
  private pending: number[] = [];
  private lastWasCarriageReturn = false;
  private readonly decoder = new TextDecoder();

  /** Decodes one byte; returns the key it completes, if any. */
  push(byte: number): Key | undefined {
    const afterCarriageReturn = this.lastWasCarriageReturn;
    this.lastWasCarriageReturn = byte === CARRIAGE_RETURN && this.pending.length === 0;
    if (this.pending.length > 0) return this.continueSequence(byte);
    if (byte === LINE_FEED && afterCarriageReturn) return undefined; // CR LF is one Enter
    if (byte === ESCAPE || byte >= 0xc0) {
      this.pending.push(byte);
      return undefined;
    }
    if (byte >= 0x80) return undefined; // a continuation byte with no lead byte
    if (byte < 0x20 || byte === 0x7f) {
      const key = CONTROL_KEYS[byte];
      return key ? { kind: 'edit', key } : undefined;
    }
    return { kind: 'text', text: String.fromCharCode(byte) };
  }

  private continueSequence(byte: number): Key | undefined {
    const first = this.pending[0]!;
    if (first !== ESCAPE) return this.continueCharacter(byte);
    if (byte < 0x20) {
      // A control byte (Enter, another ESC) ends an unfinished sequence: drop it, take the byte.
      this.pending = [];
      return this.push(byte);
    }
    this.pending.push(byte);
    const [, introducer] = this.pending;
    if (this.pending.length === 2) {
      if (introducer === 0x5b || introducer === 0x4f) return undefined; // CSI or SS3: more to come
      this.pending = [];
      const key = META_KEYS[byte];
      return key ? { kind: 'edit', key } : undefined;
    }
    if (introducer === 0x4f) return this.finish(String.fromCharCode(byte), '');
    // CSI: parameter and intermediate bytes (0x20-0x3f) until a final byte (0x40-0x7e).
    if (byte >= 0x20 && byte <= 0x3f) {
      if (this.pending.length > 32) this.pending = []; // not a key any terminal sends: drop it
      return undefined;
    }
    const parameters = String.fromCharCode(...this.pending.slice(2, -1));
    return this.finish(String.fromCharCode(byte), parameters);
  }

  private finish(final: string, parameters: string): Key | undefined {
    this.pending = [];
    if (final === '~') {
      const key = TILDE_KEYS[parameters.split(';')[0]!];
      return key ? { kind: 'edit', key } : undefined;
    }
    const cursor = CURSOR_KEYS[final];
    if (!cursor) return undefined;
    // xterm sends modifiers as a second parameter: 1;5C is Ctrl-Right, 1;3C Alt-Right.
    const modifier = Number(parameters.split(';')[1] ?? '1');
    return { kind: 'edit', key: modifier > 1 && cursor.word ? cursor.word : cursor.plain };
  }

  private continueCharacter(byte: number): Key | undefined {
    if ((byte & 0xc0) !== 0x80) {
      // The character was cut short: it is dropped, and this byte starts afresh.
      this.pending = [];
      return this.push(byte);
    }
    this.pending.push(byte);
    const lead = this.pending[0]!;
    const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (this.pending.length < length) return undefined;
    const text = this.decoder.decode(new Uint8Array(this.pending));
    this.pending = [];
    return { kind: 'text', text };
  }
}
