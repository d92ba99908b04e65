// IPv4 fragment reassembly (RFC 791 §3.2, RFC 815's hole list reduced to sorted pieces).
//
// Fragments are keyed by source, destination, protocol and identification. A datagram is
// whole when the piece with MF clear has come and the pieces cover it without a gap; it
// must be whole within TIME_LIMIT_MS of its first fragment (Linux's 30 s) or it is
// dropped. Refused, and counted by reason: overlapping pieces (RFC 5722's rule, applied
// to IPv4 as Linux does for conflicting ones), a datagram beyond 65535 bytes, more than
// MAXIMUM_DATAGRAMS being reassembled at once. An exact duplicate of a piece is ignored.

import type { Ipv4Address } from './address.js';
import type { Ipv4Packet } from './ipv4.js';
import type { Timers } from './timers.js';

export const TIME_LIMIT_MS = 30_000;
export const MAXIMUM_DATAGRAMS = 64;
const MAXIMUM_DATAGRAM_BYTES = 65535 - 20;

export interface ReassemblyCounts {
  reassembled: number;
  timedOut: number;
  overlapping: number;
  tooLong: number;
  tooMany: number;
}

interface Partial {
  readonly pieces: { offset: number; data: Uint8Array }[];
  totalLength: number | undefined;
  readonly first: Ipv4Packet | undefined;
  cancel: () => void;
}

export interface Reassembled {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly protocol: number;
  readonly ttl: number;
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  readonly counts: ReassemblyCounts = { reassembled: 0, timedOut: 0, overlapping: 0, tooLong: 0, tooMany: 0 };

  constructor(private readonly timers: Timers) {}

  get inProgress(): number {
    return this.partials.size;
  }

  /** Takes a fragment; returns the datagram when this one completed it. */
  add(packet: Ipv4Packet): Reassembled | undefined {
    const key = `${packet.source}/${packet.destination}/${packet.protocol}/${packet.identification}`;
    let partial = this.partials.get(key);
    if (partial === undefined) {
      if (this.partials.size >= MAXIMUM_DATAGRAMS) {
        this.counts.tooMany++;
        return undefined;
      }
      partial = { pieces: [], totalLength: undefined, first: undefined, cancel: () => undefined };
      const created = partial;
      created.cancel = this.timers.after(TIME_LIMIT_MS, () => {
        if (this.partials.get(key) !== created) return;
        this.partials.delete(key);
        this.counts.timedOut++;
      });
      this.partials.set(key, partial);
    }
    const start = packet.fragmentOffset;
    const end = start + packet.payload.length;
    const refuse = (reason: 'overlapping' | 'tooLong') => {
      this.counts[reason]++;
      partial!.cancel();
      this.partials.delete(key);
      return undefined;
    };
    if (end > MAXIMUM_DATAGRAM_BYTES) return refuse('tooLong');
    // The same fragment twice (a duplicating network) changes nothing.
    if (partial.pieces.some((piece) => piece.offset === start && piece.data.length === packet.payload.length)) return undefined;
    if (partial.pieces.some((piece) => start < piece.offset + piece.data.length && piece.offset < end)) return refuse('overlapping');
    if (!packet.moreFragments) {
      if (partial.totalLength !== undefined && partial.totalLength !== end) return refuse('overlapping');
      partial.totalLength = end;
    }
    if (partial.totalLength !== undefined && end > partial.totalLength) return refuse('overlapping');
    partial.pieces.push({ offset: start, data: packet.payload.slice() });
    if (start === 0) (partial as { first: Ipv4Packet | undefined }).first = packet;
    const total = partial.totalLength;
    if (total === undefined || partial.pieces.reduce((sum, piece) => sum + piece.data.length, 0) !== total) return undefined;
    partial.cancel();
    this.partials.delete(key);
    this.counts.reassembled++;
    const payload = new Uint8Array(total);
    for (const piece of partial.pieces) payload.set(piece.data, piece.offset);
    const first = partial.first!;
    return { source: first.source, destination: first.destination, protocol: first.protocol, ttl: first.ttl, header: first.header.slice(), payload };
  }
}
