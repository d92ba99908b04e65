import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveView } from './live_view.js';
import type { ToPage } from './protocol.js';

let view: LiveView | undefined;
const sockets: WebSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
  view?.close();
  view = undefined;
});

/** A live view whose view console and page console are recorded: what the board would push into the devices. */
async function start() {
  const live = new LiveView({ port: 0, prompt: 'baton> ', minimumIntervalMs: 10 });
  view = live;
  const toSystem: string[] = [];
  const typed: string[] = [];
  live.hub.connect({ pushInput: (bytes) => toSystem.push(...Buffer.from(bytes).toString().split('\n').filter(Boolean)) });
  live.terminals.connect({ bufferedInput: 0, pushInput: (bytes) => typed.push(Buffer.from(bytes).toString()) });
  await live.listen();
  return { live, toSystem, typed, port: Number(new URL(live.url).port) };
}

function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, type: String(response.headers['content-type']) }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Every message each socket received, from its first (which may come with the handshake). */
const inboxes = new WeakMap<WebSocket, string[]>();

/** Opens a WebSocket; resolves with it once open, or with the HTTP status it was refused with. */
function open(url: string): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    sockets.push(socket);
    const inbox: string[] = [];
    inboxes.set(socket, inbox);
    socket.on('message', (data: Buffer) => inbox.push(data.toString()));
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('error', reject);
  });
}

/** The first message `socket` received that satisfies `accept`, once it has come. */
async function nextMessage(socket: WebSocket, accept: (message: ToPage) => boolean): Promise<ToPage> {
  const find = () => inboxes.get(socket)!.map((text) => JSON.parse(text) as ToPage).find(accept);
  await expect.poll(find).toBeDefined();
  return find()!;
}

describe('LiveView', () => {
  it('serves the page, its script and xterm.js with the token, and nothing without it', async () => {
    const { live, port } = await start();
    expect(live.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
    const page = await get(port, `/?token=${live.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`assets/view.mjs?token=${live.token}`);
    const xterm = await get(port, `/assets/xterm.js?token=${live.token}`);
    expect(xterm.status).toBe(200);
    expect(xterm.type).toContain('javascript');
    expect(xterm.body).toContain('Terminal');
    expect((await get(port, '/')).status).toBe(403);
    expect((await get(port, '/?token=wrong')).status).toBe(403);
    expect((await get(port, `/?token=${live.token.slice(0, -1)}x`)).status).toBe(403);
    expect((await get(port, '/assets/xterm.js')).status).toBe(403);
    expect((await get(port, `/assets/../../package.json?token=${live.token}`)).status).toBe(404);
    expect((await get(port, `/assets/toString?token=${live.token}`)).status).toBe(404);
    // A page of another origin that resolves its name to 127.0.0.1 (DNS rebinding) is refused too.
    expect((await get(port, `/?token=${live.token}`, `evil.example:${port}`)).status).toBe(403);
  });

  it('refuses a WebSocket without the token with 403', async () => {
    const { live, port } = await start();
    expect(await open(`ws://127.0.0.1:${port}/ws/view`)).toBe(403);
    expect(await open(`ws://127.0.0.1:${port}/ws/terminal?token=nope`)).toBe(403);
    expect(await open(`ws://127.0.0.1:${port}/ws/other?token=${live.token}`)).toBe(404);
  });

  it('gives a page the state, tells the system who watches, and routes a control and its result', async () => {
    const { live, port, toSystem } = await start();
    const socket = await open(`ws://127.0.0.1:${port}/ws/view?token=${live.token}`) as WebSocket;
    const state = await nextMessage(socket, (message) => message.t === 'state');
    expect(state).toMatchObject({ t: 'state', panels: {}, system: { state: 'booting' } });
    await expect.poll(() => toSystem).toContain(JSON.stringify({ t: 'watch', viewers: 1 }));

    socket.send(JSON.stringify({ t: 'control', id: 7, action: 'restart', name: 'log' }));
    await expect.poll(() => toSystem.some((line) => line.includes('"action":"restart"'))).toBe(true);
    const asked = JSON.parse(toSystem.find((line) => line.includes('"action":"restart"'))!) as { id: number };
    live.hub.output(Buffer.from(JSON.stringify({ t: 'result', id: asked.id, ok: true, message: 'log: generation 2 running' }) + '\n'));
    expect(await nextMessage(socket, (message) => message.t === 'result')).toEqual({ t: 'result', id: 7, ok: true, message: 'log: generation 2 running' });

    socket.send(JSON.stringify({ t: 'control', id: 8, action: 'format-disk', name: 'x' }));
    await expect.poll(() => inboxes.get(socket)!.some((text) => text.includes('refused: action must be one of'))).toBe(true);
  });

  it('attaches a terminal session to the page console: its keys go in, the answer comes back', async () => {
    const { live, port, typed } = await start();
    live.terminals.output(Buffer.from('baton> '));
    const socket = await open(`ws://127.0.0.1:${port}/ws/terminal?token=${live.token}`) as WebSocket;
    const received = inboxes.get(socket)!;
    await expect.poll(() => typed).toEqual(['\r']);
    live.terminals.output(Buffer.from('\r\nbaton> '));
    await expect.poll(() => received.join('')).toBe('\r\nbaton> ');
    socket.send('ps\r');
    await expect.poll(() => typed).toEqual(['\r', 'ps\r']);
  });
});
