// IPv4 headers (RFC 791): parsed with every check a host makes (RFC 1122 §3.2.1),
// built without options, with the header checksum.

import { internetChecksum } from './checksum.js';
import { readIpv4, writeIpv4, type Ipv4Address } from './address.js';

export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17 } as const;
export const IPV4_HEADER_BYTES = 20;
export const DEFAULT_TTL = 64;
const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;

export interface Ipv4Packet {
  readonly headerLength: number;
  readonly typeOfService: number;
  readonly totalLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Offset of this fragment's data in the datagram, in bytes. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  /** The header as received (options included), for ICMP errors that quote it. */
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

export type Ipv4ParseResult = { ok: true; packet: Ipv4Packet } | { ok: false; reason: 'short' | 'version' | 'header-length' | 'total-length' | 'checksum' };

/** Reads an IPv4 packet; the payload is cut to the total length (Ethernet padding dropped). */
export function parseIpv4(bytes: Uint8Array): Ipv4ParseResult {
  if (bytes.length < IPV4_HEADER_BYTES) return { ok: false, reason: 'short' };
  if (bytes[0]! >>> 4 !== 4) return { ok: false, reason: 'version' };
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_BYTES || headerLength > bytes.length) return { ok: false, reason: 'header-length' };
  const totalLength = (bytes[2]! << 8) | bytes[3]!;
  if (totalLength < headerLength || totalLength > bytes.length) return { ok: false, reason: 'total-length' };
  if (internetChecksum(bytes.subarray(0, headerLength)) !== 0) return { ok: false, reason: 'checksum' };
  const flagsAndOffset = (bytes[6]! << 8) | bytes[7]!;
  return {
    ok: true,
    packet: {
      headerLength,
      typeOfService: bytes[1]!,
      totalLength,
      identification: (bytes[4]! << 8) | bytes[5]!,
      dontFragment: (flagsAndOffset & FLAG_DONT_FRAGMENT) !== 0,
      moreFragments: (flagsAndOffset & FLAG_MORE_FRAGMENTS) !== 0,
      fragmentOffset: (flagsAndOffset & 0x1fff) * 8,
      ttl: bytes[8]!,
      protocol: bytes[9]!,
      source: readIpv4(bytes, 12),
      destination: readIpv4(bytes, 16),
      header: bytes.subarray(0, headerLength),
      payload: bytes.subarray(headerLength, totalLength),
    },
  };
}

export interface Ipv4Header {
  readonly source: Ipv4Address;
  readonly destination: Ipv4Address;
  readonly protocol: number;
  readonly identification: number;
  readonly ttl?: number;
  readonly dontFragment?: boolean;
  /** For building fragments (tests, and output fragmentation later). */
  readonly moreFragments?: boolean;
  readonly fragmentOffset?: number;
}

/** A packet: a 20-byte header with its checksum, then `payload`. */
export function buildIpv4(header: Ipv4Header, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(IPV4_HEADER_BYTES + payload.length);
  const totalLength = bytes.length;
  if (totalLength > 0xffff) throw new RangeError(`an IPv4 packet of ${totalLength} bytes is longer than 65535`);
  const offset = header.fragmentOffset ?? 0;
  if (offset % 8 !== 0) throw new RangeError(`fragment offset ${offset} is not a multiple of 8`);
  const flagsAndOffset = (header.dontFragment ? FLAG_DONT_FRAGMENT : 0) | (header.moreFragments ? FLAG_MORE_FRAGMENTS : 0) | (offset / 8);
  bytes.set([0x45, 0, totalLength >>> 8, totalLength & 0xff, header.identification >>> 8, header.identification & 0xff,
    flagsAndOffset >>> 8, flagsAndOffset & 0xff, header.ttl ?? DEFAULT_TTL, header.protocol, 0, 0]);
  writeIpv4(bytes, 12, header.source);
  writeIpv4(bytes, 16, header.destination);
  const checksum = internetChecksum(bytes.subarray(0, IPV4_HEADER_BYTES));
  bytes[10] = checksum >>> 8;
  bytes[11] = checksum & 0xff;
  bytes.set(payload, IPV4_HEADER_BYTES);
  return bytes;
}
