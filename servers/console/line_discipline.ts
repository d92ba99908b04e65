// The console's line discipline: turns raw terminal bytes (keys.ts) into lines, with the
// editing a shell gives.
//
// Enter (CR, LF or CR LF) ends a line. Left/Right (Ctrl-B/Ctrl-F) move by a character,
// Ctrl/Alt-Left/Right (Alt-B/Alt-F) by a word, Home/End (Ctrl-A/Ctrl-E) to either end;
// Backspace erases before the cursor, Delete (Ctrl-D on a line with text) under it; Ctrl-W
// erases the word before the cursor, Ctrl-U everything before it, Ctrl-K everything from
// it. Up/Down (Ctrl-P/Ctrl-N) step through the lines entered before (the recall list, the
// newest last); the line being typed comes back after the newest. Tab asks for completion
// (feed stops there: the caller answers with complete()). Ctrl-L clears the screen and
// redraws the prompt and the line. Ctrl-C abandons the line; Ctrl-D on an empty line is
// end of input. A line longer than MAXIMUM_LINE bytes is refused whole when it ends
// ('overlong'): none of it is run, and nothing past the limit is kept or echoed.
//
// With echo on, each edit is echoed as the least that makes the screen row show the line:
// characters rewritten, Backspace to move left, spaces to erase. It assumes the line fits
// the terminal's width and each character takes one column.

import { KeyDecoder, type EditKey } from './keys.js';

export type LineEvent =
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'overlong'; readonly bytes: number }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'end-of-input' };

/** Tab was pressed: complete the word that ends at the cursor, given the text before it. */
export interface CompletionRequest {
  readonly before: string;
}

/** The answer to a CompletionRequest: the word completed and the words it could become. */
export interface Completion {
  readonly word: string;
  readonly candidates: readonly string[];
}

export interface FeedResult {
  readonly echo: string;
  readonly events: LineEvent[];
  /** Set when Tab stopped the feed: call complete(), then feed `rest`. */
  readonly completion?: CompletionRequest;
  readonly rest: Uint8Array;
}

/** The longest line, in bytes of UTF-8, that a terminal takes. */
export const MAXIMUM_LINE = 4096;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';
const BELL = '\x07';

export interface LineDisciplineOptions {
  readonly echo: boolean;
  /** Lines entered before, the newest last (Up recalls them); lines entered here join them. */
  readonly recall?: readonly string[];
  /** The prompt on screen now ('' when none), for redrawing after Ctrl-L or a completion list. */
  readonly prompt?: () => string;
}

export class LineDiscipline {
  private readonly echo: boolean;
  private readonly prompt: () => string;
  private readonly keys = new KeyDecoder();
  /** The line, one code point per element, and the cursor's index in it. */
  private characters: string[] = [];
  private cursor = 0;
  private bytes = 0;
  /** Bytes of the current line once it is over MAXIMUM_LINE (0: it is not). */
  private overlongBytes = 0;
  private readonly recall: string[];
  /** While stepping through recall: the index shown, and the line that was being typed. */
  private recalling: { index: number; draft: string[] } | undefined;

  constructor(options: LineDisciplineOptions) {
    this.echo = options.echo;
    this.prompt = options.prompt ?? (() => '');
    this.recall = [...(options.recall ?? [])];
  }

  /** The line typed so far. */
  get partialLine(): string {
    return this.characters.join('');
  }

  /** The line typed so far with the cursor where it is: to redraw it after a prompt. */
  redraw(): string {
    return this.partialLine + moveLeft(this.characters.length - this.cursor);
  }

  /** Consumes input bytes up to a Tab or their end; returns what to echo and the events completed, in order. */
  feed(input: Uint8Array): FeedResult {
    let echo = '';
    const events: LineEvent[] = [];
    for (let offset = 0; offset < input.length; offset++) {
      const key = this.keys.push(input[offset]!);
      if (key === undefined) continue;
      if (key.kind === 'text') {
        echo += this.insert(key.text);
        continue;
      }
      if (key.key === 'complete' && this.overlongBytes === 0) {
        return { echo: this.echo ? echo : '', events, completion: { before: this.characters.slice(0, this.cursor).join('') }, rest: input.subarray(offset + 1) };
      }
      echo += this.edit(key.key, events);
    }
    return { echo: this.echo ? echo : '', events, rest: input.subarray(input.length) };
  }

  /**
   * Applies the answer to a CompletionRequest: the one candidate (and a space after it), else
   * the part all candidates share; when that adds nothing, lists them under the line. Returns
   * the echo. A bell when there is nothing to complete to.
   */
  complete(completion: Completion): string {
    const { word, candidates } = completion;
    const typed = this.characters.slice(0, this.cursor).join('');
    if (!typed.endsWith(word) || candidates.length === 0) return this.echoed(BELL);
    const addition = candidates.length === 1 ? `${candidates[0]!.slice(word.length)}${this.characters[this.cursor] === ' ' ? '' : ' '}` : commonPrefix(candidates).slice(word.length);
    if (addition.length > 0) return this.echoed(this.insert(addition));
    if (candidates.length === 1) return '';
    return this.echoed(`\r\n${candidates.join('  ')}\r\n${this.prompt()}${this.redraw()}`);
  }

  private echoed(text: string): string {
    return this.echo ? text : '';
  }

  private edit(key: EditKey, events: LineEvent[]): string {
    if (this.overlongBytes > 0 && key !== 'accept' && key !== 'interrupt' && key !== 'erase-to-start') return '';
    switch (key) {
      case 'accept': {
        if (this.overlongBytes > 0) events.push({ kind: 'overlong', bytes: this.overlongBytes });
        else {
          const text = this.partialLine;
          events.push({ kind: 'line', text });
          if (text.trim() && text.trim() !== this.recall[this.recall.length - 1]) this.recall.push(text.trim());
        }
        this.reset();
        return '\r\n';
      }
      case 'interrupt':
        this.reset();
        events.push({ kind: 'interrupt' });
        return '^C\r\n';
      case 'end-of-input-or-erase-forward':
        if (this.characters.length === 0) {
          events.push({ kind: 'end-of-input' });
          return '';
        }
        return this.replace(this.without(this.cursor, this.cursor + 1), this.cursor);
      case 'erase-back':
        return this.cursor === 0 ? '' : this.replace(this.without(this.cursor - 1, this.cursor), this.cursor - 1);
      case 'erase-forward':
        return this.replace(this.without(this.cursor, this.cursor + 1), this.cursor);
      case 'erase-to-start':
        if (this.overlongBytes > 0) {
          // The part kept is all that was echoed: erase it all, and start the line afresh.
          this.overlongBytes = 0;
          return this.replace([], 0);
        }
        return this.replace(this.without(0, this.cursor), 0);
      case 'erase-to-end':
        return this.replace(this.characters.slice(0, this.cursor), this.cursor);
      case 'erase-word': {
        const start = this.wordStartBefore(this.cursor);
        return this.replace(this.without(start, this.cursor), start);
      }
      case 'left':
        return this.replace(this.characters, Math.max(0, this.cursor - 1));
      case 'right':
        return this.replace(this.characters, Math.min(this.characters.length, this.cursor + 1));
      case 'word-left':
        return this.replace(this.characters, this.wordStartBefore(this.cursor));
      case 'word-right':
        return this.replace(this.characters, this.wordEndAfter(this.cursor));
      case 'home':
        return this.replace(this.characters, 0);
      case 'end':
        return this.replace(this.characters, this.characters.length);
      case 'previous':
        return this.step(-1);
      case 'next':
        return this.step(+1);
      case 'clear-screen':
        return CLEAR_SCREEN + this.prompt() + this.redraw();
      case 'complete':
        return ''; // an overlong line: nothing to complete
    }
  }

  /** Up (-1) or Down (+1) through the recall list; past the newest is the line being typed. */
  private step(direction: -1 | 1): string {
    const current = this.recalling?.index ?? this.recall.length;
    const index = current + direction;
    if (index < 0 || index > this.recall.length) return this.echo ? BELL : '';
    const draft = this.recalling?.draft ?? this.characters;
    const line = index === this.recall.length ? draft : [...this.recall[index]!];
    this.recalling = index === this.recall.length ? undefined : { index, draft };
    return this.replace(line, line.length);
  }

  private insert(text: string): string {
    if (this.overlongBytes > 0 || this.bytes + utf8Length(text) > MAXIMUM_LINE) {
      // Count the rest of the line (to say how long it was); echo and keep none of it.
      this.overlongBytes = (this.overlongBytes || this.bytes) + utf8Length(text);
      return '';
    }
    const inserted = [...text];
    if (this.cursor === this.characters.length) {
      // Typing at the end (and every piped line): append and echo, without copying the line.
      this.characters.push(...inserted);
      this.cursor = this.characters.length;
      this.bytes += utf8Length(text);
      return text;
    }
    const line = [...this.characters.slice(0, this.cursor), ...inserted, ...this.characters.slice(this.cursor)];
    return this.replace(line, this.cursor + inserted.length);
  }

  private without(start: number, end: number): string[] {
    return [...this.characters.slice(0, start), ...this.characters.slice(end)];
  }

  /** Makes `line` the line and `cursor` the cursor; returns the echo that shows the change. */
  private replace(line: string[], cursor: number): string {
    const before = this.characters;
    let shared = 0;
    while (shared < before.length && shared < line.length && before[shared] === line[shared]) shared++;
    let echo = '';
    if (this.cursor > shared) echo += moveLeft(this.cursor - shared);
    else echo += before.slice(this.cursor, shared).join('');
    echo += line.slice(shared).join('');
    const erased = Math.max(0, before.length - line.length);
    echo += ' '.repeat(erased) + moveLeft(erased + line.length - cursor);
    this.characters = line;
    this.cursor = cursor;
    this.bytes = utf8Length(line.join(''));
    return echo;
  }

  private reset(): void {
    this.characters = [];
    this.cursor = 0;
    this.bytes = 0;
    this.overlongBytes = 0;
    this.recalling = undefined;
  }

  private wordStartBefore(position: number): number {
    let index = position;
    while (index > 0 && this.characters[index - 1] === ' ') index--;
    while (index > 0 && this.characters[index - 1] !== ' ') index--;
    return index;
  }

  private wordEndAfter(position: number): number {
    let index = position;
    while (index < this.characters.length && this.characters[index] === ' ') index++;
    while (index < this.characters.length && this.characters[index] !== ' ') index++;
    return index;
  }
}

/** Moves the cursor left by `columns`: Backspace for one, CSI n D for more. */
function moveLeft(columns: number): string {
  return columns <= 0 ? '' : columns === 1 ? '\b' : `\x1b[${columns}D`;
}

function utf8Length(text: string): number {
  let length = 0;
  for (const character of text) {
    const point = character.codePointAt(0)!;
    length += point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
  }
  return length;
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0] ?? '';
  for (const word of words) while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
