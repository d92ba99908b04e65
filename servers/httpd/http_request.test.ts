// The request head parser and path resolution: what is accepted, and each refusal's status.

import { describe, expect, it } from 'vitest';
import { headEnd, parseHead, resolveUnder, REQUEST_HEAD_LIMIT } from './http_request.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('HTTP request heads', () => {
  it('finds the end of the head only once CRLF CRLF has arrived', () => {
    expect(headEnd(bytes('GET / HTTP/1.1\r\nHost: a\r\n'))).toBe(-1);
    expect(headEnd(bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\nnext'))).toBe(27);
  });

  it('parses a GET with fields, decodes the path, drops the query, keeps HTTP/1.1 alive', () => {
    const parsed = parseHead(bytes('GET /a%20b/c.txt?x=1 HTTP/1.1\r\nHost: 10.0.2.15\r\nUser-Agent: curl\r\nAccept: a\r\naccept: b\r\n\r\n'));
    expect(parsed).toMatchObject({ request: { method: 'GET', path: '/a b/c.txt', version: 'HTTP/1.1', keepAlive: true } });
    if (!('request' in parsed)) throw new Error('refused');
    expect(parsed.request.fields.get('accept')).toBe('a, b');
    expect(parsed.request.fields.get('user-agent')).toBe('curl');
  });

  it('closes after the response on Connection: close, and for HTTP/1.0 unless keep-alive', () => {
    expect(parseHead(bytes('GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n'))).toMatchObject({ request: { keepAlive: false } });
    expect(parseHead(bytes('GET / HTTP/1.0\r\n\r\n'))).toMatchObject({ request: { keepAlive: false, version: 'HTTP/1.0' } });
    expect(parseHead(bytes('HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'))).toMatchObject({ request: { keepAlive: true, method: 'HEAD' } });
  });

  it('notes a body it will not read and closes after answering', () => {
    expect(parseHead(bytes('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n'))).toMatchObject({ request: { method: 'POST', bodyLength: 5, keepAlive: false } });
  });

  it('accepts an absolute-form target for its path', () => {
    expect(parseHead(bytes('GET http://10.0.2.15/x HTTP/1.1\r\nHost: 10.0.2.15\r\n\r\n'))).toMatchObject({ request: { path: '/x' } });
  });

  it('refuses malformed heads with the status and a reason', () => {
    const refusal = (text: string) => {
      const parsed = parseHead(bytes(text));
      return 'status' in parsed ? parsed.status : 200;
    };
    expect(refusal('GET /\r\n\r\n')).toBe(400);
    expect(refusal('GET / HTTP/1.1\r\n\r\n')).toBe(400); // no Host
    expect(refusal('GET / HTTP/2.0\r\nHost: a\r\n\r\n')).toBe(505);
    expect(refusal('GET / HTTX/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(refusal('G@T / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(refusal('GET nopath HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(refusal('GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n')).toBe(400);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')).toBe(501);
    expect(refusal('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n')).toBe(400);
    expect(refusal(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(REQUEST_HEAD_LIMIT)}\r\n\r\n`)).toBe(431);
    const reason = parseHead(bytes('GET / HTTP/1.1\r\n\r\n'));
    expect(reason).toMatchObject({ reason: expect.stringContaining('Host') });
  });

  it('resolves paths under the root and never above it', () => {
    expect(resolveUnder('/', '/a/./b//c')).toBe('/a/b/c');
    expect(resolveUnder('/srv', '/../../etc/passwd')).toBe('/srv/etc/passwd');
    expect(resolveUnder('/srv/', '/a/../b')).toBe('/srv/b');
    expect(resolveUnder('/srv', '/')).toBe('/srv/');
  });
});
