// fetch's HTTP client: URLs, the request, and responses framed each way, fed whole and a
// byte at a time; malformed and short responses are errors saying what is wrong.

import { describe, expect, it } from 'vitest';
import { HttpResponseReader, getRequest, parseHttpUrl } from './http_client.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Feeds `response` whole, or one byte at a time; then the close when `close`. */
function read(response: string, oneByte: boolean, close = false): HttpResponseReader {
  const reader = new HttpResponseReader(1024 * 1024);
  const data = bytes(response);
  if (oneByte) for (let index = 0; index < data.length; index++) reader.take(data.subarray(index, index + 1));
  else reader.take(data);
  if (close) reader.end();
  return reader;
}

describe('fetch: the HTTP client', () => {
  it('takes http URLs with an IPv4 address and refuses others, saying why', () => {
    expect(parseHttpUrl('http://10.0.2.2:8000/a/b.txt?x=1')).toEqual({ host: '10.0.2.2', port: 8000, target: '/a/b.txt?x=1' });
    expect(parseHttpUrl('http://10.0.2.2')).toEqual({ host: '10.0.2.2', port: 80, target: '/' });
    expect(parseHttpUrl('https://10.0.2.2/')).toMatch(/not an http:\/\/ URL/);
    expect(parseHttpUrl('http://example.org/')).toMatch(/not an IPv4 address/);
    expect(parseHttpUrl('http://10.0.2.300/')).toMatch(/not an IPv4 address/);
    expect(parseHttpUrl('http://10.0.2.2:70000/')).toMatch(/out of range/);
  });

  it('asks with Host (the port when not 80) and Connection: close', () => {
    expect(text(getRequest({ host: '10.0.2.2', port: 8000, target: '/x' }))).toBe('GET /x HTTP/1.1\r\nHost: 10.0.2.2:8000\r\nUser-Agent: baton-fetch\r\nAccept: */*\r\nConnection: close\r\n\r\n');
  });

  for (const oneByte of [false, true]) {
    const how = oneByte ? 'a byte at a time' : 'whole';
    it(`reads a Content-Length body (${how}), done before the close`, () => {
      const reader = read('HTTP/1.0 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello', oneByte);
      expect(reader.done).toBe(true);
      expect(reader.head).toMatchObject({ status: 200, reason: 'OK' });
      expect(text(reader.body)).toBe('hello');
    });

    it(`reads a chunked body with extensions and trailers (${how})`, () => {
      const reader = read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\nA\r\n, world!!!\r\n0\r\nTrailer: t\r\n\r\n', oneByte);
      expect(reader.done).toBe(true);
      expect(text(reader.body)).toBe('hello, world!!!');
    });

    it(`reads a body delimited by the close (${how})`, () => {
      const reader = read('HTTP/1.1 200 OK\r\n\r\nuntil the end', oneByte);
      expect(reader.done).toBe(false);
      reader.end();
      expect(reader.done).toBe(true);
      expect(text(reader.body)).toBe('until the end');
    });
  }

  it('says what is wrong with a malformed or short response', () => {
    expect(() => read('SMTP ready\r\n\r\n', false)).toThrow(/not an HTTP\/1 status line/);
    expect(() => read('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', false, true)).toThrow(/5 bytes short of the Content-Length/);
    expect(() => read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', false)).toThrow(/not a chunk size/);
    expect(() => read('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', false)).toThrow(/not understood/);
    expect(() => read('HTTP/1.1 200', false, true)).toThrow(/before a whole response head/);
    expect(() => new HttpResponseReader(4).take(bytes('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789'))).toThrow(/over 4 bytes/);
  });
});
