// Physical addresses and pages of the emulated board.
//
// Addresses are plain numbers (exact up to 2^53), branded so that a physical address,
// a page frame number and a byte offset into the RAM buffer cannot be mixed up.

export type PhysAddr = number & { readonly __brand: 'PhysAddr' };
export type Pfn = number & { readonly __brand: 'Pfn' };

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export function physAddr(value: number): PhysAddr {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a physical address: ${value}`);
  return value as PhysAddr;
}

export function pfnOf(address: PhysAddr): Pfn {
  return Math.floor(address / PAGE_SIZE) as Pfn;
}

export function addressOfPfn(pfn: Pfn | number): PhysAddr {
  return (pfn * PAGE_SIZE) as PhysAddr;
}

export function isPageAligned(value: number): boolean {
  return value % PAGE_SIZE === 0;
}

/** Formats an address the way boot logs and `mem` print it: 0x8000_0000 style, 8+ hex digits. */
export function hex(value: number, digits = 8): string {
  return '0x' + value.toString(16).padStart(digits, '0');
}
