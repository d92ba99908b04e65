// TCP segments (RFC 9293 §3.1): the 20-byte header, the options baton sends and reads
// (MSS, window scale; RFC 7323), and the checksum over the IPv4 pseudo-header.

import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import type { Ipv4Address } from './address.js';
import { IpProtocol } from './ipv4.js';

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;
export const TCP_HEADER_BYTES = 20;

export interface TcpSegment {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly sequence: number;
  readonly acknowledgement: number;
  readonly flags: number;
  /** The window field as sent (unscaled). */
  readonly window: number;
  readonly maximumSegmentSize?: number;
  readonly windowScale?: number;
  readonly data: Uint8Array;
}

export type TcpParseResult = { ok: true; segment: TcpSegment } | { ok: false; reason: 'short' | 'offset' | 'checksum' };

export function parseTcp(bytes: Uint8Array, source: Ipv4Address, destination: Ipv4Address): TcpParseResult {
  if (bytes.length < TCP_HEADER_BYTES) return { ok: false, reason: 'short' };
  const offset = (bytes[12]! >>> 4) * 4;
  if (offset < TCP_HEADER_BYTES || offset > bytes.length) return { ok: false, reason: 'offset' };
  if (finishChecksum(sumWords(bytes, pseudoHeaderSum(source, destination, IpProtocol.TCP, bytes.length))) !== 0) return { ok: false, reason: 'checksum' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let maximumSegmentSize: number | undefined;
  let windowScale: number | undefined;
  for (let at = TCP_HEADER_BYTES; at < offset;) {
    const kind = bytes[at]!;
    if (kind === 0) break;
    if (kind === 1) { at++; continue; }
    const length = bytes[at + 1] ?? 0;
    if (length < 2 || at + length > offset) break;
    if (kind === 2 && length === 4) maximumSegmentSize = view.getUint16(at + 2);
    if (kind === 3 && length === 3) windowScale = Math.min(bytes[at + 2]!, 14);
    at += length;
  }
  return {
    ok: true,
    segment: {
      sourcePort: view.getUint16(0), destinationPort: view.getUint16(2),
      sequence: view.getUint32(4), acknowledgement: view.getUint32(8),
      flags: bytes[13]! & 0x3f, window: view.getUint16(14),
      ...(maximumSegmentSize !== undefined ? { maximumSegmentSize } : {}),
      ...(windowScale !== undefined ? { windowScale } : {}),
      data: bytes.subarray(offset),
    },
  };
}

export function buildTcp(segment: TcpSegment, source: Ipv4Address, destination: Ipv4Address): Uint8Array {
  const options: number[] = [];
  if (segment.maximumSegmentSize !== undefined) options.push(2, 4, segment.maximumSegmentSize >>> 8, segment.maximumSegmentSize & 0xff);
  if (segment.windowScale !== undefined) options.push(1, 3, 3, segment.windowScale);
  while (options.length % 4 !== 0) options.push(0);
  const offset = TCP_HEADER_BYTES + options.length;
  const bytes = new Uint8Array(offset + segment.data.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, segment.sourcePort);
  view.setUint16(2, segment.destinationPort);
  view.setUint32(4, segment.sequence >>> 0);
  view.setUint32(8, segment.acknowledgement >>> 0);
  bytes[12] = (offset / 4) << 4;
  bytes[13] = segment.flags;
  view.setUint16(14, segment.window);
  bytes.set(options, TCP_HEADER_BYTES);
  bytes.set(segment.data, offset);
  view.setUint16(16, finishChecksum(sumWords(bytes, pseudoHeaderSum(source, destination, IpProtocol.TCP, bytes.length))));
  return bytes;
}

/** Sequence-space length of a segment: its data, and one each for SYN and FIN. */
export function segmentLength(segment: TcpSegment): number {
  return segment.data.length + ((segment.flags & TcpFlag.SYN) !== 0 ? 1 : 0) + ((segment.flags & TcpFlag.FIN) !== 0 ? 1 : 0);
}
