// One TCP connection: the state machine and transmission control block of RFC 9293
// (§3.3.2 states, §3.10 event processing), with RFC 6298 retransmission (tcp_timing.ts),
// RFC 5681 fast retransmit on the third duplicate ACK, RFC 5961's challenge ACKs for
// RSTs and SYNs that are in the window but not exact, and RFC 7323 window scaling and the
// MSS option on SYNs.
//
//   CLOSED ─connect→ SYN-SENT ─SYN+ACK→ ESTABLISHED ─close→ FIN-WAIT-1 ─ACK→ FIN-WAIT-2 ─FIN→ TIME-WAIT ─2MSL→ CLOSED
//   (listener) SYN → SYN-RECEIVED ─ACK→ ESTABLISHED ─FIN→ CLOSE-WAIT ─close→ LAST-ACK ─ACK→ CLOSED
//   FIN-WAIT-1 ─FIN→ CLOSING ─ACK→ TIME-WAIT;   any synchronized state ─RST at RCV.NXT→ CLOSED
//
// Not yet: delayed ACKs (every segment that needs one is ACKed at once), zero-window
// probes, congestion control (the send window is the peer's receive window alone),
// timestamps and SACK. The connection never throws for a segment: what does not fit is
// dropped, answered with an ACK or a RST as the RFC says.

import { add, before, beforeOrAt, distance, within } from './tcp_sequence.js';
import { segmentLength, TcpFlag, type TcpSegment } from './tcp_segment.js';
import { RetransmissionTimer } from './tcp_timing.js';
import type { Timers } from './timers.js';

export type TcpState = 'CLOSED' | 'SYN-SENT' | 'SYN-RECEIVED' | 'ESTABLISHED' | 'FIN-WAIT-1' | 'FIN-WAIT-2'
  | 'CLOSE-WAIT' | 'CLOSING' | 'LAST-ACK' | 'TIME-WAIT';

export type CloseReason = 'closed' | 'reset' | 'refused' | 'timed-out';

/** Linux's TIME-WAIT: 2 × MSL with MSL 30 s. */
export const TIME_WAIT_MS = 60_000;
export const RECEIVE_BUFFER_BYTES = 256 * 1024;
export const RECEIVE_WINDOW_SCALE = 2;
export const DEFAULT_PEER_MSS = 536;
/** Retransmissions of one segment before the connection is given up. */
export const MAXIMUM_RETRANSMISSIONS = 8;
export const MAXIMUM_SYN_RETRANSMISSIONS = 5;

export interface ConnectionEvents {
  established?(): void;
  /** Bytes can be read. */
  readable?(): void;
  /** The peer sent FIN: no more bytes will come. */
  peerClosed?(): void;
  /** The connection is gone (CLOSED); TIME-WAIT counts as closed for the user, who is told at its start. */
  closed?(reason: CloseReason): void;
}

export interface ConnectionOptions {
  readonly timers: Timers;
  readonly localPort: number;
  readonly remotePort: number;
  /** Our MSS: the interface MTU − 40. */
  readonly maximumSegmentSize: number;
  readonly initialSequence: number;
  /** Sends a segment (ports already filled) to the peer. */
  transmit(segment: TcpSegment): void;
  readonly events?: ConnectionEvents;
}

export interface ConnectionCounts {
  segmentsOut: number;
  segmentsIn: number;
  retransmissions: number;
  fastRetransmissions: number;
  challengeAcks: number;
  outOfOrder: number;
}

export class TcpConnection {
  state: TcpState = 'CLOSED';
  readonly localPort: number;
  readonly remotePort: number;
  readonly counts: ConnectionCounts = { segmentsOut: 0, segmentsIn: 0, retransmissions: 0, fastRetransmissions: 0, challengeAcks: 0, outOfOrder: 0 };
  readonly rto = new RetransmissionTimer();
  events: ConnectionEvents;
  private readonly timers: Timers;
  private readonly transmitSegment: (segment: TcpSegment) => void;
  private readonly ourMss: number;
  // Send sequence variables (RFC 9293 §3.3.1).
  private iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private sendScale = 0;
  private peerMss = DEFAULT_PEER_MSS;
  /** Bytes from SND.UNA's data onward: sent and not acknowledged, then not sent. */
  private sendBuffer = new Uint8Array(0);
  private finRequested = false;
  /** The FIN's sequence number, once it was sent. */
  private finSequence: number | undefined;
  // Receive sequence variables.
  private irs = 0;
  private rcvNxt = 0;
  private receiveScale = 0;
  private readonly received: Uint8Array[] = [];
  private receivedBytes = 0;
  private readonly outOfOrder = new Map<number, { data: Uint8Array; fin: boolean }>();
  private peerFinished = false;
  // Timers.
  private cancelRetransmit: (() => void) | undefined;
  private cancelTimeWait: (() => void) | undefined;
  private retransmissions = 0;
  /**
   * SND.NXT when a retransmission (RTO or fast retransmit) began, until an ACK reaches it: each
   * ACK short of it shows the next hole, which is resent at once (RFC 6582's partial
   * acknowledgement) rather than after an RTO backed off once per lost segment.
   */
  private recoveryPoint: number | undefined;
  private rttSample: { sequence: number; sentAt: number } | undefined;
  private duplicateAcks = 0;
  private closeReported = false;

  constructor(options: ConnectionOptions) {
    this.timers = options.timers;
    this.localPort = options.localPort;
    this.remotePort = options.remotePort;
    this.ourMss = options.maximumSegmentSize;
    this.transmitSegment = options.transmit;
    this.events = options.events ?? {};
    this.iss = options.initialSequence >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
  }

  /** Active open: sends SYN (with MSS and window scale). */
  connect(): void {
    if (this.state !== 'CLOSED') throw new RangeError(`connect in state ${this.state}`);
    this.state = 'SYN-SENT';
    this.sendSyn(false);
  }

  /** Passive open by a listener: `syn` is the peer's SYN; answers SYN+ACK. */
  acceptSyn(syn: TcpSegment): void {
    this.irs = syn.sequence;
    this.rcvNxt = add(syn.sequence, 1);
    this.takeSynOptions(syn);
    this.sndWnd = syn.window;
    this.sndWl1 = syn.sequence;
    this.state = 'SYN-RECEIVED';
    this.sendSyn(true);
  }

  /** Queues bytes to send; throws RangeError once the sending side is closed. */
  write(data: Uint8Array): void {
    if (this.finRequested || !['SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT'].includes(this.state)) {
      throw new RangeError(`cannot send in state ${this.state}${this.finRequested ? ' after close' : ''}`);
    }
    const joined = new Uint8Array(this.sendBuffer.length + data.length);
    joined.set(this.sendBuffer);
    joined.set(data, this.sendBuffer.length);
    this.sendBuffer = joined;
    this.output();
  }

  /** Bytes written and not yet acknowledged by the peer. */
  get unacknowledged(): number {
    return this.sendBuffer.length;
  }

  /** Takes up to `maximum` received bytes, in order. */
  read(maximum = Infinity): Uint8Array {
    const parts: Uint8Array[] = [];
    let length = 0;
    while (this.received.length > 0 && length < maximum) {
      const first = this.received[0]!;
      const take = Math.min(first.length, maximum - length);
      parts.push(first.subarray(0, take));
      length += take;
      if (take === first.length) this.received.shift();
      else this.received[0] = first.subarray(take);
    }
    const wasClosed = this.receiveWindow() === 0;
    this.receivedBytes -= length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) { bytes.set(part, offset); offset += part.length; }
    // The window opened from nothing: say so (RFC 9293 §3.8.6.2.2's window update).
    if (wasClosed && length > 0 && this.synchronized()) this.sendAck();
    return bytes;
  }

  get readableBytes(): number {
    return this.receivedBytes;
  }

  /** True once the peer's FIN arrived and every byte before it was read. */
  get atEnd(): boolean {
    return this.peerFinished && this.receivedBytes === 0;
  }

  /** Closes the sending side: FIN after every byte written. */
  close(): void {
    switch (this.state) {
      case 'CLOSED': return;
      case 'SYN-SENT': return this.terminate('closed');
      case 'SYN-RECEIVED': case 'ESTABLISHED': this.finRequested = true; this.state = 'FIN-WAIT-1'; break;
      case 'CLOSE-WAIT': this.finRequested = true; this.state = 'LAST-ACK'; break;
      default: return;
    }
    this.output();
  }

  /** Aborts: RST to the peer (in a synchronized state), CLOSED at once. */
  abort(): void {
    if (this.synchronized() || this.state === 'SYN-RECEIVED') {
      this.emit({ sequence: this.sndNxt, acknowledgement: 0, flags: TcpFlag.RST, window: 0, data: new Uint8Array(0) });
    }
    this.terminate('reset');
  }

  /** Processes one segment for this connection (RFC 9293 §3.10.7.3 and .4). */
  receive(segment: TcpSegment): void {
    this.counts.segmentsIn++;
    if (this.state === 'CLOSED') return;
    if (this.state === 'SYN-SENT') return this.receiveInSynSent(segment);
    const length = segmentLength(segment);
    // TIME-WAIT: the peer's FIN again (our ACK was lost): ACK it and restart the 2 MSL wait.
    if (this.state === 'TIME-WAIT' && (segment.flags & TcpFlag.FIN) !== 0 && (segment.flags & TcpFlag.RST) === 0 && add(segment.sequence, length) === this.rcvNxt) {
      this.sendAck();
      return this.enterTimeWait();
    }
    const window = this.receiveWindow();
    // 1. Is the segment acceptable (does it overlap the receive window)?
    const acceptable = length === 0
      ? (window === 0 ? segment.sequence === this.rcvNxt : within(segment.sequence, this.rcvNxt, add(this.rcvNxt, window)))
      : window > 0 && (within(segment.sequence, this.rcvNxt, add(this.rcvNxt, window)) || within(add(segment.sequence, length - 1), this.rcvNxt, add(this.rcvNxt, window)));
    if (!acceptable) {
      if ((segment.flags & TcpFlag.RST) === 0) this.sendAck();
      return;
    }
    // 2. RST: only at exactly RCV.NXT; elsewhere in the window, a challenge ACK (RFC 5961 §3.2).
    if ((segment.flags & TcpFlag.RST) !== 0) {
      if (segment.sequence !== this.rcvNxt) return this.challengeAck();
      return this.terminate(this.state === 'SYN-RECEIVED' ? 'refused' : 'reset');
    }
    // 4. A SYN in a synchronized state: challenge ACK (RFC 5961 §4.2).
    if ((segment.flags & TcpFlag.SYN) !== 0) {
      if (this.state === 'SYN-RECEIVED' && segment.sequence === this.irs) return this.sendSyn(true);
      return this.challengeAck();
    }
    // 5. ACK.
    if ((segment.flags & TcpFlag.ACK) === 0) return;
    if (this.state === 'SYN-RECEIVED') {
      if (!(before(this.sndUna, segment.acknowledgement) && beforeOrAt(segment.acknowledgement, this.sndNxt))) {
        return this.emit({ sequence: segment.acknowledgement, acknowledgement: 0, flags: TcpFlag.RST, window: 0, data: new Uint8Array(0) });
      }
      this.state = 'ESTABLISHED';
      this.sndWnd = segment.window << this.sendScale;
      this.sndWl1 = segment.sequence;
      this.sndWl2 = segment.acknowledgement;
      this.events.established?.();
    }
    if (!this.processAck(segment)) return;
    if ((this.state as TcpState) === 'CLOSED') return;
    // 7. Data, then 8. FIN.
    if (['ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2'].includes(this.state)) this.processData(segment);
    else if (this.state === 'TIME-WAIT' && (segment.flags & TcpFlag.FIN) !== 0) {
      // A retransmitted FIN: ACK it and restart the 2 MSL wait.
      this.sendAck();
      this.enterTimeWait();
    }
  }

  private synchronized(): boolean {
    return !['CLOSED', 'SYN-SENT', 'SYN-RECEIVED'].includes(this.state);
  }

  private receiveWindow(): number {
    return Math.max(0, RECEIVE_BUFFER_BYTES - this.receivedBytes);
  }

  private receiveInSynSent(segment: TcpSegment): void {
    const hasAck = (segment.flags & TcpFlag.ACK) !== 0;
    if (hasAck && (beforeOrAt(segment.acknowledgement, this.iss) || before(this.sndNxt, segment.acknowledgement))) {
      if ((segment.flags & TcpFlag.RST) === 0) this.emit({ sequence: segment.acknowledgement, acknowledgement: 0, flags: TcpFlag.RST, window: 0, data: new Uint8Array(0) });
      return;
    }
    if ((segment.flags & TcpFlag.RST) !== 0) {
      if (hasAck) this.terminate('refused');
      return;
    }
    if ((segment.flags & TcpFlag.SYN) === 0) return;
    this.irs = segment.sequence;
    this.rcvNxt = add(segment.sequence, 1);
    this.takeSynOptions(segment);
    if (hasAck) {
      this.sndUna = segment.acknowledgement;
      this.takeRttSample(segment.acknowledgement);
      this.stopRetransmitTimer();
    }
    if (before(this.iss, this.sndUna)) {
      this.state = 'ESTABLISHED';
      this.sndWnd = segment.window << this.sendScale;
      this.sndWl1 = segment.sequence;
      this.sndWl2 = segment.acknowledgement;
      this.retransmissions = 0;
      this.sendAck();
      this.events.established?.();
      this.output();
    } else {
      // Simultaneous open.
      this.state = 'SYN-RECEIVED';
      this.sendSyn(true);
    }
  }

  /** Returns false when the segment is to be dropped after its ACK. */
  private processAck(segment: TcpSegment): boolean {
    const ack = segment.acknowledgement;
    if (before(this.sndNxt, ack)) {
      // Acknowledges what was never sent.
      this.sendAck();
      return false;
    }
    if (before(this.sndUna, ack)) {
      const acknowledged = distance(this.sndUna, ack);
      const synAcked = this.sndUna === this.iss ? 1 : 0;
      const dataAcked = Math.min(this.sendBuffer.length, acknowledged - synAcked);
      this.sendBuffer = this.sendBuffer.slice(dataAcked);
      this.sndUna = ack;
      this.duplicateAcks = 0;
      this.retransmissions = 0;
      this.takeRttSample(ack);
      this.stopRetransmitTimer();
      if (this.recoveryPoint !== undefined && before(ack, this.recoveryPoint)) this.retransmitFirst();
      else {
        this.recoveryPoint = undefined;
        if (before(this.sndUna, this.sndNxt)) this.startRetransmitTimer();
      }
    } else if (ack === this.sndUna && segment.data.length === 0 && (segment.flags & (TcpFlag.SYN | TcpFlag.FIN)) === 0
      && (segment.window << this.sendScale) === this.sndWnd && before(this.sndUna, this.sndNxt)) {
      // A duplicate ACK (RFC 5681 §2): the third makes a fast retransmit.
      if (++this.duplicateAcks === 3) {
        this.counts.fastRetransmissions++;
        this.recoveryPoint = this.sndNxt;
        this.retransmitFirst();
      }
    }
    // Window update (RFC 9293 §3.10.7.4, fifth check).
    if (before(this.sndWl1, segment.sequence) || (this.sndWl1 === segment.sequence && beforeOrAt(this.sndWl2, ack))) {
      this.sndWnd = segment.window << this.sendScale;
      this.sndWl1 = segment.sequence;
      this.sndWl2 = ack;
    }
    const finAcked = this.finAcknowledged();
    switch (this.state) {
      case 'FIN-WAIT-1': if (finAcked) this.state = 'FIN-WAIT-2'; break;
      case 'CLOSING': if (finAcked) this.enterTimeWait(); return false;
      case 'LAST-ACK': if (finAcked) { this.terminate('closed'); return false; } break;
      default: break;
    }
    this.output();
    return true;
  }

  private processData(segment: TcpSegment): void {
    const fin = (segment.flags & TcpFlag.FIN) !== 0;
    if (segment.data.length === 0 && !fin) return;
    // Trim what was received already.
    let sequence = segment.sequence;
    let data = segment.data;
    const old = distance(sequence, this.rcvNxt);
    if (old > 0) {
      data = data.subarray(Math.min(old, data.length));
      sequence = add(sequence, Math.min(old, segment.data.length));
    }
    data = data.subarray(0, this.receiveWindow());
    if (sequence !== this.rcvNxt) {
      this.counts.outOfOrder++;
      if (!this.outOfOrder.has(sequence)) this.outOfOrder.set(sequence, { data: data.slice(), fin });
      this.sendAck();
      return;
    }
    let finished = this.deliver(data, fin && data.length === segment.data.length - Math.max(0, old));
    for (let next = this.outOfOrder.get(this.rcvNxt); next !== undefined && !finished; next = this.outOfOrder.get(this.rcvNxt)) {
      this.outOfOrder.delete(this.rcvNxt);
      finished = this.deliver(next.data, next.fin);
    }
    // Out-of-order pieces now wholly before RCV.NXT are old.
    for (const key of [...this.outOfOrder.keys()]) if (beforeOrAt(add(key, this.outOfOrder.get(key)!.data.length), this.rcvNxt)) this.outOfOrder.delete(key);
    this.sendAck();
    if (finished) this.peerFin();
  }

  /** Takes in-order bytes; returns true when a FIN followed them. */
  private deliver(data: Uint8Array, fin: boolean): boolean {
    if (data.length > 0) {
      this.received.push(data.slice());
      this.receivedBytes += data.length;
      this.rcvNxt = add(this.rcvNxt, data.length);
      this.events.readable?.();
    }
    if (!fin) return false;
    this.rcvNxt = add(this.rcvNxt, 1);
    return true;
  }

  private peerFin(): void {
    this.peerFinished = true;
    this.events.peerClosed?.();
    switch (this.state) {
      case 'ESTABLISHED': this.state = 'CLOSE-WAIT'; break;
      case 'FIN-WAIT-1':
        if (this.finAcknowledged()) this.enterTimeWait();
        else this.state = 'CLOSING';
        break;
      case 'FIN-WAIT-2': this.enterTimeWait(); break;
      default: break;
    }
  }

  private finAcknowledged(): boolean {
    return this.finSequence !== undefined && before(this.finSequence, this.sndUna);
  }

  /** Sequence number just after the last data byte written. */
  private dataEnd(): number {
    return add(this.sndUna, this.sendBuffer.length + (this.sndUna === this.iss ? 1 : 0));
  }

  /** Sends what the window allows: new data in MSS-sized segments, then the FIN. */
  private output(): void {
    if (!this.synchronized()) return;
    const dataStart = this.sndUna === this.iss ? add(this.iss, 1) : this.sndUna;
    for (;;) {
      const offset = distance(dataStart, this.sndNxt);
      const unsent = this.sendBuffer.length - offset;
      const usable = distance(this.sndNxt, add(this.sndUna, this.sndWnd));
      if (unsent > 0 && usable > 0) {
        const size = Math.min(unsent, usable, this.peerMss);
        const data = this.sendBuffer.subarray(offset, offset + size);
        const last = size === unsent;
        const withFin = last && this.finRequested;
        this.sendData(this.sndNxt, data, withFin);
        continue;
      }
      if (unsent === 0 && this.finRequested && this.finSequence === undefined) this.sendData(this.sndNxt, new Uint8Array(0), true);
      return;
    }
  }

  private sendData(sequence: number, data: Uint8Array, fin: boolean): void {
    const flags = TcpFlag.ACK | (data.length > 0 ? TcpFlag.PSH : 0) | (fin ? TcpFlag.FIN : 0);
    this.emit({ sequence, acknowledgement: this.rcvNxt, flags, window: this.advertisedWindow(), data });
    if (fin && this.finSequence === undefined) this.finSequence = add(sequence, data.length);
    const end = add(sequence, data.length + (fin ? 1 : 0));
    if (before(this.sndNxt, end)) {
      if (this.rttSample === undefined && this.retransmissions === 0) this.rttSample = { sequence: end, sentAt: this.timers.now() };
      this.sndNxt = end;
    }
    if (this.cancelRetransmit === undefined) this.startRetransmitTimer();
  }

  private sendSyn(withAck: boolean): void {
    this.emit({
      sequence: this.iss, acknowledgement: withAck ? this.rcvNxt : 0, flags: TcpFlag.SYN | (withAck ? TcpFlag.ACK : 0),
      window: Math.min(0xffff, RECEIVE_BUFFER_BYTES), maximumSegmentSize: this.ourMss,
      // RFC 7323 §2.2: offer a scale in a SYN; in a SYN+ACK only if the peer offered one.
      ...(!withAck || this.receiveScale > 0 ? { windowScale: RECEIVE_WINDOW_SCALE } : {}),
      data: new Uint8Array(0),
    });
    if (before(this.sndNxt, add(this.iss, 1))) {
      this.sndNxt = add(this.iss, 1);
      if (this.retransmissions === 0) this.rttSample = { sequence: this.sndNxt, sentAt: this.timers.now() };
    }
    if (this.cancelRetransmit === undefined) this.startRetransmitTimer();
  }

  private takeSynOptions(syn: TcpSegment): void {
    if (syn.maximumSegmentSize !== undefined) this.peerMss = Math.max(64, Math.min(syn.maximumSegmentSize, this.ourMss));
    else this.peerMss = Math.min(DEFAULT_PEER_MSS, this.ourMss);
    if (syn.windowScale !== undefined) {
      this.sendScale = syn.windowScale;
      this.receiveScale = RECEIVE_WINDOW_SCALE;
    }
  }

  private advertisedWindow(): number {
    return Math.min(0xffff, this.receiveWindow() >>> this.receiveScale);
  }

  private sendAck(): void {
    this.emit({ sequence: this.sndNxt, acknowledgement: this.rcvNxt, flags: TcpFlag.ACK, window: this.advertisedWindow(), data: new Uint8Array(0) });
  }

  private challengeAck(): void {
    this.counts.challengeAcks++;
    this.sendAck();
  }

  private emit(segment: Omit<TcpSegment, 'sourcePort' | 'destinationPort'>): void {
    this.counts.segmentsOut++;
    this.transmitSegment({ sourcePort: this.localPort, destinationPort: this.remotePort, ...segment });
  }

  private takeRttSample(ack: number): void {
    const sample = this.rttSample;
    if (sample === undefined || before(ack, sample.sequence)) return;
    this.rttSample = undefined;
    this.rto.sample(this.timers.now() - sample.sentAt);
  }

  private startRetransmitTimer(): void {
    this.stopRetransmitTimer();
    this.cancelRetransmit = this.timers.after(this.rto.timeoutMs, () => {
      this.cancelRetransmit = undefined;
      this.retransmitTimeout();
    });
  }

  private stopRetransmitTimer(): void {
    this.cancelRetransmit?.();
    this.cancelRetransmit = undefined;
  }

  /** RTO expired: back off, forget the RTT sample (Karn), resend from SND.UNA. */
  private retransmitTimeout(): void {
    if (!before(this.sndUna, this.sndNxt)) return;
    const limit = this.synchronized() ? MAXIMUM_RETRANSMISSIONS : MAXIMUM_SYN_RETRANSMISSIONS;
    if (this.retransmissions >= limit) return this.terminate('timed-out');
    this.retransmissions++;
    this.counts.retransmissions++;
    this.rto.expired();
    this.rttSample = undefined;
    if (this.synchronized()) this.recoveryPoint = this.sndNxt;
    this.retransmitFirst();
  }

  /** Resends the first unacknowledged segment (SYN, data or FIN) and rearms the timer. */
  private retransmitFirst(): void {
    this.rttSample = undefined;
    if (this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED') {
      this.sendSyn(this.state === 'SYN-RECEIVED');
    } else {
      const dataStart = this.sndUna === this.iss ? add(this.iss, 1) : this.sndUna;
      const offset = distance(dataStart, this.sndUna);
      const size = Math.min(this.peerMss, this.sendBuffer.length - offset, distance(this.sndUna, this.sndNxt));
      const data = this.sendBuffer.subarray(offset, offset + Math.max(0, size));
      const fin = this.finSequence !== undefined && add(this.sndUna, data.length) === this.finSequence;
      this.emit({ sequence: this.sndUna, acknowledgement: this.rcvNxt, flags: TcpFlag.ACK | (data.length > 0 ? TcpFlag.PSH : 0) | (fin ? TcpFlag.FIN : 0), window: this.advertisedWindow(), data });
    }
    this.startRetransmitTimer();
  }

  private enterTimeWait(): void {
    this.state = 'TIME-WAIT';
    this.stopRetransmitTimer();
    this.reportClosed('closed');
    this.cancelTimeWait?.();
    this.cancelTimeWait = this.timers.after(TIME_WAIT_MS, () => {
      this.cancelTimeWait = undefined;
      this.state = 'CLOSED';
    });
  }

  private terminate(reason: CloseReason): void {
    this.state = 'CLOSED';
    this.stopRetransmitTimer();
    this.cancelTimeWait?.();
    this.reportClosed(reason);
  }

  private reportClosed(reason: CloseReason): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.events.closed?.(reason);
  }
}
