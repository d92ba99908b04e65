// Sequence numbers are modulo 2^32 (RFC 9293 §3.4): compare by the sign of the 32-bit
// difference, which is right while the numbers compared are within 2^31 of each other.

export const add = (sequence: number, amount: number): number => (sequence + amount) >>> 0;
/** b − a in sequence space, as a signed 32-bit number. */
export const distance = (a: number, b: number): number => (b - a) | 0;
export const before = (a: number, b: number): boolean => distance(a, b) > 0;
export const beforeOrAt = (a: number, b: number): boolean => distance(a, b) >= 0;
/** start ≤ x < end in sequence space. */
export const within = (x: number, start: number, end: number): boolean => beforeOrAt(start, x) && before(x, end);
