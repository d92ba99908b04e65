// ICMP for IPv4 (RFC 792): echo request and reply, destination unreachable.

import { internetChecksum } from './checksum.js';

export const IcmpType = { ECHO_REPLY: 0, DESTINATION_UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
export const UnreachableCode = { NETWORK: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAGMENTATION_NEEDED: 4 } as const;

export interface IcmpMessage {
  readonly type: number;
  readonly code: number;
  /** The four bytes after the checksum: identifier and sequence for echoes, unused for unreachables. */
  readonly rest: number;
  readonly data: Uint8Array;
}

/** Reads an ICMP message; undefined when shorter than 8 bytes or its checksum is wrong. */
export function parseIcmp(bytes: Uint8Array): IcmpMessage | undefined {
  if (bytes.length < 8 || internetChecksum(bytes) !== 0) return undefined;
  return { type: bytes[0]!, code: bytes[1]!, rest: ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0, data: bytes.subarray(8) };
}

export function buildIcmp(message: IcmpMessage): Uint8Array {
  const bytes = new Uint8Array(8 + message.data.length);
  bytes.set([message.type, message.code, 0, 0, message.rest >>> 24, (message.rest >>> 16) & 0xff, (message.rest >>> 8) & 0xff, message.rest & 0xff]);
  bytes.set(message.data, 8);
  const checksum = internetChecksum(bytes);
  bytes[2] = checksum >>> 8;
  bytes[3] = checksum & 0xff;
  return bytes;
}

export function echoIdentifier(message: IcmpMessage): number {
  return message.rest >>> 16;
}

export function echoSequence(message: IcmpMessage): number {
  return message.rest & 0xffff;
}

export function buildEcho(type: typeof IcmpType.ECHO_REQUEST | typeof IcmpType.ECHO_REPLY, identifier: number, sequence: number, data: Uint8Array): Uint8Array {
  return buildIcmp({ type, code: 0, rest: ((identifier & 0xffff) * 0x10000 + (sequence & 0xffff)) >>> 0, data });
}

/** Destination unreachable quoting the offending packet's header and first 8 bytes of its data (RFC 792). */
export function buildUnreachable(code: number, header: Uint8Array, payload: Uint8Array): Uint8Array {
  const quoted = new Uint8Array(header.length + Math.min(8, payload.length));
  quoted.set(header);
  quoted.set(payload.subarray(0, 8), header.length);
  return buildIcmp({ type: IcmpType.DESTINATION_UNREACHABLE, code, rest: 0, data: quoted });
}
