// Response heads and the refusals the server sends (RFC 9110 §15 status codes). Every
// response carries Content-Length, so a kept-alive connection knows where each one ends.

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 505: 'HTTP Version Not Supported',
};

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', txt: 'text/plain; charset=utf-8', css: 'text/css',
  js: 'text/javascript', json: 'application/json', svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  gif: 'image/gif', pdf: 'application/pdf', wasm: 'application/wasm',
};

/** The Content-Type of a file by its extension; application/octet-stream when unknown. */
export function contentType(path: string): string {
  const dot = path.lastIndexOf('.');
  const extension = dot > path.lastIndexOf('/') ? path.slice(dot + 1).toLowerCase() : '';
  return TYPES[extension] ?? 'application/octet-stream';
}

/** A status line and header fields, ending in the blank line. */
export function responseHead(status: number, length: number, type: string, keepAlive: boolean, extra: Readonly<Record<string, string>> = {}): Uint8Array {
  const lines = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}`,
    `Date: ${new Date().toUTCString()}`,
    'Server: baton-httpd',
    `Content-Type: ${type}`,
    `Content-Length: ${length}`,
    `Connection: ${keepAlive ? 'keep-alive' : 'close'}`,
    ...Object.entries(extra).map(([name, value]) => `${name}: ${value}`),
  ];
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n`);
}

/** A refusal: the head and a plain-text body saying why (the body left out for HEAD). */
export function errorResponse(status: number, reason: string, keepAlive: boolean, withBody: boolean, extra: Readonly<Record<string, string>> = {}): Uint8Array {
  const body = new TextEncoder().encode(`${status} ${REASONS[status] ?? 'Unknown'}: ${reason}\n`);
  const head = responseHead(status, body.length, 'text/plain; charset=utf-8', keepAlive, extra);
  if (!withBody) return head;
  const whole = new Uint8Array(head.length + body.length);
  whole.set(head);
  whole.set(body, head.length);
  return whole;
}
