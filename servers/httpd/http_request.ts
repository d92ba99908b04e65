// The head of an HTTP/1.1 request (RFC 9112 §2-3): request line, header fields, and what
// the server makes of them. Pure: bytes in, a request or the reason it is refused out.

/** The longest head accepted (request line and fields); a longer one is refused with 431. */
export const REQUEST_HEAD_LIMIT = 8 * 1024;

export interface HttpRequest {
  readonly method: string;
  /** The path, percent-decoded, without query; always starts with '/'. */
  readonly path: string;
  readonly version: 'HTTP/1.0' | 'HTTP/1.1';
  /** Field names lower-cased; repeated fields joined with ', ' (RFC 9110 §5.3). */
  readonly fields: ReadonlyMap<string, string>;
  /** Whether the connection stays open after the response (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"). */
  readonly keepAlive: boolean;
  /** The Content-Length of a body the request carries (0 for none). The server reads no body: it answers and closes. */
  readonly bodyLength: number;
}

export type ParsedHead = { readonly request: HttpRequest } | { readonly status: 400 | 431 | 501 | 505; readonly reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Where the head in `buffer` ends (the index after CRLF CRLF), or -1 when it has not all arrived. */
export function headEnd(buffer: Uint8Array): number {
  for (let index = 3; index < buffer.length; index++) {
    if (buffer[index] === 10 && buffer[index - 1] === 13 && buffer[index - 2] === 10 && buffer[index - 3] === 13) return index + 1;
  }
  return -1;
}

/** Parses a request head (the bytes up to and including the blank line). */
export function parseHead(head: Uint8Array): ParsedHead {
  if (head.length > REQUEST_HEAD_LIMIT) return { status: 431, reason: `the request head is over ${REQUEST_HEAD_LIMIT} bytes` };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head);
  } catch {
    return { status: 400, reason: 'the request head is not UTF-8' };
  }
  const lines = text.split('\r\n');
  // A server SHOULD ignore at least one empty line before the request line (RFC 9112 §2.2).
  while (lines[0] === '') lines.shift();
  const requestLine = lines.shift() ?? '';
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return { status: 400, reason: `the request line "${requestLine}" is not METHOD TARGET VERSION` };
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) return { status: 400, reason: `the method "${method}" is not a token` };
  if (!/^HTTP\/\d\.\d$/.test(version)) return { status: 400, reason: `"${version}" is not an HTTP version` };
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return { status: 505, reason: `${version} is not served (HTTP/1.0 and HTTP/1.1 are)` };
  const fields = new Map<string, string>();
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) return { status: 400, reason: `the header line "${line}" is not NAME: VALUE` };
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    fields.set(key, fields.has(key) ? `${fields.get(key)}, ${value}` : value);
  }
  if (version === 'HTTP/1.1' && !fields.has('host')) return { status: 400, reason: 'an HTTP/1.1 request needs a Host field (RFC 9112 §3.2)' };
  if (fields.has('transfer-encoding')) return { status: 501, reason: 'request bodies in Transfer-Encoding are not accepted' };
  const length = fields.get('content-length') ?? '0';
  if (!/^\d{1,15}$/.test(length)) return { status: 400, reason: `the Content-Length "${length}" is not one decimal number` };
  const bodyLength = Number(length);
  const path = targetPath(target);
  if (typeof path === 'object') return path;
  const connection = (fields.get('connection') ?? '').toLowerCase().split(',').map((option) => option.trim());
  const keepAlive = version === 'HTTP/1.1' ? !connection.includes('close') : connection.includes('keep-alive');
  return { request: { method, path, version, fields, keepAlive: keepAlive && bodyLength === 0, bodyLength } };
}

/** The decoded path of an origin-form target ("/a%20b?q" → "/a b"); an absolute-form URL is accepted for its path. */
function targetPath(target: string): string | { status: 400; reason: string } {
  let origin = target;
  const absolute = /^http:\/\/[^/]*(\/.*)?$/i.exec(target);
  if (absolute) origin = absolute[1] ?? '/';
  if (!origin.startsWith('/')) return { status: 400, reason: `the target "${target}" is not a path` };
  const withoutQuery = origin.split(/[?#]/, 1)[0]!;
  try {
    const path = decodeURIComponent(withoutQuery);
    if (path.includes('\0')) return { status: 400, reason: 'the path holds a NUL byte' };
    return path;
  } catch {
    return { status: 400, reason: `the target "${target}" has a malformed percent escape` };
  }
}

/**
 * The file a request path names under `root`: "." and empty segments dropped, ".." taking
 * away the segment before it but never leaving `root`.
 */
export function resolveUnder(root: string, path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const base = root.replace(/\/+$/, '');
  return `${base}/${segments.join('/')}`;
}
