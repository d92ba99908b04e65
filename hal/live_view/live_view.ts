// The live view's host side: an HTTP server on 127.0.0.1 that serves one page and two
// WebSockets, fed by two console devices of the board (as the control socket is fed by
// one, socket_console.ts):
//
//   GET /?token=T                 the page (page/index.html)
//   GET /assets/NAME?token=T      its script and styles, and xterm.js from node_modules
//   WS  /ws/view?token=T          panels, log and results (page_hub.ts) ⇄ the view console
//   WS  /ws/terminal?token=T      a terminal session (terminal_sessions.ts) ⇄ the page console
//
// Without the token, or with a Host header that is not this server's (DNS rebinding),
// every request gets 403 and every WebSocket upgrade is refused with 403. Nothing is
// fetched from elsewhere: every asset is a file of the checkout or its node_modules.

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { PageHub } from './page_hub.js';
import { parseControl } from './protocol.js';
import { TerminalSessions } from './terminal_sessions.js';
import { makeToken, tokenMatches } from './token.js';

export interface LiveViewOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** The console's prompt, which ends a terminal answer. */
  readonly prompt: string;
  /** Coalescing interval of page updates (default 100 ms). */
  readonly minimumIntervalMs?: number;
}

interface Asset {
  readonly type: string;
  readonly file: string;
}

const require = createRequire(import.meta.url);
/** The page's files stay in the source tree (hal/live_view/page), whether this module runs from build/hal/live_view or from the source. */
const pageDirectory = fileURLToPath(new URL(import.meta.url.includes('/build/hal/') ? '../../../hal/live_view/page/' : './page/', import.meta.url));
const ASSETS: Readonly<Record<string, Asset>> = {
  'view.mjs': { type: 'text/javascript; charset=utf-8', file: `${pageDirectory}view.mjs` },
  'view.css': { type: 'text/css; charset=utf-8', file: `${pageDirectory}view.css` },
  'xterm.js': { type: 'text/javascript; charset=utf-8', file: require.resolve('@xterm/xterm/lib/xterm.js') },
  'xterm.css': { type: 'text/css; charset=utf-8', file: require.resolve('@xterm/xterm/css/xterm.css') },
};
/** The most a page's control message may be. */
const MAXIMUM_PAGE_MESSAGE = 4096;

export class LiveView {
  readonly token = makeToken();
  readonly hub: PageHub;
  readonly terminals: TerminalSessions;
  private readonly requestedPort: number;
  private server: Server | undefined;
  private readonly sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private port = 0;

  constructor(options: LiveViewOptions) {
    this.requestedPort = options.port;
    this.hub = new PageHub(options.minimumIntervalMs !== undefined ? { minimumIntervalMs: options.minimumIntervalMs } : {});
    this.terminals = new TerminalSessions(options.prompt);
  }

  /** The page's address, token included (valid once listen() resolved). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/?token=${this.token}`;
  }

  /** Listens on 127.0.0.1; rejects with a clear error when the port is taken. */
  async listen(): Promise<void> {
    const server = createServer((request, response) => this.serve(request, response));
    server.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new Error(
        error.code === 'EADDRINUSE' ? `--http ${this.requestedPort}: port in use on 127.0.0.1 (choose another, or 0 for any free one)` : `live view: ${error.message}`)));
      server.listen(this.requestedPort, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  close(): void {
    this.hub.close();
    for (const client of this.sockets.clients) client.terminate();
    this.sockets.close();
    this.server?.closeAllConnections();
    this.server?.close();
    this.server = undefined;
  }

  /** Why a request is refused, or undefined when it carries the token and is addressed to this server. */
  private refusal(request: IncomingMessage): string | undefined {
    const host = request.headers.host;
    if (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`) return 'wrong Host';
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (!tokenMatches(url.searchParams.get('token'), this.token)) return 'no valid token';
    return undefined;
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const refused = this.refusal(request);
    if (refused) {
      response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`403 forbidden: ${refused} (open the URL baton printed, or npm run ctl -- url)\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    const name = path.slice('/assets/'.length);
    const asset: Asset | undefined = path === '/' ? { type: 'text/html; charset=utf-8', file: `${pageDirectory}index.html` }
      : path.startsWith('/assets/') && Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 not found\n');
      return;
    }
    let body: Buffer | string;
    try {
      body = path === '/' ? readFileSync(asset.file, 'utf8').replaceAll('{{token}}', this.token) : readFileSync(asset.file);
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`500: ${(error as Error).message}\n`);
      return;
    }
    response.writeHead(200, { ...headers, 'content-type': asset.type }).end(request.method === 'HEAD' ? undefined : body);
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refused = this.refusal(request);
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (refused || (path !== '/ws/view' && path !== '/ws/terminal')) {
      socket.end(`HTTP/1.1 ${refused ? '403 Forbidden' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.sockets.handleUpgrade(request, socket, head, (webSocket) => {
      if (path === '/ws/view') this.viewSocket(webSocket);
      else this.terminalSocket(webSocket);
    });
  }

  private viewSocket(webSocket: WebSocket): void {
    const page = this.hub.attach({
      send: (message) => {
        if (webSocket.readyState === webSocket.OPEN) webSocket.send(JSON.stringify(message));
      },
    });
    webSocket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (text.length === 0 || text.length > MAXIMUM_PAGE_MESSAGE) return;
      const request = parseControl(text);
      if (typeof request === 'string') {
        webSocket.send(JSON.stringify({ t: 'error', message: `refused: ${request}` }));
        return;
      }
      page.control(request);
    });
    webSocket.on('close', () => page.detach());
    webSocket.on('error', () => webSocket.terminate());
  }

  private terminalSocket(webSocket: WebSocket): void {
    const session = this.terminals.attach({
      write: (bytes) => {
        if (webSocket.readyState === webSocket.OPEN) webSocket.send(bytes);
      },
    });
    webSocket.on('message', (data) => {
      const chunks = Array.isArray(data) ? data : [Buffer.from(data as ArrayBuffer)];
      for (const chunk of chunks) session.input(new Uint8Array(chunk));
    });
    webSocket.on('close', () => session.detach());
    webSocket.on('error', () => webSocket.terminate());
  }
}
