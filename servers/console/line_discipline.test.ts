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
