// ARP for IPv4 over Ethernet (RFC 826): 28-byte request and reply packets.

import { readIpv4, writeIpv4, type Ipv4Address } from './address.js';
import { EtherType } from './ethernet.js';

export const ArpOperation = { REQUEST: 1, REPLY: 2 } as const;
export const ARP_PACKET_BYTES = 28;
const HARDWARE_ETHERNET = 1;

export interface ArpPacket {
  readonly operation: number;
  readonly senderMac: Uint8Array;
  readonly senderAddress: Ipv4Address;
  readonly targetMac: Uint8Array;
  readonly targetAddress: Ipv4Address;
}

/** Reads an Ethernet/IPv4 ARP packet; undefined for any other hardware or protocol, or a short one. */
export function parseArp(bytes: Uint8Array): ArpPacket | undefined {
  if (bytes.length < ARP_PACKET_BYTES) return undefined;
  const hardware = (bytes[0]! << 8) | bytes[1]!;
  const protocol = (bytes[2]! << 8) | bytes[3]!;
  if (hardware !== HARDWARE_ETHERNET || protocol !== EtherType.IPV4 || bytes[4] !== 6 || bytes[5] !== 4) return undefined;
  return {
    operation: (bytes[6]! << 8) | bytes[7]!,
    senderMac: bytes.slice(8, 14),
    senderAddress: readIpv4(bytes, 14),
    targetMac: bytes.slice(18, 24),
    targetAddress: readIpv4(bytes, 24),
  };
}

export function buildArp(packet: ArpPacket): Uint8Array {
  const bytes = new Uint8Array(ARP_PACKET_BYTES);
  bytes.set([0, HARDWARE_ETHERNET, EtherType.IPV4 >>> 8, EtherType.IPV4 & 0xff, 6, 4, 0, packet.operation], 0);
  bytes.set(packet.senderMac, 8);
  writeIpv4(bytes, 14, packet.senderAddress);
  bytes.set(packet.targetMac, 18);
  writeIpv4(bytes, 24, packet.targetAddress);
  return bytes;
}
