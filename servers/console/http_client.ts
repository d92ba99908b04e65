// The client side of HTTP/1.1 (RFC 9112) for `fetch`: the request it sends, and a reader
// that takes the response's bytes as they arrive and says when the body is whole: framed
// by Content-Length, by chunked transfer coding, or by the server closing (§6.3).

/** A URL fetch takes: http only, the host an IPv4 address (baton has no resolver yet). */
export interface HttpUrl {
  readonly host: string;
  readonly port: number;
  /** The request target: path and query, at least "/". */
  readonly target: string;
}

/** Parses `http://ADDRESS[:PORT][/PATH]`; a string saying what is wrong otherwise. */
export function parseHttpUrl(url: string): HttpUrl | string {
  const match = /^http:\/\/([^/:?#]+)(?::(\d{1,5}))?([/?][^#]*)?(#.*)?$/i.exec(url);
  if (!match) return `"${url}" is not an http:// URL (http://ADDRESS[:PORT]/PATH)`;
  const host = match[1]!;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.split('.').some((part) => Number(part) > 255)) {
    return `"${host}" is not an IPv4 address (there is no name resolution yet)`;
  }
  const port = match[2] === undefined ? 80 : Number(match[2]);
  if (port < 1 || port > 65535) return `port ${match[2]} is out of range (1 to 65535)`;
  const target = match[3] === undefined ? '/' : match[3].startsWith('?') ? `/${match[3]}` : match[3];
  return { host, port, target };
}

/** The GET request for `url`; the connection closes after the response. */
export function getRequest(url: HttpUrl): Uint8Array {
  const host = url.port === 80 ? url.host : `${url.host}:${url.port}`;
  return new TextEncoder().encode(`GET ${url.target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: baton-fetch\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
}

export interface HttpResponseHead {
  readonly status: number;
  readonly reason: string;
  /** Field names lower-cased. */
  readonly fields: ReadonlyMap<string, string>;
}

const HEAD_LIMIT = 64 * 1024;

/** Takes a response's bytes in order (`take`), then the end of the connection (`end`); throws on a malformed response. */
export class HttpResponseReader {
  head: HttpResponseHead | undefined;
  /** The body's bytes so far (decoded from chunks when chunked). */
  private readonly parts: Uint8Array[] = [];
  private bodyBytes = 0;
  private pending: Uint8Array = new Uint8Array(0);
  private framing: { kind: 'length'; remaining: number } | { kind: 'chunked'; chunkLeft: number; trailer: boolean } | { kind: 'close' } | undefined;
  /** Whether the whole body has arrived. */
  done = false;

  constructor(private readonly maximumBody: number) {}

  get body(): Uint8Array {
    const whole = new Uint8Array(this.bodyBytes);
    let offset = 0;
    for (const part of this.parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    return whole;
  }

  take(data: Uint8Array): void {
    if (this.done) return;
    this.pending = concatenate(this.pending, data);
    if (this.head === undefined) {
      const end = findCrlfCrlf(this.pending);
      if (end < 0) {
        if (this.pending.length > HEAD_LIMIT) throw new Error(`the response head is over ${HEAD_LIMIT} bytes`);
        return;
      }
      this.head = parseResponseHead(new TextDecoder().decode(this.pending.subarray(0, end - 4)));
      this.pending = this.pending.subarray(end);
      this.framing = bodyFraming(this.head);
      if (this.framing.kind === 'length' && this.framing.remaining === 0) this.done = true;
    }
    this.consume();
  }

  /** The server closed the connection: the body must be whole by now unless the close delimits it. */
  end(): void {
    if (this.done) return;
    if (this.head === undefined) throw new Error('the server closed the connection before a whole response head');
    if (this.framing?.kind === 'close') {
      this.done = true;
      return;
    }
    if (this.framing?.kind === 'length') throw new Error(`the server closed the connection ${this.framing.remaining} bytes short of the Content-Length`);
    throw new Error('the server closed the connection inside the chunked body');
  }

  private keep(data: Uint8Array): void {
    if (data.length === 0) return;
    this.bodyBytes += data.length;
    if (this.bodyBytes > this.maximumBody) throw new Error(`the body is over ${this.maximumBody} bytes`);
    this.parts.push(data.slice());
  }

  private consume(): void {
    const framing = this.framing!;
    if (framing.kind === 'close') {
      this.keep(this.pending);
      this.pending = new Uint8Array(0);
      return;
    }
    if (framing.kind === 'length') {
      const piece = this.pending.subarray(0, framing.remaining);
      this.keep(piece);
      framing.remaining -= piece.length;
      this.pending = this.pending.subarray(piece.length);
      if (framing.remaining === 0) this.done = true;
      return;
    }
    // Chunked (RFC 9112 §7.1): SIZE[;ext] CRLF DATA CRLF ... 0 CRLF [trailers] CRLF.
    for (;;) {
      if (framing.chunkLeft > 0) {
        const piece = this.pending.subarray(0, framing.chunkLeft);
        this.keep(piece);
        framing.chunkLeft -= piece.length;
        this.pending = this.pending.subarray(piece.length);
        if (framing.chunkLeft > 0) return;
        framing.chunkLeft = -2; // the CRLF after the data
      }
      if (framing.chunkLeft === -2) {
        if (this.pending.length < 2) return;
        if (this.pending[0] !== 13 || this.pending[1] !== 10) throw new Error('a chunk is not followed by CRLF');
        this.pending = this.pending.subarray(2);
        framing.chunkLeft = 0;
      }
      const line = findCrlf(this.pending);
      if (line < 0) return;
      const text = new TextDecoder().decode(this.pending.subarray(0, line));
      this.pending = this.pending.subarray(line + 2);
      if (framing.trailer) {
        if (text === '') {
          this.done = true;
          return;
        }
        continue;
      }
      const size = /^([0-9a-fA-F]{1,8})[ \t]*(;.*)?$/.exec(text);
      if (!size) throw new Error(`"${text}" is not a chunk size`);
      const bytes = parseInt(size[1]!, 16);
      if (bytes === 0) framing.trailer = true;
      else framing.chunkLeft = bytes;
    }
  }
}

function parseResponseHead(text: string): HttpResponseHead {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!status) throw new Error(`"${statusLine}" is not an HTTP/1 status line`);
  const fields = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`the header line "${line}" is not NAME: VALUE`);
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    fields.set(key, fields.has(key) ? `${fields.get(key)}, ${value}` : value);
  }
  return { status: Number(status[1]), reason: status[2] ?? '', fields };
}

function bodyFraming(head: HttpResponseHead): NonNullable<HttpResponseReader['framing']> {
  if (head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)) return { kind: 'length', remaining: 0 };
  const coding = head.fields.get('transfer-encoding');
  if (coding !== undefined) {
    if (coding.toLowerCase().split(',').map((part) => part.trim()).at(-1) !== 'chunked') throw new Error(`the transfer coding "${coding}" is not understood`);
    return { kind: 'chunked', chunkLeft: 0, trailer: false };
  }
  const length = head.fields.get('content-length');
  if (length === undefined) return { kind: 'close' };
  if (!/^\d{1,15}$/.test(length)) throw new Error(`the Content-Length "${length}" is not one decimal number`);
  return { kind: 'length', remaining: Number(length) };
}

function findCrlfCrlf(buffer: Uint8Array): number {
  for (let index = 3; index < buffer.length; index++) {
    if (buffer[index] === 10 && buffer[index - 1] === 13 && buffer[index - 2] === 10 && buffer[index - 3] === 13) return index + 1;
  }
  return -1;
}

function findCrlf(buffer: Uint8Array): number {
  for (let index = 1; index < buffer.length; index++) if (buffer[index] === 10 && buffer[index - 1] === 13) return index - 1;
  return -1;
}

function concatenate(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const whole = new Uint8Array(a.length + b.length);
  whole.set(a);
  whole.set(b, a.length);
  return whole;
}
