// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
// 16-bit big-endian words, an odd last byte padded with zero. IPv4 headers, ICMP, UDP and
// TCP all use it; UDP and TCP add a pseudo-header (RFC 768, RFC 9293 §3.1).

/** Adds `bytes` to a running 32-bit sum (not yet folded). */
export function sumWords(bytes: Uint8Array, sum = 0): number {
  let total = sum;
  const even = bytes.length & ~1;
  for (let index = 0; index < even; index += 2) total += (bytes[index]! << 8) | bytes[index + 1]!;
  if (even < bytes.length) total += bytes[even]! << 8;
  // Fold often enough that the sum stays exact in a double.
  return total;
}

/** Folds a sum to 16 bits and complements it. */
export function finishChecksum(sum: number): number {
  let total = sum;
  while (total > 0xffff) total = (total & 0xffff) + Math.floor(total / 0x10000);
  return ~total & 0xffff;
}

export function internetChecksum(bytes: Uint8Array): number {
  return finishChecksum(sumWords(bytes));
}

/** The sum of the IPv4 pseudo-header of UDP and TCP: source, destination, zero, protocol, length. */
export function pseudoHeaderSum(source: number, destination: number, protocol: number, length: number): number {
  return (source >>> 16) + (source & 0xffff) + (destination >>> 16) + (destination & 0xffff) + protocol + length;
}
