import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketConsole } from './socket_console.js';

const PROMPT = 'baton> ';
let console: SocketConsole | undefined;
let directory: string | undefined;
const clients: Socket[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  console?.close();
  console = undefined;
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

/**
 * A control socket whose "console" answers each line it is given with `answer(line)` and a
 * prompt, after `hold` resolves for that line (so a test can act while a line is answered).
 */
async function start(options: { idleMs?: number } = {}) {
  directory = mkdtempSync(join(tmpdir(), 'baton-socket-'));
  const received: string[] = [];
  const waiting: Array<() => void> = [];
  let release: Array<() => void> = [];
  let holding = false;
  const socketConsole = new SocketConsole(join(directory, 'baton.sock'), { answerEnd: PROMPT, ...options });
  console = socketConsole;
  socketConsole.connect({
    bufferedInput: 0,
    pushInput: (bytes) => {
      const line = new TextDecoder().decode(bytes);
      received.push(line);
      for (const wake of waiting.splice(0)) wake();
      const answer = () => {
        socketConsole.output(new TextEncoder().encode(`answer to ${line.trim()}\r\n`));
        socketConsole.output(new TextEncoder().encode(PROMPT));
      };
      if (holding) release.push(answer);
      else answer();
    },
  });
  await socketConsole.listen();
  const receivedUntil = (count: number) => new Promise<void>((resolve) => {
    const check = () => (received.length >= count ? resolve() : waiting.push(check));
    check();
  });
  return {
    socketConsole,
    received,
    receivedUntil,
    hold: () => (holding = true),
    answerHeld: () => {
      holding = false;
      for (const answer of release) answer();
      release = [];
    },
    /** The console's first prompt: it is ready for a line. */
    ready: () => socketConsole.output(new TextEncoder().encode(PROMPT)),
  };
}

function client(): { socket: Socket; text: () => string; until: (pattern: string | RegExp) => Promise<string>; closed: Promise<void> } {
  const socket = createConnection(console!.path);
  clients.push(socket);
  let text = '';
  const waiting: Array<() => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    for (const wake of waiting.splice(0)) wake();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const until = (pattern: string | RegExp) => new Promise<string>((resolve) => {
    const check = () => ((typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) ? resolve(text) : waiting.push(check));
    check();
  });
  return { socket, text: () => text, until, closed };
}

const connected = (socket: Socket) => new Promise<void>((resolve) => (socket.readyState === 'open' ? resolve() : socket.once('connect', () => resolve())));

describe('the control socket', () => {
  it('keeps lines until the console is ready, then answers each session with its own answer', async () => {
    const rig = await start();
    const first = client();
    first.socket.write('ps\n');
    await connected(first.socket);
    const second = client();
    second.socket.write('dmesg\r\n');
    await connected(second.socket);
    rig.ready();
    expect(await first.until(PROMPT)).toBe(`answer to ps\r\n${PROMPT}`);
    expect(await second.until(PROMPT)).toBe(`answer to dmesg\r\n${PROMPT}`);
    expect(rig.received).toEqual(['ps\n', 'dmesg\n']);
  });

  it('a session that sent half a line blocks nobody, and its disconnect discards that half', async () => {
    const rig = await start();
    rig.ready();
    const half = client();
    half.socket.write('shutdown');
    await connected(half.socket);
    const other = client();
    other.socket.write('ps\n');
    expect(await other.until(PROMPT)).toBe(`answer to ps\r\n${PROMPT}`);
    half.socket.end();
    await half.closed;
    const next = client();
    next.socket.write('ps\n');
    await next.until(PROMPT);
    expect(rig.received).toEqual(['ps\n', 'ps\n']);
  });

  it('discards the answer of a session that has gone, and the next session gets only its own', async () => {
    const rig = await start();
    rig.ready();
    rig.hold();
    const leaving = client();
    leaving.socket.write('random 16384\n');
    await rig.receivedUntil(1);
    leaving.socket.destroy();
    await leaving.closed;
    const next = client();
    next.socket.write('random 2\n');
    await connected(next.socket);
    rig.answerHeld();
    expect(await next.until(PROMPT)).toBe(`answer to random 2\r\n${PROMPT}`);
    // The gone session's whole line still ran, as a line sent down a serial line does.
    expect(rig.received).toEqual(['random 16384\n', 'random 2\n']);
  });

  it('Ctrl-C discards the unfinished line and Ctrl-D means nothing', async () => {
    const rig = await start();
    rig.ready();
    const typing = client();
    typing.socket.write('shut\x03\x04ps\x04\n');
    await typing.until(PROMPT);
    expect(rig.received).toEqual(['ps\n']);
  });

  it('closes a session that sends nothing for its idle time, saying why', async () => {
    await start({ idleMs: 200 });
    const idle = client();
    await idle.closed;
    expect(idle.text()).toContain('closing this session: nothing sent for 0.2 s');
  });
});
