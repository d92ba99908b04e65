// The blob layout (devicetree specification v0.4, chapter 5), shared by encode.ts and decode.ts.
//
//   offset 0   header: 10 big-endian u32 fields (below)
//   off_mem_rsvmap   memory reservation block: {u64 address, u64 size}..., then {0, 0};
//                    8-byte aligned
//   off_dt_struct    structure block: tokens, each a big-endian u32, 4-byte aligned
//                      BEGIN_NODE name\0 (padded to 4) ... END_NODE
//                      PROP u32 len, u32 nameoff, value (padded to 4)
//                      NOP (ignored), END (after the root's END_NODE)
//   off_dt_strings   strings block: NUL-terminated property names, referenced by nameoff
//   totalsize        end of the blob (free space may precede it)

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMPATIBLE_VERSION = 16;
export const FDT_HEADER_SIZE = 40;
export const FDT_RESERVATION_ENTRY_SIZE = 16;

export const FdtToken = {
  BEGIN_NODE: 0x1,
  END_NODE: 0x2,
  PROP: 0x3,
  NOP: 0x4,
  END: 0x9,
} as const;

/** Byte offsets of the header fields. */
export const HeaderField = {
  magic: 0,
  totalSize: 4,
  offDtStruct: 8,
  offDtStrings: 12,
  offMemRsvmap: 16,
  version: 20,
  lastCompVersion: 24,
  bootCpuId: 28,
  sizeDtStrings: 32,
  sizeDtStruct: 36,
} as const;

export interface FdtHeader {
  magic: number;
  totalSize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuId: number;
  sizeDtStrings: number;
  sizeDtStruct: number;
}

/** `length` rounded up to a multiple of 4 (structure block padding). */
export function alignTo4(length: number): number {
  return Math.ceil(length / 4) * 4;
}
