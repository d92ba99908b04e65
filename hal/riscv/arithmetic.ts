// RV32M results the JavaScript operators do not give directly, with the unprivileged
// spec's edge cases: division by zero gives all ones (quotient) and the dividend
// (remainder); the signed overflow -2^31 / -1 gives -2^31 and remainder 0. Values are
// int32 in, int32 out.

const MINIMUM = -0x8000_0000;

/** The high 32 bits of the unsigned 64-bit product. */
export function mulhu(a: number, b: number): number {
  const aLow = a & 0xffff, aHigh = a >>> 16, bLow = b & 0xffff, bHigh = b >>> 16;
  const low = aLow * bLow, middleA = aLow * bHigh, middleB = aHigh * bLow;
  const carry = ((low >>> 16) + (middleA & 0xffff) + (middleB & 0xffff)) >>> 16;
  return (aHigh * bHigh + (middleA >>> 16) + (middleB >>> 16) + carry) | 0;
}

export function mulh(a: number, b: number): number {
  return (mulhu(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/** Signed a times unsigned b, high half. */
export function mulhsu(a: number, b: number): number {
  return (mulhu(a, b) - (a < 0 ? b : 0)) | 0;
}

export function div(a: number, b: number): number {
  if (b === 0) return -1;
  if (a === MINIMUM && b === -1) return MINIMUM;
  return (a / b) | 0;
}

export function divu(a: number, b: number): number {
  if (b === 0) return -1;
  return ((a >>> 0) / (b >>> 0)) | 0;
}

export function rem(a: number, b: number): number {
  if (b === 0) return a;
  if (a === MINIMUM && b === -1) return 0;
  return (a % b) | 0;
}

export function remu(a: number, b: number): number {
  if (b === 0) return a;
  return ((a >>> 0) % (b >>> 0)) | 0;
}
