// Ethernet II frames (IEEE 802.3 with an EtherType): destination and source MAC, a
// 16-bit type, the payload. The device passes frames without FCS; frames shorter than 60
// bytes are padded with zeros, as the minimum frame (64 with FCS) requires.

export const EtherType = { IPV4: 0x0800, ARP: 0x0806, IPV6: 0x86dd } as const;
export const ETHERNET_HEADER_BYTES = 14;
export const ETHERNET_MINIMUM_FRAME = 60;

export interface EthernetFrame {
  readonly destination: Uint8Array;
  readonly source: Uint8Array;
  readonly type: number;
  readonly payload: Uint8Array;
}

/** Reads a frame; undefined when it is shorter than a header or carries an 802.3 length instead of a type. */
export function parseEthernet(frame: Uint8Array): EthernetFrame | undefined {
  if (frame.length < ETHERNET_HEADER_BYTES) return undefined;
  const type = (frame[12]! << 8) | frame[13]!;
  if (type < 0x0600) return undefined;
  return { destination: frame.subarray(0, 6), source: frame.subarray(6, 12), type, payload: frame.subarray(ETHERNET_HEADER_BYTES) };
}

/** A frame carrying `payload`, padded to the 60-byte minimum. */
export function buildEthernet(destination: Uint8Array, source: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(Math.max(ETHERNET_MINIMUM_FRAME, ETHERNET_HEADER_BYTES + payload.length));
  frame.set(destination, 0);
  frame.set(source, 6);
  frame[12] = type >>> 8;
  frame[13] = type & 0xff;
  frame.set(payload, ETHERNET_HEADER_BYTES);
  return frame;
}
