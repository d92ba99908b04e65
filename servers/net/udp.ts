// UDP (RFC 768): 8-byte header, checksum over the IPv4 pseudo-header (0 means none on
// receive; a computed 0 is sent as 0xffff).

import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js';
import type { Ipv4Address } from './address.js';
import { IpProtocol } from './ipv4.js';

export const UDP_HEADER_BYTES = 8;

export interface UdpDatagram {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly data: Uint8Array;
}

export type UdpParseResult = { ok: true; datagram: UdpDatagram } | { ok: false; reason: 'short' | 'length' | 'checksum' };

export function parseUdp(bytes: Uint8Array, source: Ipv4Address, destination: Ipv4Address): UdpParseResult {
  if (bytes.length < UDP_HEADER_BYTES) return { ok: false, reason: 'short' };
  const length = (bytes[4]! << 8) | bytes[5]!;
  if (length < UDP_HEADER_BYTES || length > bytes.length) return { ok: false, reason: 'length' };
  const segment = bytes.subarray(0, length);
  const checksum = (bytes[6]! << 8) | bytes[7]!;
  if (checksum !== 0 && finishChecksum(sumWords(segment, pseudoHeaderSum(source, destination, IpProtocol.UDP, length))) !== 0) {
    return { ok: false, reason: 'checksum' };
  }
  return { ok: true, datagram: { sourcePort: (bytes[0]! << 8) | bytes[1]!, destinationPort: (bytes[2]! << 8) | bytes[3]!, data: segment.subarray(UDP_HEADER_BYTES) } };
}

export function buildUdp(datagram: UdpDatagram, source: Ipv4Address, destination: Ipv4Address): Uint8Array {
  const length = UDP_HEADER_BYTES + datagram.data.length;
  const bytes = new Uint8Array(length);
  bytes.set([datagram.sourcePort >>> 8, datagram.sourcePort & 0xff, datagram.destinationPort >>> 8, datagram.destinationPort & 0xff, length >>> 8, length & 0xff, 0, 0]);
  bytes.set(datagram.data, UDP_HEADER_BYTES);
  const checksum = finishChecksum(sumWords(bytes, pseudoHeaderSum(source, destination, IpProtocol.UDP, length))) || 0xffff;
  bytes[6] = checksum >>> 8;
  bytes[7] = checksum & 0xff;
  return bytes;
}
