// baton's HTTP server (servers/httpd) with the Linux host as its client, through --net tap:
// baton runs inside a network namespace this test makes, so every frame stays there. Root
// only, with socat and curl: without them the test says which and skips.
//
// A file of 1.5 MiB on an ext2 disk (mounted at /mnt/www) is fetched by curl byte-exact
// (sha256); HEAD gives the length and no body; a missing file is 404, POST is 405 with
// Allow, a malformed request 400, each with a body saying why; two requests in one curl run
// share one connection (keep-alive). The dump decodes in tshark with nothing malformed.
//
// The other way: baton's `fetch` gets a 1.5 MiB file from python3's http.server bound inside
// the namespace into /tmp, byte-exact (sha256sum at the console), prints a small one, and
// names the status of a missing one.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureFields, checkCapture, whenTshark } from '../../hal/net/tshark.js';
import { e2fsprogsMissing, makeImage, sha256, temporaryDirectory, writeTree } from '../harness/ext2_tools.js';
import { NetworkNamespace } from '../harness/network_namespace.js';
import { RunningSystem } from '../harness/system.js';

const MiB = 1024 * 1024;
const TAP = `bh${process.pid % 100000}`;
const BATON = '10.0.2.15';
let system: RunningSystem | undefined;
let namespace: NetworkNamespace | undefined;
let work: { path: string; remove(): void } | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
  namespace?.remove();
  namespace = undefined;
  work?.remove();
  work = undefined;
});

/** Python (standard library only): sends raw bytes as a request, prints the status line of the answer. */
const RAW_REQUEST = `
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=20)
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
answer = b''
while True:
    part = s.recv(4096)
    if not part: break
    answer += part
print(answer.decode('latin-1'))
`;

describe('the HTTP server with the Linux host as the client', () => {
  it('--net tap: curl fetches a 1.5 MiB file byte-exact, HEAD, 404, 405 and 400 say why, keep-alive reuses the connection, and the dump is clean in tshark', async () => {
    const unavailable = e2fsprogsMissing ?? (spawnSync('curl', ['--version']).status !== 0 ? 'curl is not installed (package curl)' : undefined);
    if (unavailable !== undefined) {
      console.warn(`skipped, ${unavailable}: the httpd test against curl`);
      return;
    }
    namespace = new NetworkNamespace('httpd');
    const reason = namespace.create();
    if (reason !== undefined) {
      console.warn(`skipped, ${reason}: the httpd test against curl`);
      return;
    }
    work = temporaryDirectory('baton-httpd-');
    const tree = join(work.path, 'tree');
    const big = new Uint8Array(randomBytes(1.5 * MiB));
    writeTree(tree, [
      { kind: 'file', path: 'big.bin', content: big },
      { kind: 'file', path: 'index.html', content: new TextEncoder().encode('<h1>baton</h1>\n') },
    ]);
    const disk = join(work.path, 'www.img');
    writeFileSync(disk, makeImage({ source: tree, bytes: 8 * MiB, blockBytes: 4096, label: 'www' }));
    const dump = join(work.path, 'httpd.pcap');
    system = await RunningSystem.boot(['--disk', disk, '--net', `tap:${TAP}`, '--net-dump', dump, '--bootargs', `net.ip=${BATON}/24`],
      undefined, { prefix: ['ip', 'netns', 'exec', namespace.name] });
    namespace.run(['ip', 'addr', 'add', '10.0.2.2/24', 'dev', TAP]);
    namespace.run(['ip', 'link', 'set', TAP, 'up']);
    await system.commandUntil('mount', (output) => output.includes(' on /mnt/www type ext2'), 'the www disk mounted');
    await system.commandUntil('netstat', (output) => /:80\s.*LISTEN/.test(output), 'httpd listening on port 80');
    // Linux's interface must finish coming up before its first frame reaches baton.
    await system.commandUntil('ping 10.0.2.2 -c 1', (output) => / 1 received/.test(output), 'a reply from Linux');

    const fetched = join(work.path, 'fetched.bin');
    const url = `http://${BATON}/mnt/www/big.bin`;
    const headers = namespace.run(['curl', '-sS', '--fail', '-D', '-', '-o', fetched, '--max-time', '120', url]);
    expect(headers).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(headers).toMatch(/\r\nContent-Length: 1572864\r\n/);
    expect(headers).toMatch(/\r\nContent-Type: application\/octet-stream\r\n/);
    expect(sha256(readFileSync(fetched))).toBe(sha256(big));

    const head = namespace.run(['curl', '-sS', '-I', '--max-time', '30', url]);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toContain('Content-Length: 1572864');

    // Two URLs in one run: curl reuses the kept-alive connection (one connect in all).
    const pair = namespace.run(['curl', '-sS', '--max-time', '30', '-w', '[%{http_code} %{num_connects}]\n', `http://${BATON}/mnt/www/`, `http://${BATON}/nothing/here`]);
    expect(pair).toContain('<h1>baton</h1>\n[200 1]');
    expect(pair).toContain('404 Not Found: /nothing/here: no such file\n[404 0]');

    const post = namespace.run(['curl', '-sS', '-i', '--max-time', '30', '-X', 'POST', '-d', 'x', `http://${BATON}/`]);
    expect(post).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(post).toContain('Allow: GET, HEAD');
    expect(post).toContain('405 Method Not Allowed: POST is not served (GET and HEAD are)');

    const malformed = namespace.run(['python3', '-c', RAW_REQUEST, BATON, 'GET /\\r\\n\\r\\n']);
    expect(malformed).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(malformed).toContain('Connection: close');
    expect(malformed).toContain('is not METHOD TARGET VERSION');

    expect(await system.shutdown()).toBe(0);
    await whenTshark('the httpd dump decodes in tshark', () => {
      const responses = captureFields(dump, ['http.response.code']).map(([code]) => code).filter((code) => code !== '');
      expect(responses).toEqual(expect.arrayContaining(['200', '404', '405', '400']));
      expect(checkCapture(dump)).toEqual([]);
    });
  }, 240_000);

  it('--net tap: fetch gets files from python3 -m http.server in the namespace byte-exact, prints a small one, and names a 404', async () => {
    if (spawnSync('python3', ['--version']).status !== 0) {
      console.warn('skipped, python3 is not installed: the fetch test against http.server');
      return;
    }
    namespace = new NetworkNamespace('fetch');
    const reason = namespace.create();
    if (reason !== undefined) {
      console.warn(`skipped, ${reason}: the fetch test against http.server`);
      return;
    }
    work = temporaryDirectory('baton-fetch-');
    const served = join(work.path, 'served');
    const big = new Uint8Array(randomBytes(1.5 * MiB));
    writeTree(served, [
      { kind: 'file', path: 'big.bin', content: big },
      { kind: 'file', path: 'hello.txt', content: new TextEncoder().encode('hello from Linux\n') },
    ]);
    const dump = join(work.path, 'fetch.pcap');
    system = await RunningSystem.boot(['--net', `tap:${TAP}`, '--net-dump', dump, '--bootargs', `net.ip=${BATON}/24`],
      undefined, { prefix: ['ip', 'netns', 'exec', namespace.name] });
    namespace.run(['ip', 'addr', 'add', '10.0.2.2/24', 'dev', TAP]);
    namespace.run(['ip', 'link', 'set', TAP, 'up']);
    const server = namespace.start(['python3', '-u', '-m', 'http.server', '8000', '--bind', '10.0.2.2', '--directory', served]);
    await new Promise<void>((resolve, reject) => {
      let said = '';
      const timer = setTimeout(() => reject(new Error(`python3 -m http.server did not start within 30 s: ${said}`)), 30_000);
      const hear = (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('Serving HTTP')) {
          clearTimeout(timer);
          resolve();
        }
      };
      server.stdout!.on('data', hear);
      server.stderr!.on('data', hear);
      server.on('exit', (code) => reject(new Error(`python3 -m http.server ended (${code}): ${said}`)));
    });
    await system.commandUntil('ping 10.0.2.2 -c 1', (output) => / 1 received/.test(output), 'a reply from Linux');

    expect(await system.command('fetch http://10.0.2.2:8000/hello.txt')).toBe('hello from Linux');
    expect(await system.command('fetch http://10.0.2.2:8000/big.bin /tmp/big.bin')).toBe(`${big.length} bytes to /tmp/big.bin (HTTP 200 OK)`);
    expect(await system.command('sha256sum /tmp/big.bin')).toBe(`${sha256(big)}  /tmp/big.bin`);
    expect(await system.command('fetch http://10.0.2.2:8000/missing /tmp/missing')).toMatch(/^error: fetch: HTTP 404 File not found/);
    expect(await system.command('ls /tmp')).not.toContain('missing');
    expect(await system.command('fetch http://10.0.2.2:8001/')).toMatch(/^error: .*ECONNREFUSED|refused/i);

    expect(await system.shutdown()).toBe(0);
    await whenTshark('the fetch dump decodes in tshark', () => {
      const requests = captureFields(dump, ['http.request.uri']).map(([uri]) => uri).filter((uri) => uri !== '');
      expect(requests).toEqual(['/hello.txt', '/big.bin', '/missing']);
      // Linux's RST refusing port 8001 is meant (tshark's expert info warns of every RST); nothing else may be flagged.
      const refusals = captureFields(dump, ['frame.number', 'tcp.srcport', 'tcp.flags.reset'])
        .filter(([, port, reset]) => port === '8001' && (reset === '1' || reset === 'True')).map(([frame]) => `frame ${frame}:`);
      expect(refusals.length).toBeGreaterThan(0);
      expect(checkCapture(dump).filter((problem) => !(refusals.some((frame) => problem.startsWith(frame)) && problem.includes('Connection reset (RST)')))).toEqual([]);
    });
  }, 240_000);
});
