// The stack against a peer: a second NetworkStack on a wire the test holds, on a clock the
// test moves. Every frame on the wire is written to a pcap and decoded by tshark.
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../hal/net/pcap.js';
import { temporaryDirectory } from '../../test/harness/host.js';
import { captureFields, captureProtocols, checkCapture, whenTshark } from '../../hal/net/tshark.js';
import { parseIpv4 as parseAddress } from './address.js';
import { REQUEST_TRIES, RETRY_MS, REACHABLE_MS } from './arp_cache.js';
import { internetChecksum } from './checksum.js';
import { buildEthernet, EtherType } from './ethernet.js';
import { buildIpv4, IpProtocol } from './ipv4.js';
import { TIME_LIMIT_MS } from './reassembly.js';
import { NetworkStack } from './stack.js';
import { ManualTimers } from './timers.js';
import { buildUdp } from './udp.js';

const directory = temporaryDirectory('stack');
afterAll(() => directory.remove());

const A = parseAddress('10.0.2.15')!;
const B = parseAddress('10.0.2.16')!;
const MAC_A = Uint8Array.of(0x02, 0, 0, 0, 0, 0x0a);
const MAC_B = Uint8Array.of(0x02, 0, 0, 0, 0, 0x0b);

/** Two stacks on one wire; frames cross when `flush` is called (so no handler runs inside another). */
function lan(name: string, options: { connectB?: boolean } = {}) {
  const timers = new ManualTimers();
  const dump = new PcapWriter(`${directory.path}/${name}.pcap`);
  const queue: { to: 'a' | 'b'; frame: Uint8Array }[] = [];
  const wire: Uint8Array[] = [];
  const a = new NetworkStack({ mac: MAC_A, timers, transmit: (frame) => { wire.push(frame); dump.write(frame); queue.push({ to: 'b', frame }); } });
  const b = new NetworkStack({ mac: MAC_B, timers, transmit: (frame) => { wire.push(frame); dump.write(frame); queue.push({ to: 'a', frame }); } });
  const connected = options.connectB ?? true;
  a.setAddress({ address: A, prefixLength: 24 });
  b.setAddress({ address: B, prefixLength: 24 });
  return {
    a, b, timers, wire, path: dump.path,
    /** Delivers frames until the wire is quiet. */
    flush() {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (next.to === 'b' && !connected) continue;
        (next.to === 'a' ? a : b).receive(next.frame);
      }
    },
    /** Hands `frame` to A as if it came off the wire (and records it). */
    inject(frame: Uint8Array) {
      wire.push(frame);
      dump.write(frame);
      a.receive(frame);
    },
    close() { dump.close(); },
  };
}

describe('internetChecksum', () => {
  it('internetChecksum gives RFC 1071\'s example sum, and 0 over data that includes its checksum', () => {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum ~ddf2 = 220d).
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(0x220d);
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x22, 0x0d))).toBe(0);
    expect(internetChecksum(Uint8Array.of(0x01))).toBe(0xfeff);
  });
});

describe('NetworkStack', () => {
  it('ping across ARP: a request, its reply, an echo and its reply, which tshark decodes clean', async () => {
    const net = lan('ping');
    net.flush();
    const replies: number[] = [];
    net.a.onEchoReply(0x1234, (reply) => { expect(reply.source).toBe(B); replies.push(reply.sequence); });
    for (let sequence = 1; sequence <= 3; sequence++) {
      net.a.sendEchoRequest(B, 0x1234, sequence, new TextEncoder().encode('baton ping payload'));
      net.flush();
    }
    expect(replies).toEqual([1, 2, 3]);
    expect(net.a.arp.list()).toEqual([{ address: '10.0.2.16', mac: '02:00:00:00:00:0b', expiresInMs: REACHABLE_MS }]);
    expect(net.b.counts.echoRequestsAnswered).toBe(3);
    net.close();
    await whenTshark('the stack\'s ARP and ICMP echo decode in tshark', () => {
      const protocols = captureProtocols(net.path);
      // Two gratuitous ARPs, a request and reply, three echo pairs.
      expect(protocols).toEqual([
        'eth:ethertype:arp', 'eth:ethertype:arp', 'eth:ethertype:arp', 'eth:ethertype:arp',
        ...Array(6).fill('eth:ethertype:ip:icmp:data'),
      ]);
      expect(captureFields(net.path, ['arp.opcode', 'arp.isgratuitous']).slice(0, 4)).toEqual([['1', '1'], ['1', '1'], ['1', ''], ['2', '']]);
      expect(captureFields(net.path, ['icmp.type', 'icmp.seq', 'ip.ttl']).slice(4)).toEqual([['8', '1', '64'], ['0', '1', '64'], ['8', '2', '64'], ['0', '2', '64'], ['8', '3', '64'], ['0', '3', '64']]);
      expect(checkCapture(net.path)).toEqual([]);
    });
  });

  it('ARP asks three times a second apart, then gives up and drops what waited', () => {
    const net = lan('arp-retry', { connectB: false });
    net.flush();
    net.wire.length = 0;
    net.a.sendEchoRequest(B, 1, 1, new Uint8Array(8));
    net.timers.advance(RETRY_MS * REQUEST_TRIES);
    net.flush();
    expect(net.wire.filter((frame) => frame[12] === 0x08 && frame[13] === 0x06)).toHaveLength(REQUEST_TRIES);
    expect(net.a.arp.counts).toMatchObject({ requestsSent: REQUEST_TRIES, failed: 1, dropped: 1 });
    expect(net.a.arp.list()).toEqual([]);
    net.close();
  });

  it('ARP entries expire: the next packet asks again', () => {
    const net = lan('arp-expiry');
    net.a.sendEchoRequest(B, 1, 1, new Uint8Array(8));
    net.flush();
    const asked = net.a.arp.counts.requestsSent;
    net.timers.advance(REACHABLE_MS + 1);
    expect(net.a.arp.list()).toEqual([]);
    net.a.sendEchoRequest(B, 1, 2, new Uint8Array(8));
    expect(net.a.arp.counts.requestsSent).toBe(asked + 1);
    net.close();
  });

  it('UDP to a bound port is delivered; to an unbound one answers port unreachable, quoting it, clean in tshark', async () => {
    const net = lan('udp');
    const got: string[] = [];
    expect(net.b.bindUdp(7000, (datagram) => got.push(`${datagram.sourcePort}:${new TextDecoder().decode(datagram.data)}`))).toBe(true);
    expect(net.b.bindUdp(7000, () => undefined)).toBe(false);
    const unreachable: number[] = [];
    net.a.onUnreachable((report) => unreachable.push(report.code));
    net.a.sendUdp({ sourcePort: 50000, destinationPort: 7000, data: new TextEncoder().encode('hello') }, B);
    net.a.sendUdp({ sourcePort: 50000, destinationPort: 7001, data: new TextEncoder().encode('nobody') }, B);
    net.flush();
    expect(got).toEqual(['50000:hello']);
    expect(unreachable).toEqual([3]);
    expect(net.b.counts.udpNoPort).toBe(1);
    net.close();
    await whenTshark('UDP and ICMP port unreachable decode in tshark', () => {
      const protocols = captureProtocols(net.path);
      expect(protocols.filter((stack) => stack.includes('udp'))).toEqual(['eth:ethertype:ip:udp:data', 'eth:ethertype:ip:udp:data', 'eth:ethertype:ip:icmp:ip:udp']);
      expect(checkCapture(net.path)).toEqual([]);
    });
  });

  it('IPv4 fragments are reassembled in any order, duplicates ignored; a datagram left incomplete is dropped after the time limit', async () => {
    const net = lan('fragments');
    net.flush();
    const got: number[] = [];
    net.a.bindUdp(9, (datagram) => got.push(datagram.data.length));
    const data = Uint8Array.from({ length: 3000 }, (_, index) => index & 0xff);
    const udp = buildUdp({ sourcePort: 1234, destinationPort: 9, data }, B, A);
    const fragment = (offset: number, length: number, more: boolean, identification = 77) => buildEthernet(MAC_A, MAC_B, EtherType.IPV4,
      buildIpv4({ source: B, destination: A, protocol: IpProtocol.UDP, identification, moreFragments: more, fragmentOffset: offset }, udp.subarray(offset, offset + length)));
    net.inject(fragment(1480, 1480, true));
    net.inject(fragment(2960, udp.length - 2960, false));
    net.inject(fragment(1480, 1480, true));
    net.inject(fragment(0, 1480, true));
    expect(got).toEqual([3000]);
    expect(net.a.reassembly.counts.reassembled).toBe(1);
    net.inject(fragment(0, 1480, true, 78));
    expect(net.a.reassembly.inProgress).toBe(1);
    net.timers.advance(TIME_LIMIT_MS);
    expect(net.a.reassembly.counts.timedOut).toBe(1);
    expect(net.a.reassembly.inProgress).toBe(0);
    // Overlapping pieces that differ are refused.
    net.inject(fragment(0, 1480, true, 79));
    net.inject(fragment(1000, 1480, true, 79));
    expect(net.a.reassembly.counts.overlapping).toBe(1);
    net.close();
    await whenTshark('IPv4 fragments decode and reassemble in tshark', () => {
      expect(checkCapture(net.path)).toEqual([]);
      expect(captureFields(net.path, ['ip.flags.mf', 'ip.frag_offset'] /* in 8-byte units */).slice(2, 6)).toEqual([['1', '185'], ['0', '370'], ['1', '185'], ['1', '0']]);
    });
  });

  it('a bad IPv4 checksum, a bad UDP checksum, another host\'s packet and an unknown protocol are counted, and protocol unreachable is sent', () => {
    const net = lan('bad');
    net.flush();
    const good = buildIpv4({ source: B, destination: A, protocol: IpProtocol.UDP, identification: 5 }, buildUdp({ sourcePort: 1, destinationPort: 2, data: new Uint8Array(4) }, B, A));
    const badHeader = good.slice();
    badHeader[10]! ^= 0xff;
    const badUdp = good.slice();
    badUdp[27]! ^= 0xff;
    net.inject(buildEthernet(MAC_A, MAC_B, EtherType.IPV4, badHeader));
    net.inject(buildEthernet(MAC_A, MAC_B, EtherType.IPV4, badUdp));
    net.inject(buildEthernet(MAC_A, MAC_B, EtherType.IPV4, buildIpv4({ source: B, destination: parseAddress('10.0.2.99')!, protocol: IpProtocol.UDP, identification: 6 }, new Uint8Array(8))));
    net.inject(buildEthernet(MAC_A, MAC_B, EtherType.IPV4, buildIpv4({ source: B, destination: A, protocol: 200, identification: 7 }, new Uint8Array(8))));
    net.inject(Uint8Array.of(1, 2, 3));
    expect(net.a.counts).toMatchObject({ ipBadChecksum: 1, udpBad: 1, ipNotForUs: 1, ipUnknownProtocol: 1, framesIgnored: 1 });
    const unreachable: number[] = [];
    net.b.onUnreachable((report) => unreachable.push(report.code));
    net.flush();
    expect(unreachable).toEqual([2]);
    net.close();
  });

  it('sending needs an address and a route, and fits the MTU', () => {
    const timers = new ManualTimers();
    const stack = new NetworkStack({ mac: MAC_A, timers, transmit: () => undefined });
    expect(() => stack.sendEchoRequest(B, 1, 1, new Uint8Array(1))).toThrow(/no IPv4 address/);
    stack.setAddress({ address: A, prefixLength: 24 });
    expect(() => stack.sendEchoRequest(parseAddress('192.168.1.1')!, 1, 1, new Uint8Array(1))).toThrow(/no route to 192.168.1.1/);
    expect(() => stack.sendUdp({ sourcePort: 1, destinationPort: 2, data: new Uint8Array(1473) }, B)).toThrow(/does not fit the MTU/);
  });
});
