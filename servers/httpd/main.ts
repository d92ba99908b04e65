// The HTTP server: HTTP/1.1 (and 1.0) GET and HEAD of files in the VFS under `root`, over
// the network server's TCP sockets (ipc/interfaces/socket.ts) on `port`.
//
// Config (manifest.json, or --bootargs httpd.port=8080 httpd.root=/srv):
//   port  the TCP port listened on (default 80)
//   root  the VFS directory served (default "/"): GET /a/b serves ROOT/a/b; ".." never leaves ROOT
// Connections are kept alive (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive")
// until the client sends "Connection: close", closes, or is idle IDLE_MS; every response
// carries Content-Length. A directory serves its index.html. Refusals have a plain-text
// body saying why: 400 (malformed request), 403 (EACCES), 404 (no such file, or a directory
// without index.html), 405 (a method other than GET and HEAD, with Allow), 431, 501, 505.
// A request with a body (no method served takes one) is answered and the connection closed.
// With no network device (booted without --net) the listen fails: the server says so and
// tries again every RETRY_MS, quietly.

import { defineServer } from '../../microkernel/userlib/server.js';
import { Type } from '../../ipc/typebox.js';
import type { ClientOf } from '../../ipc/define.js';
import { SOCKET_TRANSFER_BYTES, socketInterface } from '../../ipc/interfaces/socket.js';
import { FileType, OpenFlags, fsInterface } from '../../ipc/interfaces/fs.js';
import type { Logger } from '../../microkernel/userlib/logger.js';
import { REQUEST_HEAD_LIMIT, headEnd, parseHead, resolveUnder, type HttpRequest } from './http_request.js';
import { contentType, errorResponse, responseHead } from './http_response.js';

const httpdConfig = Type.Object({
  port: Type.Integer({ default: 80, minimum: 1, maximum: 65535 }),
  root: Type.String({ default: '/', minLength: 1, pattern: '^/' }),
}, { additionalProperties: false });

const ACCEPT_WAIT_MS = 1000;
const RECEIVE_WAIT_MS = 1000;
/** A kept-alive connection with no request for this long is closed. */
const IDLE_MS = 15_000;
const RETRY_MS = 5000;
/** Bytes read from the VFS at once (sent in SOCKET_TRANSFER_BYTES pieces). */
const FILE_READ_BYTES = 256 * 1024;

type Sockets = ClientOf<typeof socketInterface>;
type Files = ClientOf<typeof fsInterface>;

export default defineServer({
  config: httpdConfig,
  init(context) {
    const { config, log } = context;
    const sockets = context.connect(socketInterface, 'net');
    const files = context.connect(fsInterface);
    void listenLoop(sockets, files, config.port, config.root, log);
  },
});

/** Listens (again after a failure) and accepts connections for as long as the server runs. */
async function listenLoop(sockets: Sockets, files: Files, port: number, root: string, log: Logger): Promise<void> {
  let told = false;
  for (;;) {
    let listening: number;
    try {
      listening = (await sockets.listen({ port, backlog: 16 })).socket;
    } catch (error) {
      if (!told) log.info(`httpd: cannot listen on TCP port ${port} (${(error as Error).name}: ${(error as Error).message}); trying again every ${RETRY_MS / 1000} s`);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      continue;
    }
    told = false;
    log.info(`httpd: serving ${root} on TCP port ${port}`);
    try {
      for (;;) {
        const { socket, remote } = await sockets.accept({ socket: listening, waitMs: ACCEPT_WAIT_MS });
        if (socket !== undefined) void serveConnection(sockets, files, socket, root, log).catch((error: Error) => log.info(`httpd: connection from ${remote ?? '?'}: ${error.name}: ${error.message}`));
      }
    } catch (error) {
      log.warn(`httpd: the listening socket failed (${(error as Error).name}: ${(error as Error).message}); listening again`);
      await sockets.close({ socket: listening }).catch(() => undefined);
    }
  }
}

/** Sends `data` in pieces the socket interface carries. */
async function sendAll(sockets: Sockets, socket: number, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length; offset += SOCKET_TRANSFER_BYTES) {
    await sockets.send({ socket, data: data.subarray(offset, offset + SOCKET_TRANSFER_BYTES) });
  }
}

function concatenate(a: Uint8Array, b: Uint8Array): Uint8Array {
  const whole = new Uint8Array(a.length + b.length);
  whole.set(a);
  whole.set(b, a.length);
  return whole;
}

/** Answers the requests of one connection, in order, until it closes. */
async function serveConnection(sockets: Sockets, files: Files, socket: number, root: string, log: Logger): Promise<void> {
  let buffer: Uint8Array = new Uint8Array(0);
  try {
    for (;;) {
      let end = headEnd(buffer);
      let idleSince = Date.now();
      while (end < 0) {
        if (buffer.length > REQUEST_HEAD_LIMIT) {
          await sendAll(sockets, socket, errorResponse(431, `the request head is over ${REQUEST_HEAD_LIMIT} bytes`, false, true));
          return;
        }
        const { data, ended } = await sockets.receive({ socket, maximumBytes: SOCKET_TRANSFER_BYTES, waitMs: RECEIVE_WAIT_MS });
        if (data.length > 0) {
          buffer = concatenate(buffer, data);
          idleSince = Date.now();
          end = headEnd(buffer);
          continue;
        }
        if (ended || Date.now() - idleSince > IDLE_MS) return;
      }
      const parsed = parseHead(buffer.subarray(0, end));
      buffer = buffer.subarray(end);
      if ('status' in parsed) {
        await sendAll(sockets, socket, errorResponse(parsed.status, parsed.reason, false, true));
        return;
      }
      const keepAlive = await respond(sockets, files, socket, root, parsed.request, log);
      if (!keepAlive) return;
    }
  } finally {
    await sockets.close({ socket }).catch(() => undefined);
  }
}

/** Sends the response to one request; answers whether the connection stays open. */
async function respond(sockets: Sockets, files: Files, socket: number, root: string, request: HttpRequest, log: Logger): Promise<boolean> {
  const { keepAlive } = request;
  const withBody = request.method !== 'HEAD';
  if (request.bodyLength > 0 && request.method === 'GET') {
    await sendAll(sockets, socket, errorResponse(400, 'a GET carries no body', false, true));
    return false;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    await sendAll(sockets, socket, errorResponse(405, `${request.method} is not served (GET and HEAD are)`, keepAlive, true, { Allow: 'GET, HEAD' }));
    return keepAlive;
  }
  let path = resolveUnder(root, request.path);
  let description: number | undefined;
  try {
    let opened = await files.open({ path, flags: OpenFlags.O_RDONLY });
    if ((opened.stat.mode & FileType.S_IFMT) === FileType.S_IFDIR) {
      await files.close({ description: opened.description });
      path = `${path.replace(/\/+$/, '')}/index.html`;
      opened = await files.open({ path, flags: OpenFlags.O_RDONLY });
    }
    description = opened.description;
    if ((opened.stat.mode & FileType.S_IFMT) !== FileType.S_IFREG) {
      await sendAll(sockets, socket, errorResponse(404, `${request.path} is not a regular file`, keepAlive, withBody));
      return keepAlive;
    }
    const size = opened.stat.size;
    await sockets.send({ socket, data: responseHead(200, size, contentType(path), keepAlive) });
    if (!withBody) return keepAlive;
    for (let offset = 0; offset < size;) {
      const { data } = await files.pread({ description, offset, length: Math.min(FILE_READ_BYTES, size - offset) });
      if (data.length === 0) {
        // The file shrank under us: the length promised cannot be kept, so the connection ends.
        log.warn(`httpd: ${path} ended at ${offset} of the ${size} bytes promised; closing the connection`);
        return false;
      }
      await sendAll(sockets, socket, data);
      offset += data.length;
    }
    return keepAlive;
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ENOENT' || name === 'ENOTDIR' || name === 'ENAMETOOLONG' || name === 'ELOOP') {
      await sendAll(sockets, socket, errorResponse(404, `${request.path}: no such file${path.endsWith('/index.html') ? ' (a directory without index.html)' : ''}`, keepAlive, withBody));
      return keepAlive;
    }
    if (name === 'EACCES' || name === 'EPERM') {
      await sendAll(sockets, socket, errorResponse(403, `${request.path}: permission denied`, keepAlive, withBody));
      return keepAlive;
    }
    if (description === undefined && !isSocketError(name)) {
      log.warn(`httpd: ${path}: ${name}: ${(error as Error).message}`);
      await sendAll(sockets, socket, errorResponse(500, `${request.path}: ${name}`, false, withBody));
      return false;
    }
    throw error;
  } finally {
    if (description !== undefined) await files.close({ description }).catch(() => undefined);
  }
}

function isSocketError(name: string): boolean {
  return ['ECONNRESET', 'EPIPE', 'ENOTCONN', 'EBADF', 'ETIMEDOUT'].includes(name);
}
