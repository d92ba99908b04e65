// Sizes as a config gives them: a number of bytes, or text with a K, M or G suffix
// (binary units, as Linux's tmpfs size= option): 65536, "64K", "16M", "1G".

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Bytes that `size` says; RangeError naming it when it says none. */
export function parseSize(size: number | string): number {
  if (typeof size === 'number') {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size ${size} is not a whole number of bytes`);
    return size;
  }
  const match = /^(\d+)([KMG]?)$/.exec(size);
  if (!match) throw new RangeError(`size "${size}" is not a size (bytes, or a number with K, M or G)`);
  return Number(match[1]) * UNITS[match[2]!]!;
}
