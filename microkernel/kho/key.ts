// The kho-v2 radix key: one unsigned long per preserved block (KHO-ABI.md §1).
//
//   key = (1 << (52 − order)) | (pa >> (12 + order))
//
// The single "order bit" sits above the shifted address, so the highest set bit names the
// order. Keys are below 2^53 and so exact JS numbers; all arithmetic here multiplies and
// divides by powers of two (never 32-bit bitwise operators on the whole key). The BigInt
// functions at the end are a literal transcription of the C (64-bit wrap included) that
// tests use as the reference.
//
//   bits 63:60 unused · 59:51 L5 · 50:42 L4 · 41:33 L3 · 32:24 L2 · 23:15 L1 · 14:0 leaf bit

import { PAGE_SHIFT } from '../../hal/address.js';
import { KhoError } from './errors.js';

export const KHO_ORDER_0_LOG2 = 64 - PAGE_SHIFT; // 52
export const KHO_TABLE_SIZE_LOG2 = 9; // 512 u64 entries per 4 KiB table
export const KHO_BITMAP_SIZE_LOG2 = PAGE_SHIFT + 3; // 32768 bits per 4 KiB leaf
export const KHO_TREE_MAX_DEPTH = 6; // levels 5..1 are tables, level 0 is the leaf bitmap
export const KHO_TABLE_ENTRIES = 1 << KHO_TABLE_SIZE_LOG2;
export const KHO_LEAF_BITS = 1 << KHO_BITMAP_SIZE_LOG2;
/** Largest order a key can encode (the order bit at position 0). */
export const KHO_MAX_KEY_ORDER = KHO_ORDER_0_LOG2;
/** Linux's MAX_PAGE_ORDER on x86-64/arm64 with 4 KiB pages: largest restorable block (4 MiB). */
export const MAX_PAGE_ORDER = 10;

const TWO_POW_32 = 2 ** 32;
/** 2^i for i in 0..65, so hot paths avoid Math.pow. */
const POWERS_OF_TWO = Array.from({ length: 66 }, (_, exponent) => 2 ** exponent);
/** 2^((level − 1)·9 + 15): the divisor that brings a level's index bits to the bottom. */
const LEVEL_DIVISORS = Array.from({ length: KHO_TREE_MAX_DEPTH }, (_, level) => 2 ** ((level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2));

export interface PreservedBlock {
  readonly pa: number;
  readonly order: number;
}

/** Bytes covered by a block of `order`: 4 KiB << order. */
export function blockSize(order: number): number {
  return POWERS_OF_TWO[PAGE_SHIFT + order] ?? 2 ** (PAGE_SHIFT + order);
}

export function isValidOrder(order: number): boolean {
  return Number.isInteger(order) && order >= 0 && order <= KHO_MAX_KEY_ORDER;
}

/** Throws EINVAL unless `pa` is a safe integer aligned to the block size of `order`. */
export function checkBlock(pa: number, order: number): void {
  if (!isValidOrder(order)) throw new KhoError('EINVAL', `order ${order} is not an integer in 0..${KHO_MAX_KEY_ORDER}`);
  if (!Number.isSafeInteger(pa) || pa < 0) throw new KhoError('EINVAL', `physical address ${pa} is not a non-negative integer`);
  if (pa % blockSize(order) !== 0) {
    throw new KhoError('EINVAL', `physical address 0x${pa.toString(16)} is not aligned to an order-${order} block`);
  }
}

/** The radix key of block (pa, order); pa must be aligned to 4 KiB << order (checked). */
export function encodeKey(pa: number, order: number): number {
  checkBlock(pa, order);
  return POWERS_OF_TWO[KHO_ORDER_0_LOG2 - order]! + pa / blockSize(order);
}

/** 1-based index of the most significant set bit of a non-negative integer < 2^53 (0 for 0). */
export function fls(value: number): number {
  const high = Math.floor(value / TWO_POW_32);
  if (high > 0) return 64 - Math.clz32(high);
  return 32 - Math.clz32(value >>> 0);
}

/**
 * Decodes a key into (pa, order) as kho_radix_decode_key does. Throws EINVAL for keys that
 * no encode can produce (0, non-integers, ≥ 2^53). The returned pa is exact but may exceed
 * 2^53 for a key read from a corrupt tree; callers that need a safe address check it.
 */
export function decodeKey(key: number): PreservedBlock {
  if (!Number.isSafeInteger(key) || key <= 0) throw new KhoError('EINVAL', `${key} is not a kho-v2 key`);
  const orderBitPosition = fls(key) - 1;
  const order = KHO_ORDER_0_LOG2 - orderBitPosition;
  return { pa: (key - 2 ** orderBitPosition) * blockSize(order), order };
}

/** Table index at `level` (1..5): (key >> ((level−1)·9 + 15)) mod 512. */
export function tableIndex(key: number, level: number): number {
  return Math.floor(key / (LEVEL_DIVISORS[level] ?? 2 ** ((level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2))) % KHO_TABLE_ENTRIES;
}

/** Leaf bitmap index: key mod 32768. */
export function bitmapIndex(key: number): number {
  return key % KHO_LEAF_BITS;
}

/** Where leaf bit `bit` lives in the 4 KiB leaf page on little-endian memory. */
export function leafBitLocation(bit: number): { byte: number; mask: number; word: number; bitInWord: number } {
  return { byte: bit >> 3, mask: 1 << (bit & 7), word: bit >> 6, bitInWord: bit & 63 };
}

// Reference transcription of the C, on 64-bit BigInts.

const U64_MASK = (1n << 64n) - 1n;

/** kho_radix_encode_key exactly: (1 << (52 − order)) | (pa >> (12 + order)), no alignment check. */
export function encodeKeyBig(pa: bigint, order: number): bigint {
  return ((1n << BigInt(KHO_ORDER_0_LOG2 - order)) | (pa >> BigInt(PAGE_SHIFT + order))) & U64_MASK;
}

/** kho_radix_decode_key exactly: order = 52 − fls64(key) + 1, pa = key << (12 + order) mod 2^64. */
export function decodeKeyBig(key: bigint): { pa: bigint; order: number } {
  const order = KHO_ORDER_0_LOG2 - key.toString(2).length + 1;
  return { pa: (key << BigInt(PAGE_SHIFT + order)) & U64_MASK, order };
}
