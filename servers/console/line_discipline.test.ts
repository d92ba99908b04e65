import { describe, it, expect } from 'vitest';
import { LineDiscipline, MAXIMUM_LINE } from './line_discipline.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('LineDiscipline', () => {
  it('LineDiscipline ends lines on LF, CR and CR LF alike', () => {
    const discipline = new LineDiscipline({ echo: false });
    const { events } = discipline.feed(bytes('ps\nmem\rdt\r\nhelp\n'));
    expect(events).toEqual([
      { kind: 'line', text: 'ps' }, { kind: 'line', text: 'mem' }, { kind: 'line', text: 'dt' }, { kind: 'line', text: 'help' },
    ]);
  });

  it('LineDiscipline keeps a partial line across feeds', () => {
    const discipline = new LineDiscipline({ echo: false });
    expect(discipline.feed(bytes('res')).events).toEqual([]);
    expect(discipline.partialLine).toBe('res');
    expect(discipline.feed(bytes('tart log\n')).events).toEqual([{ kind: 'line', text: 'restart log' }]);
  });

  it('LineDiscipline erases with backspace and DEL and echoes the erasure', () => {
    const discipline = new LineDiscipline({ echo: true });
    const result = discipline.feed(bytes('pz\x7fs\x08s\n'));
    expect(result.events).toEqual([{ kind: 'line', text: 'ps' }]);
    expect(result.echo).toBe('pz\b \bs\b \bs\r\n');
  });

  it('LineDiscipline erases a whole multi-byte character', () => {
    const discipline = new LineDiscipline({ echo: false });
    expect(discipline.feed(bytes('aé\x7f\n')).events).toEqual([{ kind: 'line', text: 'a' }]);
  });

  it('LineDiscipline abandons the line on Ctrl-C', () => {
    const discipline = new LineDiscipline({ echo: true });
    const result = discipline.feed(bytes('shutdo\x03ps\n'));
    expect(result.events).toEqual([{ kind: 'interrupt' }, { kind: 'line', text: 'ps' }]);
    expect(result.echo).toBe('shutdo^C\r\nps\r\n');
  });

  it('LineDiscipline reports end of input on Ctrl-D only at the start of a line', () => {
    const discipline = new LineDiscipline({ echo: false });
    expect(discipline.feed(bytes('ab\x04')).events).toEqual([]);
    expect(discipline.feed(bytes('\n\x04')).events).toEqual([{ kind: 'line', text: 'ab' }, { kind: 'end-of-input' }]);
  });

  it('LineDiscipline does not echo when echo is off', () => {
    expect(new LineDiscipline({ echo: false }).feed(bytes('ps\n')).echo).toBe('');
  });

  it('LineDiscipline refuses a line over MAXIMUM_LINE bytes whole, and takes the next line as usual', () => {
    const discipline = new LineDiscipline({ echo: true });
    const long = `random ${' '.repeat(MAXIMUM_LINE)}2`;
    const first = discipline.feed(bytes(long.slice(0, 3000)));
    const second = discipline.feed(bytes(`${long.slice(3000)}\nps\n`));
    expect([...first.events, ...second.events]).toEqual([{ kind: 'overlong', bytes: long.length }, { kind: 'line', text: 'ps' }]);
    expect((first.echo + second.echo).length).toBe(MAXIMUM_LINE + '\r\nps\r\n'.length);
  });

  it('LineDiscipline takes a line of exactly MAXIMUM_LINE bytes', () => {
    const line = 'x'.repeat(MAXIMUM_LINE);
    expect(new LineDiscipline({ echo: false }).feed(bytes(`${line}\n`)).events).toEqual([{ kind: 'line', text: line }]);
  });

  it('LineDiscipline forgets an overlong line abandoned with Ctrl-C', () => {
    const discipline = new LineDiscipline({ echo: false });
    expect(discipline.feed(bytes(`${'x'.repeat(MAXIMUM_LINE + 10)}\x03ps\n`)).events).toEqual([{ kind: 'interrupt' }, { kind: 'line', text: 'ps' }]);
  });
});

/** One screen row as a terminal shows it: printable characters, Backspace, CSI n D, CR LF. */
class Row {
  cells: string[] = [];
  column = 0;
  apply(echo: string): this {
    for (let index = 0; index < echo.length; index++) {
      const character = echo[index]!;
      const move = /^\x1b\[(\d+)D/.exec(echo.slice(index));
      if (move) {
        this.column = Math.max(0, this.column - Number(move[1]));
        index += move[0].length - 1;
      } else if (character === '\b') this.column = Math.max(0, this.column - 1);
      else if (character === '\r' && echo[index + 1] === '\n') {
        this.cells = [];
        this.column = 0;
        index++;
      } else if (character >= ' ') this.cells[this.column++] = character;
      else throw new Error(`unexpected ${JSON.stringify(character)} in echo`);
    }
    return this;
  }
  get text(): string {
    return this.cells.join('').trimEnd();
  }
}

const LEFT = '\x1b[D', RIGHT = '\x1b[C', UP = '\x1b[A', DOWN = '\x1b[B', HOME = '\x1b[H', END = '\x1b[F', DELETE_KEY = '\x1b[3~';

/** Types `keys` (no Enter); returns the line the discipline holds and the row the echo drew. */
function typed(keys: string | Uint8Array[], recall: string[] = []) {
  const discipline = new LineDiscipline({ echo: true, recall });
  const row = new Row();
  const events = [];
  for (const chunk of typeof keys === 'string' ? [bytes(keys)] : keys) {
    const result = discipline.feed(chunk);
    row.apply(result.echo);
    events.push(...result.events);
  }
  return { discipline, row, events };
}

describe('LineDiscipline editing', () => {
  it('moves with Left/Right and inserts at the cursor, and the echo draws the same line', () => {
    const { discipline, row } = typed(`rstart${LEFT.repeat(5)}e${RIGHT}X`);
    expect(discipline.partialLine).toBe('resXtart');
    expect(row.text).toBe('resXtart');
    expect(row.column).toBe(4);
  });

  it('Home/End and Ctrl-A/Ctrl-E go to either end, in every form terminals send', () => {
    for (const [home, end] of [[HOME, END], ['\x01', '\x05'], ['\x1bOH', '\x1bOF'], ['\x1b[1~', '\x1b[4~'], ['\x1b[7~', '\x1b[8~']]) {
      const { discipline, row } = typed(`ps${home}>${end}<`);
      expect(discipline.partialLine).toBe('>ps<');
      expect(row.text).toBe('>ps<');
    }
  });

  it('Backspace and Delete erase either side of the cursor', () => {
    const { discipline, row } = typed(`abcdef${LEFT.repeat(3)}\x7f${DELETE_KEY}`);
    expect(discipline.partialLine).toBe('abef');
    expect(row.text).toBe('abef');
    expect(row.column).toBe(2);
    const ctrlD = typed(`xyz${HOME}\x04`);
    expect([ctrlD.discipline.partialLine, ctrlD.events]).toEqual(['yz', []]);
  });

  it('Ctrl-W erases the word before the cursor, Ctrl-U all before it, Ctrl-K all after it', () => {
    expect(typed('blk read virtio-blk  \x17').discipline.partialLine).toBe('blk read ');
    const erased = typed(`restart log${LEFT.repeat(3)}\x15`);
    expect([erased.discipline.partialLine, erased.row.text, erased.row.column]).toEqual(['log', 'log', 0]);
    const killed = typed(`restart log${LEFT.repeat(4)}\x0b`);
    expect([killed.discipline.partialLine, killed.row.text]).toEqual(['restart', 'restart']);
  });

  it('moves by words with Ctrl-Left/Right and Alt-B/F', () => {
    expect(typed(`kill one two${'\x1b[1;5D'.repeat(2)}X`).discipline.partialLine).toBe('kill Xone two');
    expect(typed(`kill one two${HOME}\x1bf\x1bfX`).discipline.partialLine).toBe('kill oneX two');
    expect(typed(`kill one two\x1bbX`).discipline.partialLine).toBe('kill one Xtwo');
  });

  it('Up and Down step through the recalled lines and come back to the line being typed', () => {
    const { discipline, row } = typed(`dm${UP}`, ['ps', 'random 4']);
    expect([discipline.partialLine, row.text]).toEqual(['random 4', 'random 4']);
    row.apply(discipline.feed(bytes(UP)).echo);
    expect([discipline.partialLine, row.text]).toEqual(['ps', 'ps']);
    expect(discipline.feed(bytes(UP)).echo).toBe('\x07'); // the oldest: nothing further
    row.apply(discipline.feed(bytes(`${DOWN}${DOWN}`)).echo);
    expect([discipline.partialLine, row.text]).toEqual(['dm', 'dm']);
  });

  it('recalls the lines entered on it too, the newest first, without repeating one twice in a row', () => {
    const { discipline } = typed('ps\nmem\nmem\n', ['dt']);
    discipline.feed(bytes(UP));
    expect(discipline.partialLine).toBe('mem');
    discipline.feed(bytes(`\x10`)); // Ctrl-P
    expect(discipline.partialLine).toBe('ps');
    discipline.feed(bytes(UP));
    expect(discipline.partialLine).toBe('dt');
  });

  it('takes an escape sequence or a UTF-8 character split across reads, and never types one as text', () => {
    const { discipline, row } = typed([bytes('ab\x1b'), bytes('['), bytes('D'), bytes('é').subarray(0, 1), bytes('é').subarray(1), bytes('\x1b[99Z\x1b[5~')]);
    expect(discipline.partialLine).toBe('aéb');
    expect(row.text).toBe('aéb');
  });

  it('Enter after an unfinished escape sequence still ends the line', () => {
    expect(typed('ps\x1b[\r').events).toEqual([{ kind: 'line', text: 'ps' }]);
  });

  it('Ctrl-L clears the screen and redraws the prompt and the line with the cursor in place', () => {
    const discipline = new LineDiscipline({ echo: true, prompt: () => 'baton> ' });
    discipline.feed(bytes(`psx${LEFT}`));
    expect(discipline.feed(bytes('\x0c')).echo).toBe('\x1b[H\x1b[2Jbaton> psx\b');
  });

  it('redraw() gives the line with the cursor where it is', () => {
    const { discipline } = typed(`restart${LEFT.repeat(3)}`);
    expect(new Row().apply(discipline.redraw()).column).toBe(4);
  });
});

describe('LineDiscipline completion', () => {
  it('stops at Tab with the text before the cursor, and keeps the rest of the input for after', () => {
    const discipline = new LineDiscipline({ echo: true });
    const result = discipline.feed(bytes('res\tlog\n'));
    expect(result.completion).toEqual({ before: 'res' });
    expect(new TextDecoder().decode(result.rest)).toBe('log\n');
    expect(discipline.complete({ word: 'res', candidates: ['restart'] })).toBe('tart ');
    expect(discipline.feed(result.rest).events).toEqual([{ kind: 'line', text: 'restart log' }]);
  });

  it('completes to what all candidates share, and lists them when that adds nothing', () => {
    const discipline = new LineDiscipline({ echo: true, prompt: () => 'baton> ' });
    discipline.feed(bytes('blk read v\t'));
    expect(discipline.complete({ word: 'v', candidates: ['virtio-blk.0', 'virtio-blk.1'] })).toBe('irtio-blk.');
    discipline.feed(bytes('\t'));
    expect(discipline.complete({ word: 'virtio-blk.', candidates: ['virtio-blk.0', 'virtio-blk.1'] }))
      .toBe('\r\nvirtio-blk.0  virtio-blk.1\r\nbaton> blk read virtio-blk.');
    expect(discipline.complete({ word: 'virtio-blk.', candidates: [] })).toBe('\x07');
  });

  it('completes in the middle of a line without doubling the space after the word', () => {
    const discipline = new LineDiscipline({ echo: true });
    const row = new Row();
    row.apply(discipline.feed(bytes(`rest log${LEFT.repeat(4)}\t`)).echo);
    row.apply(discipline.complete({ word: 'rest', candidates: ['restart'] }));
    expect([discipline.partialLine, row.text, row.column]).toEqual(['restart log', 'restart log', 7]);
  });
});
