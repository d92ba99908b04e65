import { afterEach, describe, expect, it, vi } from 'vitest';
import { TerminalSessions } from './terminal_sessions.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

/** Sessions over a fake page console that records what was typed into it. */
function sessions() {
  const typed: string[] = [];
  const terminals = new TerminalSessions('baton> ');
  const sink = { bufferedInput: 0, pushInput: (bytes: Uint8Array) => void typed.push(text(bytes)) };
  terminals.connect(sink);
  const peer = () => {
    const screen: string[] = [];
    return { screen, write: (bytes: Uint8Array) => void screen.push(text(bytes)) };
  };
  const console = (output: string) => terminals.output(Buffer.from(output));
  return { terminals, typed, sink, peer, console };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('TerminalSessions', () => {
  it('gives each new session a prompt of its own, one at a time', () => {
    const { terminals, typed, peer, console } = sessions();
    const first = peer(), second = peer();
    terminals.attach(first);
    terminals.attach(second);
    expect(typed).toEqual([]); // the console has not shown its prompt yet
    console('baton> ');
    expect(typed).toEqual(['\r']);
    console('\r\nbaton> ');
    expect(first.screen.join('')).toBe('baton> \r\nbaton> ');
    expect(typed).toEqual(['\r', '\r']);
    console('\r\nbaton> ');
    expect(second.screen.join('')).toBe('baton> \r\nbaton> ');
  });

  it('keeps the floor for one line: keys of another session wait, the answer goes to its owner', () => {
    const { terminals, typed, peer, console } = sessions();
    console('baton> ');
    const first = peer(), second = peer();
    const a = terminals.attach(first);
    console('\r\nbaton> ');
    const b = terminals.attach(second);
    console('\r\nbaton> ');
    first.screen.length = 0;
    second.screen.length = 0;
    typed.length = 0;
    a.input(Buffer.from('p'));
    b.input(Buffer.from('dmesg\r'));
    a.input(Buffer.from('s'));
    console('ps'); // the echo
    expect(typed).toEqual(['p', 's']);
    a.input(Buffer.from('\r'));
    console('\r\nNAME  KIND\r\n');
    expect(typed).toEqual(['p', 's', '\r']);
    console('baton> ');
    expect(first.screen.join('')).toBe('ps\r\nNAME  KIND\r\nbaton> ');
    expect(second.screen).toEqual([]);
    expect(typed).toEqual(['p', 's', '\r', 'dmesg\r']);
  });

  it('abandons the line of a session that leaves mid-line, and passes the floor on after its prompt', () => {
    const { terminals, typed, peer, console } = sessions();
    console('baton> ');
    const first = peer(), second = peer();
    const a = terminals.attach(first);
    console('\r\nbaton> ');
    a.input(Buffer.from('rest'));
    const b = terminals.attach(second);
    a.detach();
    expect(typed).toEqual(['\r', 'rest', '\x03']);
    console('^C\r\nbaton> ');
    expect(typed.at(-1)).toBe('\r');
    b.input(Buffer.from('x'));
    console('\r\nbaton> ');
    expect(second.screen.join('')).toBe('\r\nbaton> ');
  });

  it('sets aside a session that leaves a line half typed while another waits, and types its line again when its turn comes', () => {
    vi.useFakeTimers();
    const { terminals, typed, peer, console } = sessions();
    console('baton> ');
    const first = peer(), second = peer();
    const a = terminals.attach(first);
    console('\r\nbaton> ');
    a.input(Buffer.from('re'));
    terminals.attach(second);
    a.input(Buffer.from('st'));
    console('rest');
    expect(typed).toEqual(['\r', 're', 'st']);
    // a types nothing more while b waits for its first prompt: a is set aside with Ctrl-C.
    vi.advanceTimersByTime(2000);
    expect(typed.at(-1)).toBe('\x03');
    a.input(Buffer.from('art'));
    console('^C\r\nbaton> ');
    expect(first.screen.join('')).toBe('\r\nbaton> rest^C\r\nbaton> ');
    // b has the floor: its first line is sent, and its prompt goes to it alone.
    expect(typed.at(-1)).toBe('\r');
    console('\r\nbaton> ');
    expect(second.screen.join('')).toBe('\r\nbaton> ');
    // a's turn again: its unfinished line, then what it typed meanwhile.
    expect(typed.slice(-3)).toEqual(['re', 'st', 'art']);
    console('restart');
    expect(first.screen.at(-1)).toBe('restart');
    a.input(Buffer.from(' log\r'));
    expect(typed.at(-1)).toBe(' log\r');
  });

  it('does not set aside a session mid-line while nobody else waits', () => {
    vi.useFakeTimers();
    const { terminals, typed, peer, console } = sessions();
    console('baton> ');
    const a = terminals.attach(peer());
    console('\r\nbaton> ');
    a.input(Buffer.from('re'));
    vi.advanceTimersByTime(60_000);
    expect(typed).toEqual(['\r', 're']);
  });

  it('does not pass the floor while the console has not read everything typed', () => {
    const { terminals, typed, sink, peer, console } = sessions();
    console('baton> ');
    const first = peer(), second = peer();
    terminals.attach(first);
    sink.bufferedInput = 1;
    terminals.attach(second);
    console('\r\nbaton> ');
    expect(typed).toEqual(['\r']);
    sink.bufferedInput = 0;
    console('\r\nbaton> ');
    expect(typed).toEqual(['\r', '\r']);
  });
});
