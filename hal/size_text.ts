// Sizes as people read them: the one size formatter every layer's text uses (boot log,
// `mem`, `blk`, `df`, the memory server's log, error messages).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
/** Most digits a size keeps before it moves to the next unit, rounded. */
const MOST_DIGITS = 9999;

/** How a size is shown: exactly where four digits allow (memory), or rounded as `df -h` does (disks, filesystems). */
export type SizeStyle = 'exact' | 'rounded';

/**
 * 'exact' (the default): `bytes` in the largest binary unit that shows it exactly ("4 MiB", "4092 KiB", "512 B"),
 * as long as that takes at most four digits; past that, rounded to one decimal in the unit
 * that keeps it under 10000 ("10.0 MiB" for 10 MiB + 4 KiB). 'rounded': in the largest unit
 * it reaches, whole or to one decimal ("5.6 MiB", "64 MiB", "512 B"). Bytes are whole and not negative.
 */
export function formatSize(bytes: number, style: SizeStyle = 'exact'): string {
  if (style === 'rounded') {
    let unit = 0;
    while (bytes >= 1024 ** (unit + 1) && unit < UNITS.length - 1) unit++;
    const value = bytes / 1024 ** unit;
    return `${Number.isInteger(value) ? value : value.toFixed(1)} ${UNITS[unit]}`;
  }
  let unit = 0;
  while (bytes > 0 && unit < UNITS.length - 1 && bytes % 1024 ** (unit + 1) === 0) unit++;
  if (bytes / 1024 ** unit <= MOST_DIGITS) return `${bytes / 1024 ** unit} ${UNITS[unit]}`;
  while (unit < UNITS.length - 1 && bytes / 1024 ** unit > MOST_DIGITS) unit++;
  return `${(bytes / 1024 ** unit).toFixed(1)} ${UNITS[unit]}`;
}
