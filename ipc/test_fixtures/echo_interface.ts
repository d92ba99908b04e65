// A test interface and its server, shared by ipc/ tests (from source) and by the worker
// fixture echo_server.mjs (from build/). Not used outside tests.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';
import type { Endpoint } from '../endpoint.js';
import { IpcError } from '../errors.js';

export const echoInterface = defineInterface({
  name: 'test.echo',
  doc: 'Echo server for ipc/ tests.',
  ops: {
    echo: { id: 1, kind: 'call', idempotent: true, args: Type.Object({ text: Type.String() }), reply: Type.String() },
    add: { id: 2, kind: 'call', args: Type.Object({ a: Type.Number(), b: Type.Number() }), reply: Type.Number() },
    bytes: { id: 3, kind: 'call', idempotent: true, args: Type.Object({ data: Type.Uint8Array() }), reply: Type.Uint8Array() },
    record: { id: 4, kind: 'send', args: Type.Object({ line: Type.String() }) },
    lines: { id: 5, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Array(Type.String()) },
    fail: { id: 6, kind: 'call', args: Type.Object({ code: Type.String(), data: Type.Optional(Type.Unknown()) }), errors: ['ANY'] },
    stall: { id: 7, kind: 'call', args: Type.Object({}) },
    generation: { id: 8, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Integer() },
    hangIdempotent: { id: 9, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Integer(), doc: 'Never replies in generation 1.' },
    hangOnce: { id: 10, kind: 'call', args: Type.Object({}), reply: Type.Integer(), doc: 'Never replies in generation 1.' },
    tick: { id: 11, kind: 'call', args: Type.Object({ count: Type.Integer({ minimum: 0 }) }), doc: 'Sends `count` ticked notifications, then replies.' },
    unsupported: { id: 12, kind: 'call', args: Type.Object({}) },
    badReply: { id: 13, kind: 'call', args: Type.Object({}), reply: Type.String() },
    grow: { id: 14, kind: 'call', args: Type.Object({ size: Type.Integer({ minimum: 0 }) }), reply: Type.Uint8Array() },
    sum: { id: 16, kind: 'call', args: Type.Object({ data: Type.Uint8Array() }), reply: Type.Object({ length: Type.Integer(), sum: Type.Integer() }),
      doc: 'Length and byte sum of data (a large request with a small reply).' },
    later: { id: 15, kind: 'call', args: Type.Object({ text: Type.String() }), reply: Type.String(), doc: 'Replies from a later macrotask.' },
  },
  notifications: {
    ticked: { id: 1, args: Type.Object({ count: Type.Integer() }) },
  },
});

/** Serves echoInterface on `endpoint`, reporting `generation` where asked. */
export function serveEcho(endpoint: Endpoint, generation: number): void {
  const recorded: string[] = [];
  endpoint.serve(echoInterface, {
    sum: ({ data }) => ({ length: data.length, sum: data.reduce((total, byte) => total + byte, 0) }),
    echo: ({ text }) => text,
    add: ({ a, b }) => a + b,
    bytes: ({ data }) => data,
    record: ({ line }) => {
      recorded.push(line);
    },
    lines: () => [...recorded],
    fail: ({ code, data }) => {
      if (code === 'bug') throw new TypeError('deliberate bug');
      throw new IpcError(code, `failed with ${code}`, data);
    },
    stall: () => new Promise<void>(() => {}),
    generation: () => generation,
    hangIdempotent: () => (generation === 1 ? new Promise<number>(() => {}) : generation),
    hangOnce: () => (generation === 1 ? new Promise<number>(() => {}) : generation),
    tick: ({ count }, context) => {
      for (let i = 1; i <= count; i++) endpoint.notify(context.channelId, echoInterface, 'ticked', { count: i });
    },
    badReply: () => 42 as unknown as string,
    grow: ({ size }) => new Uint8Array(size),
    later: ({ text }) => new Promise<string>((resolve) => setTimeout(() => resolve(text), 0)),
  });
}
