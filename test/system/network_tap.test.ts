// The Linux host's stack as baton's peer, through --net tap: baton runs inside a network
// namespace this test makes (ip netns add), so its TAP device and every frame stay there.
// Root only (CAP_NET_ADMIN) and socat: without either the test says which and skips.
//
// Linux pings baton (an ICMP echo from a raw socket, so no ping binary is needed), baton
// pings Linux, and a UDP datagram to a port nobody has comes back to Linux's socket as
// ECONNREFUSED — which Linux reports only when baton's ICMP port unreachable quotes the
// datagram correctly. The dump decodes in tshark with nothing malformed.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureFields, checkCapture, whenTshark } from '../../hal/net/tshark.js';
import { RunningSystem } from '../harness/system.js';

const NAMESPACE = `baton-test-${process.pid}`;
const TAP = `bt${process.pid % 100000}`;
let system: RunningSystem | undefined;
let folder: string | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
  spawnSync('ip', ['netns', 'del', NAMESPACE]);
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

/** Why this host cannot run the test, or undefined when it can. */
function missing(): string | undefined {
  if (spawnSync('socat', ['-V']).status !== 0) return 'socat is not installed (package socat)';
  const made = spawnSync('ip', ['netns', 'add', NAMESPACE], { encoding: 'utf8' });
  if (made.status !== 0) return `a network namespace cannot be made here (needs root: CAP_NET_ADMIN): ${(made.stderr || made.error?.message || '').trim()}`;
  return undefined;
}

/** Runs a command inside the namespace; throws with its output when it fails. */
function inNamespace(command: string[], input?: string): string {
  const result = spawnSync('ip', ['netns', 'exec', NAMESPACE, ...command], { encoding: 'utf8', input, timeout: 30_000 });
  if (result.status !== 0) throw new Error(`${command.join(' ')} failed (${result.status}): ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Python (standard library only): one ICMP echo from a raw socket; prints the reply's source and sequence. */
const ECHO = `
import socket, struct, sys
def checksum(data):
    data += b'\\0' * (len(data) % 2)
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16: total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(10)
payload = b'linux pings baton'
header = struct.pack('!BBHHH', 8, 0, 0, 0x4242, 7)
s.sendto(struct.pack('!BBHHH', 8, 0, checksum(header + payload), 0x4242, 7) + payload, (sys.argv[1], 0))
while True:
    packet, (source, _) = s.recvfrom(2048)
    icmp = packet[(packet[0] & 15) * 4:]
    kind, code, _, ident, sequence = struct.unpack('!BBHHH', icmp[:8])
    if kind == 0 and ident == 0x4242:
        print(source, sequence, icmp[8:].decode(), checksum(icmp) == 0)
        break
`;

/** Python: a UDP datagram to a closed port; prints what the socket then says. */
const CLOSED_PORT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.connect((sys.argv[1], 9))
s.send(b'anyone there?')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
`;

describe('network with the Linux host as the peer', () => {
  it('--net tap: Linux and baton ping each other inside a namespace, Linux hears port unreachable, and the dump is clean in tshark', async () => {
    const reason = missing();
    if (reason !== undefined) {
      console.warn(`skipped, ${reason}: the --net tap test against the Linux stack`);
      return;
    }
    folder = mkdtempSync(join(tmpdir(), 'baton-tap-'));
    const dump = join(folder, 'tap.pcap');
    inNamespace(['ip', 'link', 'set', 'lo', 'up']);
    system = await RunningSystem.boot(['--net', `tap:${TAP}`, '--net-dump', dump, '--bootargs', 'net.ip=10.0.2.15/24'], undefined, { prefix: ['ip', 'netns', 'exec', NAMESPACE] });
    inNamespace(['ip', 'addr', 'add', '10.0.2.2/24', 'dev', TAP]);
    inNamespace(['ip', 'link', 'set', TAP, 'up']);
    // Linux's interface must finish coming up before its first frame reaches baton.
    const answer = await system.commandUntil('ping 10.0.2.2 -c 2', (output) => / 2 received/.test(output), 'two replies from Linux');
    expect(answer).toMatch(/64 bytes from 10\.0\.2\.2: icmp_seq=1 ttl=64/);
    expect(inNamespace(['python3', '-c', ECHO, '10.0.2.15']).trim()).toBe('10.0.2.15 7 linux pings baton True');
    expect(inNamespace(['python3', '-c', CLOSED_PORT, '10.0.2.15']).trim()).toBe('refused');
    const neighbours = inNamespace(['ip', 'neigh', 'show', 'dev', TAP]);
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(await system.command('ip'))![1]!;
    expect(neighbours).toContain(`10.0.2.15 lladdr ${mac}`);
    expect(await system.shutdown()).toBe(0);
    await whenTshark('the --net tap dump decodes in tshark', () => {
      // An ICMP error quotes an IPv4 header: tshark lists the outer value first.
      const icmp = captureFields(dump, ['icmp.type', 'icmp.code', 'ip.src', 'ip.dst']).filter(([type]) => type !== '').map((row) => row.map((cell) => cell.split(',')[0]!));
      expect(icmp).toContainEqual(['8', '0', '10.0.2.2', '10.0.2.15']);
      expect(icmp).toContainEqual(['0', '0', '10.0.2.15', '10.0.2.2']);
      expect(icmp).toContainEqual(['3', '3', '10.0.2.15', '10.0.2.2']);
      expect(checkCapture(dump)).toEqual([]);
    });
    // A boot inside the namespace, then both directions: more than the 60 s default on a loaded machine.
  }, 120_000);
});
