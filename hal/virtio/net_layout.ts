// virtio-net wire formats (virtio 1.2 §5.1), shared by the device model and drivers.
//
// Queues: 0 receiveq1 (device → driver), 1 transmitq1 (driver → device); no control
// queue (VIRTIO_NET_F_CTRL_VQ is not offered). Every buffer on either queue starts with a
// struct virtio_net_hdr, 12 bytes with VIRTIO_F_VERSION_1 (num_buffers is always there),
// followed by one whole Ethernet frame without its frame check sequence.

import { Layout, u8, u16 } from './layout.js';

export const NetQueue = { RECEIVE: 0, TRANSMIT: 1 } as const;

/** virtio-net feature bits (§5.1.3) this code names. */
export const NetFeatureBit = {
  CSUM: 0,
  GUEST_CSUM: 1,
  MTU: 3,
  MAC: 5,
  GUEST_TSO4: 7,
  MRG_RXBUF: 15,
  STATUS: 16,
  CTRL_VQ: 17,
  MQ: 22,
} as const;

/** struct virtio_net_config (§5.1.4), the part up to mtu. mac needs F_MAC, status F_STATUS, mtu F_MTU. */
export const NET_CONFIG = new Layout(12, {
  mac0: u8(0), mac1: u8(1), mac2: u8(2), mac3: u8(3), mac4: u8(4), mac5: u8(5),
  status: u16(6),
  maximumQueuePairs: u16(8),
  mtu: u16(10),
});

/** virtio_net_config.status bits. */
export const NetStatus = { LINK_UP: 1, ANNOUNCE: 2 } as const;

/** struct virtio_net_hdr (§5.1.6) with VERSION_1: always 12 bytes. */
export const NET_HEADER = new Layout(12, {
  flags: u8(0),
  gsoType: u8(1),
  headerLength: u16(2),
  gsoSize: u16(4),
  checksumStart: u16(6),
  checksumOffset: u16(8),
  buffers: u16(10),
});

export const NetHeaderFlag = { NEEDS_CSUM: 1, DATA_VALID: 2, RSC_INFO: 4 } as const;
export const NET_GSO_NONE = 0;

/** The Ethernet MTU the device reports (F_MTU); a frame is at most MTU + 14 bytes of header. */
export const NET_MTU = 1500;
/** Longest frame (no FCS, no VLAN tag) the device passes: destination, source, type, payload. */
export const NET_MAXIMUM_FRAME = NET_MTU + 14;
/** Shortest frame the device passes: an Ethernet header. */
export const NET_MINIMUM_FRAME = 14;
/** A receive buffer must hold a header and the longest frame (§5.1.6.3.1 without MRG_RXBUF or GSO). */
export const NET_RECEIVE_BUFFER_BYTES = NET_HEADER.size + NET_MAXIMUM_FRAME;

/** The six bytes of a MAC address as "52:54:00:12:34:56". */
export function formatMac(mac: Uint8Array): string {
  return [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** "52:54:00:12:34:56" → six bytes; throws RangeError for anything else. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((part) => !/^[0-9a-fA-F]{2}$/.test(part))) throw new RangeError(`"${text}" is not a MAC address (six hex pairs with colons)`);
  return Uint8Array.from(parts.map((part) => parseInt(part, 16)));
}

/** The config space for `mac`, link up or down. */
export function encodeNetConfig(mac: Uint8Array, linkUp: boolean): Uint8Array {
  if (mac.length !== 6) throw new RangeError(`a MAC address is 6 bytes, not ${mac.length}`);
  return NET_CONFIG.encode({
    mac0: mac[0]!, mac1: mac[1]!, mac2: mac[2]!, mac3: mac[3]!, mac4: mac[4]!, mac5: mac[5]!,
    status: linkUp ? NetStatus.LINK_UP : 0,
    maximumQueuePairs: 1,
    mtu: NET_MTU,
  });
}

/** Reads the MAC out of config bytes. */
export function configMac(config: Uint8Array): Uint8Array {
  return config.slice(0, 6);
}
