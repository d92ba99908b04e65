// IPv4 and MAC addresses. An IPv4 address is a 32-bit unsigned number (10.0.2.15 is
// 0x0a00020f); a MAC address six bytes.

export type Ipv4Address = number;

export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const ZERO_MAC = new Uint8Array(6);

/** "10.0.2.15" → 0x0a00020f; undefined when the text is not a dotted-quad address. */
export function parseIpv4(text: string): Ipv4Address | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

export function formatIpv4(address: Ipv4Address): string {
  return [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join('.');
}

/** The netmask of a prefix length: 24 → 0xffffff00. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}

/** "10.0.2.15/24" → address and prefix length; undefined when malformed. */
export function parseCidr(text: string): { address: Ipv4Address; prefixLength: number } | undefined {
  const [addressText, prefixText, extra] = text.split('/');
  if (extra !== undefined || addressText === undefined) return undefined;
  const address = parseIpv4(addressText);
  const prefixLength = prefixText === undefined ? 24 : Number(prefixText);
  if (address === undefined || !/^\d{1,2}$/.test(prefixText ?? '24') || prefixLength > 32) return undefined;
  return { address, prefixLength };
}

export function formatMac(mac: Uint8Array): string {
  return [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === 6 && b.length === 6 && a.every((byte, index) => byte === b[index]);
}

export function readIpv4(bytes: Uint8Array, offset: number): Ipv4Address {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

export function writeIpv4(bytes: Uint8Array, offset: number, address: Ipv4Address): void {
  bytes[offset] = address >>> 24;
  bytes[offset + 1] = (address >>> 16) & 0xff;
  bytes[offset + 2] = (address >>> 8) & 0xff;
  bytes[offset + 3] = address & 0xff;
}
