// TCP's state machine against a scripted peer: the test writes each segment the peer
// sends and reads each segment the connection sends, on a clock it moves.
import { describe, expect, it } from 'vitest';
import { TcpConnection, TIME_WAIT_MS, type CloseReason } from './tcp_connection.js';
import { TcpFlag, type TcpSegment } from './tcp_segment.js';
import { add, before, distance } from './tcp_sequence.js';
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


const PEER_ISS = 5000;

function scripted(initialSequence = 1000) {
  const timers = new ManualTimers();
  const out: TcpSegment[] = [];
  const closed: CloseReason[] = [];
  const connection = new TcpConnection({
    timers, localPort: 40000, remotePort: 80, maximumSegmentSize: 1460, initialSequence,
    transmit: (segment) => out.push(segment), events: { closed: (reason) => closed.push(reason) },
  });
  const peer = (fields: Partial<TcpSegment> & { flags: number }) => connection.receive({
    sourcePort: 80, destinationPort: 40000, sequence: PEER_ISS + 1, acknowledgement: 0, window: 65535, data: new Uint8Array(0), ...fields,
  });
  return { timers, out, closed, connection, peer, take: () => out.splice(0) };
}

const flagsOf = (segment: TcpSegment) => Object.entries(TcpFlag).filter(([, bit]) => (segment.flags & bit) !== 0).map(([name]) => name).join('+');

/** An established connection: SYN out, SYN+ACK in (MSS 1000, no window scale), ACK out. */
function established(initialSequence = 1000) {
  const rig = scripted(initialSequence);
  rig.connection.connect();
  const [syn] = rig.take();
  rig.peer({ sequence: PEER_ISS, acknowledgement: add(syn!.sequence, 1), flags: TcpFlag.SYN | TcpFlag.ACK, maximumSegmentSize: 1000 });
  rig.take();
  return rig;
}

describe('sequence arithmetic', () => {
  it('compares modulo 2^32 across the wrap', () => {
    expect(before(0xffff_fff0, 0x10)).toBe(true);
    expect(before(0x10, 0xffff_fff0)).toBe(false);
    expect(add(0xffff_ffff, 2)).toBe(1);
    expect(distance(0xffff_fffe, 3)).toBe(5);
  });
});

describe('TcpConnection', () => {
  it('connect sends a SYN with MSS and window scale; the SYN+ACK makes it ESTABLISHED with an ACK', () => {
    const rig = scripted();
    rig.connection.connect();
    const [syn] = rig.take();
    expect(rig.connection.state).toBe('SYN-SENT');
    expect(syn).toMatchObject({ flags: TcpFlag.SYN, sequence: 1000, maximumSegmentSize: 1460, windowScale: 2 });
    rig.peer({ sequence: PEER_ISS, acknowledgement: 1001, flags: TcpFlag.SYN | TcpFlag.ACK, maximumSegmentSize: 1000, windowScale: 3 });
    expect(rig.connection.state).toBe('ESTABLISHED');
    expect(rig.take().map((segment) => [flagsOf(segment), segment.sequence, segment.acknowledgement])).toEqual([['ACK', 1001, PEER_ISS + 1]]);
  });

  it('a SYN+ACK acknowledging the wrong number is answered with a RST and ignored; a RST with a right ACK is "refused"', () => {
    const rig = scripted();
    rig.connection.connect();
    rig.take();
    rig.peer({ sequence: PEER_ISS, acknowledgement: 7777, flags: TcpFlag.SYN | TcpFlag.ACK });
    expect(rig.take().map((segment) => [flagsOf(segment), segment.sequence])).toEqual([['RST', 7777]]);
    expect(rig.connection.state).toBe('SYN-SENT');
    rig.peer({ sequence: 0, acknowledgement: 1001, flags: TcpFlag.RST | TcpFlag.ACK });
    expect(rig.connection.state).toBe('CLOSED');
    expect(rig.closed).toEqual(['refused']);
  });

  it('SYN is retransmitted with back-off (1 s, 2 s, 4 s ...) and the connection gives up after five', () => {
    const rig = scripted();
    rig.connection.connect();
    const times: number[] = [];
    for (let step = 0; step < 70; step++) {
      rig.timers.advance(1000);
      if (rig.take().length > 0) times.push(rig.timers.now());
    }
    expect(times).toEqual([1000, 3000, 7000, 15000, 31000]);
    expect(rig.closed).toEqual(['timed-out']);
  });

  it('data goes out in MSS-sized segments across the 2^32 wrap, and ACKs free it', () => {
    const isn = 0xffff_fa00;
    const rig = established(isn);
    const data = Uint8Array.from({ length: 3000 }, (_, index) => index & 0xff);
    rig.connection.write(data);
    const sent = rig.take();
    // The third segment starts past 2^32.
    expect(sent.map((segment) => [segment.sequence, segment.data.length])).toEqual([[0xffff_fa01, 1000], [0xffff_fde9, 1000], [0x1d1, 1000]]);
    expect(sameBytes(concatenate(sent.map((segment) => segment.data)), data)).toBe(true);
    rig.peer({ acknowledgement: add(isn, 2001), flags: TcpFlag.ACK });
    expect(rig.connection.unacknowledged).toBe(1000);
    rig.peer({ acknowledgement: add(isn, 3001), flags: TcpFlag.ACK });
    expect(rig.connection.unacknowledged).toBe(0);
  });

  it('the RTO retransmits the first unacknowledged segment, backs off, and Karn\'s rule keeps the retransmission out of the RTT', () => {
    const rig = established();
    rig.timers.advance(100);
    rig.connection.write(new Uint8Array(500).fill(1));
    rig.take();
    rig.timers.advance(1000);
    const [again] = rig.take();
    expect(again).toMatchObject({ sequence: 1001 });
    expect(again!.data).toHaveLength(500);
    expect(rig.connection.rto.timeoutMs).toBe(2000);
    rig.timers.advance(50);
    rig.peer({ acknowledgement: 1501, flags: TcpFlag.ACK });
    // The handshake gave the only sample (SYN acknowledged at once): no sample from the retransmission.
    expect(rig.connection.rto.smoothed).toBe(0);
    expect(rig.connection.counts.retransmissions).toBe(1);
  });

  it('after an RTO each partial ACK resends the next hole at once, not one backed-off RTO per lost segment', () => {
    const rig = established();
    rig.connection.write(new Uint8Array(4000).fill(3));
    expect(rig.take()).toHaveLength(4);
    // The whole flight is lost: the RTO resends the first segment.
    rig.timers.advance(1000);
    expect(rig.take().map((segment) => [segment.sequence, segment.data.length])).toEqual([[1001, 1000]]);
    // Its ACK is short of what was sent: the next hole goes out now, with no timer advanced.
    rig.peer({ acknowledgement: 2001, flags: TcpFlag.ACK });
    expect(rig.take().map((segment) => [segment.sequence, segment.data.length])).toEqual([[2001, 1000]]);
    rig.peer({ acknowledgement: 3001, flags: TcpFlag.ACK });
    expect(rig.take().map((segment) => [segment.sequence, segment.data.length])).toEqual([[3001, 1000]]);
    rig.peer({ acknowledgement: 4001, flags: TcpFlag.ACK });
    expect(rig.take().map((segment) => [segment.sequence, segment.data.length])).toEqual([[4001, 1000]]);
    // The ACK of everything ends the recovery: nothing more is resent.
    rig.peer({ acknowledgement: 5001, flags: TcpFlag.ACK });
    expect(rig.take()).toEqual([]);
    expect(rig.connection.counts.retransmissions).toBe(1);
  });

  it('three duplicate ACKs retransmit the lost segment before the RTO', () => {
    const rig = established();
    rig.connection.write(new Uint8Array(4000).fill(2));
    expect(rig.take()).toHaveLength(4);
    rig.peer({ acknowledgement: 2001, flags: TcpFlag.ACK });
    for (let duplicate = 0; duplicate < 3; duplicate++) rig.peer({ acknowledgement: 2001, flags: TcpFlag.ACK });
    expect(rig.take().map((segment) => [segment.sequence, segment.data.length])).toEqual([[2001, 1000]]);
    expect(rig.connection.counts.fastRetransmissions).toBe(1);
  });

  it('out-of-order data waits and is delivered in order once the gap fills; every data segment is ACKed', () => {
    const rig = established();
    const text = (value: string) => new TextEncoder().encode(value);
    rig.peer({ sequence: PEER_ISS + 1 + 5, acknowledgement: 1001, flags: TcpFlag.ACK, data: text('world') });
    expect(rig.take().map((segment) => segment.acknowledgement)).toEqual([PEER_ISS + 1]);
    rig.peer({ sequence: PEER_ISS + 1, acknowledgement: 1001, flags: TcpFlag.ACK, data: text('hello') });
    expect(rig.take().map((segment) => segment.acknowledgement)).toEqual([PEER_ISS + 11]);
    expect(new TextDecoder().decode(rig.connection.read())).toBe('helloworld');
    // A duplicate of old data is ACKed and not delivered again.
    rig.peer({ sequence: PEER_ISS + 1, acknowledgement: 1001, flags: TcpFlag.ACK, data: text('hello') });
    expect(rig.connection.readableBytes).toBe(0);
  });

  it('RST is taken only at RCV.NXT: elsewhere in the window it gets a challenge ACK, outside it nothing; a SYN gets a challenge ACK', () => {
    const rig = established();
    rig.peer({ sequence: PEER_ISS + 100, flags: TcpFlag.RST });
    expect(rig.take().map(flagsOf)).toEqual(['ACK']);
    rig.peer({ sequence: PEER_ISS + 10_000_000, flags: TcpFlag.RST });
    expect(rig.take()).toEqual([]);
    rig.peer({ sequence: PEER_ISS + 1, flags: TcpFlag.SYN });
    expect(rig.take().map(flagsOf)).toEqual(['ACK']);
    expect(rig.connection.counts.challengeAcks).toBe(2);
    expect(rig.connection.state).toBe('ESTABLISHED');
    rig.peer({ sequence: PEER_ISS + 1, flags: TcpFlag.RST });
    expect(rig.connection.state).toBe('CLOSED');
    expect(rig.closed).toEqual(['reset']);
  });

  it('active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2 MSL (a retransmitted FIN is ACKed again), then CLOSED', () => {
    const rig = established();
    rig.connection.close();
    expect(rig.connection.state).toBe('FIN-WAIT-1');
    expect(rig.take().map((segment) => [flagsOf(segment), segment.sequence])).toEqual([['FIN+ACK', 1001]]);
    rig.peer({ acknowledgement: 1002, flags: TcpFlag.ACK });
    expect(rig.connection.state).toBe('FIN-WAIT-2');
    rig.peer({ acknowledgement: 1002, flags: TcpFlag.FIN | TcpFlag.ACK });
    expect(rig.connection.state).toBe('TIME-WAIT');
    expect(rig.take().map((segment) => [flagsOf(segment), segment.acknowledgement])).toEqual([['ACK', PEER_ISS + 2]]);
    rig.timers.advance(TIME_WAIT_MS - 1);
    rig.peer({ acknowledgement: 1002, flags: TcpFlag.FIN | TcpFlag.ACK });
    expect(rig.take().map(flagsOf)).toEqual(['ACK']);
    rig.timers.advance(TIME_WAIT_MS - 1);
    expect(rig.connection.state).toBe('TIME-WAIT');
    rig.timers.advance(1);
    expect(rig.connection.state).toBe('CLOSED');
    expect(rig.closed).toEqual(['closed']);
  });

  it('simultaneous close goes through CLOSING; passive close through CLOSE-WAIT and LAST-ACK', () => {
    const both = established();
    both.connection.close();
    both.take();
    both.peer({ acknowledgement: 1001, flags: TcpFlag.FIN | TcpFlag.ACK });
    expect(both.connection.state).toBe('CLOSING');
    both.peer({ sequence: PEER_ISS + 2, acknowledgement: 1002, flags: TcpFlag.ACK });
    expect(both.connection.state).toBe('TIME-WAIT');

    const passive = established();
    passive.peer({ acknowledgement: 1001, flags: TcpFlag.FIN | TcpFlag.ACK });
    expect(passive.connection.state).toBe('CLOSE-WAIT');
    expect(passive.connection.atEnd).toBe(true);
    passive.connection.write(new Uint8Array(10));
    passive.connection.close();
    expect(passive.connection.state).toBe('LAST-ACK');
    expect(passive.take().map((segment) => flagsOf(segment))).toEqual(['ACK', 'PSH+ACK', 'FIN+ACK']);
    passive.peer({ sequence: PEER_ISS + 2, acknowledgement: 1012, flags: TcpFlag.ACK });
    expect(passive.connection.state).toBe('CLOSED');
    expect(passive.closed).toEqual(['closed']);
  });
});
