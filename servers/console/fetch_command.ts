// The console's `fetch URL [PATH]`: an HTTP/1.1 GET (http_client.ts) over the network
// server's TCP sockets; the body is printed, or written to PATH in the VFS (created, or
// emptied first). A status other than 2xx is an error naming it, and PATH is not touched.

import { SOCKET_TRANSFER_BYTES } from '../../ipc/interfaces/socket.js';
import { OpenFlags } from '../../ipc/interfaces/fs.js';
import type { Command } from './commands.js';
import { onPath, systemPath, type FileCommandServices } from './file_commands.js';
import type { NetCommandServices } from './net_commands.js';
import { HttpResponseReader, getRequest, parseHttpUrl } from './http_client.js';

/** The whole exchange must finish within this (a large body on a slow link takes a while). */
const FETCH_WAIT_MS = 120_000;
const CONNECT_WAIT_MS = 30_000;
const RECEIVE_WAIT_MS = 1000;
/** The most a body may be (it is held whole before it is written). */
const BODY_LIMIT = 64 * 1024 * 1024;
/** The most printed on the console; a larger body needs a PATH. */
const PRINT_LIMIT = 64 * 1024;
const WRITE_BYTES = 1024 * 1024;

export class FetchError extends Error {}

export const fetchCommands: Record<string, Command<NetCommandServices & FileCommandServices>> = {
  fetch: {
    forms: [{ parameters: [
      { name: 'URL', kind: 'text', describe: 'http://ADDRESS[:PORT]/PATH (an IPv4 address: there is no name resolution yet)' },
      { name: 'PATH', kind: 'file', optional: true, describe: 'a file in the system to write the body to (default: print it)' },
    ] }],
    summary: 'HTTP/1.1 GET of URL: print the body, or write it to PATH',
    run: async (args, services) => {
      const url = parseHttpUrl(args.word('URL'));
      if (typeof url === 'string') throw new FetchError(`fetch: ${url}`);
      const { sockets } = services;
      const { socket } = await sockets.connect({ address: url.host, port: url.port, timeoutMs: CONNECT_WAIT_MS }, { timeoutMs: CONNECT_WAIT_MS + 5000 });
      const reader = new HttpResponseReader(BODY_LIMIT);
      try {
        await sockets.send({ socket, data: getRequest(url) });
        const deadline = Date.now() + FETCH_WAIT_MS;
        while (!reader.done) {
          if (Date.now() > deadline) throw new FetchError(`fetch: no whole response within ${FETCH_WAIT_MS / 1000} s`);
          const { data, ended } = await sockets.receive({ socket, maximumBytes: SOCKET_TRANSFER_BYTES, waitMs: RECEIVE_WAIT_MS });
          try {
            if (data.length > 0) reader.take(data);
            if (ended) reader.end();
          } catch (error) {
            throw new FetchError(`fetch: ${(error as Error).message}`);
          }
        }
      } finally {
        await sockets.close({ socket }).catch(() => undefined);
      }
      const head = reader.head!;
      const body = reader.body;
      if (head.status < 200 || head.status > 299) {
        const text = new TextDecoder().decode(body.subarray(0, 200)).trim();
        throw new FetchError(`fetch: HTTP ${head.status} ${head.reason}${text ? `: ${text}` : ''}`);
      }
      const target = args.optionalWord('PATH');
      if (target === undefined) {
        if (body.length > PRINT_LIMIT) throw new FetchError(`fetch: the body is ${body.length} bytes, over the ${PRINT_LIMIT} printed: give a PATH to write it to`);
        return { output: new TextDecoder().decode(body).replace(/\n$/, '') };
      }
      const path = systemPath(target);
      await onPath('fetch', path, async () => {
        const { description } = await services.fs.open({ path, flags: OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC });
        try {
          for (let done = 0; done < body.length;) done += (await services.fs.write({ description, data: body.subarray(done, done + WRITE_BYTES) })).written;
        } finally {
          await services.fs.close({ description }).catch(() => undefined);
        }
      });
      return { output: `${body.length} bytes to ${path} (HTTP ${head.status} ${head.reason})` };
    },
  },
};
