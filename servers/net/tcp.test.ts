// TCP between two baton stacks on a wire the test holds (lossy when asked, by a seed),
// on a clock it moves; every frame is written to a pcap that tshark decodes.
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryDirectory } from '../../test/harness/host.js';
import { seededRandom } from '../../hal/net/impairment.js';
import { PcapWriter } from '../../hal/net/pcap.js';
import { captureFields, checkCapture, whenTshark } from '../../hal/net/tshark.js';
import { parseIpv4 } from './address.js';
import { NetworkStack } from './stack.js';
import type { TcpConnection } from './tcp_connection.js';
import { ManualTimers } from './timers.js';

/** The bytes of `parts`, one after another. */
function concatenate(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) { bytes.set(part, offset); offset += part.length; }
  return bytes;
}

/** True when `a` and `b` hold the same bytes (a mismatch is reported by its place, not a 256 KiB diff). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}


const directory = temporaryDirectory('tcp');
afterAll(() => directory.remove());

const A = parseIpv4('10.0.2.15')!;
const B = parseIpv4('10.0.2.16')!;

function wire(name: string, options: { loss?: number; seed?: number } = {}) {
  const timers = new ManualTimers();
  const dump = new PcapWriter(`${directory.path}/${name}.pcap`);
  const random = seededRandom(options.seed ?? 1);
  const queue: { to: NetworkStack; frame: Uint8Array }[] = [];
  let a: NetworkStack;
  let b: NetworkStack;
  const carry = (to: () => NetworkStack) => (frame: Uint8Array) => {
    // The capture is taken at the sender, so a lost frame shows once and its retransmission after.
    dump.write(frame);
    if (options.loss !== undefined && random() < options.loss) return;
    queue.push({ to: to(), frame });
  };
  a = new NetworkStack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 0xa), timers, transmit: carry(() => b), random: seededRandom(11) });
  b = new NetworkStack({ mac: Uint8Array.of(2, 0, 0, 0, 0, 0xb), timers, transmit: carry(() => a), random: seededRandom(12) });
  a.setAddress({ address: A, prefixLength: 24 });
  b.setAddress({ address: B, prefixLength: 24 });
  return {
    a, b, timers, path: dump.path,
    /** Delivers frames, moving the clock 1 ms per step, until `done` holds (or fails after `limitMs` of simulated time). */
    run(done: () => boolean, limitMs = 600_000) {
      for (let elapsed = 0; !done(); elapsed++) {
        if (elapsed > limitMs) throw new Error(`not done after ${limitMs} ms of simulated time`);
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) next.to.receive(next.frame);
        timers.advance(1);
      }
    },
    close() { dump.close(); },
  };
}

function pattern(length: number, salt: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (index * 7 + salt + (index >> 8)) & 0xff);
}

/** Writes `data` in pieces while the connection takes them; returns what `reader` read, once it is at its end. */
function transfer(net: ReturnType<typeof wire>, writer: TcpConnection, reader: TcpConnection, data: Uint8Array): Uint8Array {
  writer.write(data);
  writer.close();
  const chunks: Uint8Array[] = [];
  net.run(() => {
    if (reader.readableBytes > 0) chunks.push(reader.read());
    return reader.atEnd;
  });
  return concatenate(chunks);
}

describe('TCP between two stacks', () => {
  it('handshake, 256 KiB each way byte-exact, and close; tshark sees MSS and window scale, no malformed segment, no bad checksum', async () => {
    const net = wire('clean');
    // Port 9001: no dissector of tshark's claims it, so the payload stays data.
    const listener = net.b.tcp.listen(9001);
    const client = net.a.tcp.connect(B, 9001);
    net.run(() => client.state === 'ESTABLISHED');
    let server: TcpConnection | undefined;
    net.run(() => (server = listener.accept()) !== undefined);
    const up = pattern(256 * 1024, 1);
    const down = pattern(256 * 1024, 2);
    expect(sameBytes(transfer(net, client, server!, up), up)).toBe(true);
    expect(sameBytes(transfer(net, server!, client, down), down)).toBe(true);
    net.run(() => client.state === 'TIME-WAIT' && server!.state === 'CLOSED');
    expect(client.counts.retransmissions + server!.counts.retransmissions).toBe(0);
    net.close();
    await whenTshark('a clean TCP transfer decodes in tshark', () => {
      const syns = captureFields(net.path, ['tcp.flags.syn', 'tcp.flags.ack', 'tcp.options.mss_val', 'tcp.options.wscale.shift']).filter(([syn]) => syn === '1');
      expect(syns).toEqual([['1', '0', '1460', '2'], ['1', '1', '1460', '2']]);
      // The test's reader reads only between bursts, so the 256 KiB window does fill: tshark
      // notes that as a sequence warning, which is the window doing its job, not a fault.
      expect(checkCapture(net.path).filter((problem) => !/Zero Window segment|window specified by the receiver is now completely full|Window Update/.test(problem))).toEqual([]);
    });
  });

  it('over a wire that loses 5% of frames, 256 KiB arrives byte-exact through retransmissions, and the capture is still clean', async () => {
    const net = wire('lossy', { loss: 0.05, seed: 3 });
    const listener = net.b.tcp.listen(9000);
    const client = net.a.tcp.connect(B, 9000);
    let server: TcpConnection | undefined;
    net.run(() => (server = listener.accept()) !== undefined);
    const data = pattern(256 * 1024, 3);
    expect(sameBytes(transfer(net, client, server!, data), data)).toBe(true);
    expect(client.counts.retransmissions + client.counts.fastRetransmissions).toBeGreaterThan(0);
    net.close();
    await whenTshark('a lossy TCP transfer decodes in tshark', () => {
      // Loss makes tshark's sequence analysis warn (retransmissions, gaps, duplicate ACKs): expected here; nothing else may.
      expect(checkCapture(net.path).filter((problem) => !/\(Warning\/Sequence\)/.test(problem))).toEqual([]);
      expect(captureFields(net.path, ['tcp.analysis.retransmission']).some(([flag]) => flag !== '')).toBe(true);
    });
  });

  it('a SYN to a port nobody listens on is answered with RST+ACK, and connect reports "refused"', () => {
    const net = wire('refused');
    const reasons: string[] = [];
    const client = net.a.tcp.connect(B, 81);
    client.events = { closed: (reason) => reasons.push(reason) };
    net.run(() => client.state === 'CLOSED');
    expect(reasons).toEqual(['refused']);
    expect(net.b.tcp.counts.resetsSent).toBe(1);
    net.close();
  });

  it('a listener with a full backlog drops further SYNs until one is accepted; the client\'s retry then gets in', () => {
    const net = wire('backlog');
    const listener = net.b.tcp.listen(7000, 1);
    const first = net.a.tcp.connect(B, 7000);
    const second = net.a.tcp.connect(B, 7000);
    net.run(() => first.state === 'ESTABLISHED');
    net.timers.advance(100);
    expect(second.state).toBe('SYN-SENT');
    expect(net.b.tcp.counts.backlogDrops).toBeGreaterThan(0);
    expect(listener.accept()).toBeDefined();
    net.run(() => second.state === 'ESTABLISHED');
    expect(net.b.tcp.list().map((row) => row.state)).toEqual(['LISTEN', 'ESTABLISHED', 'ESTABLISHED']);
    net.close();
  });
});
