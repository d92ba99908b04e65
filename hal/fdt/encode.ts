// Tree → blob. Lays the blob out as dtc does: header, memory reservation block, structure
// block, strings block, then (with `capacity`) free space up to totalsize. For the same
// tree the bytes equal `dtc -O dtb` output (tested).
//
// The encoder refuses what dtc would reject or warn about in the structure itself: names
// outside dtc's character sets, more than one '@' in a node name, duplicate node or
// property names among siblings, a root with a name. What the values mean is not checked.

import { FDT_HEADER_SIZE, FDT_LAST_COMPATIBLE_VERSION, FDT_MAGIC, FDT_RESERVATION_ENTRY_SIZE, FDT_VERSION, FdtToken, HeaderField, alignTo4 } from './format.js';
import { FdtError, type Fdt, type FdtNode } from './tree.js';

export interface EncodeOptions {
  /** Exact totalsize of the blob; the space after the strings block is left free (zero). */
  capacity?: number;
}

const NODE_NAME = /^[A-Za-z0-9,._+-]+(@[A-Za-z0-9,._+-]+)?$/;
const PROPERTY_NAME = /^[A-Za-z0-9,._+*#?-]+$/;
const MAX_U64 = (1n << 64n) - 1n;
const utf8 = new TextEncoder();

/** Encodes `fdt` as a version 17 blob. Throws FdtError if the tree is malformed or does not fit `capacity`. */
export function encodeFdt(fdt: Fdt, options: EncodeOptions = {}): Uint8Array {
  checkHeaderValues(fdt);
  const strings = new StringTable();
  const structure = new ByteWriter();
  if (fdt.root.name !== '') throw new FdtError(`the root node must have an empty name, not ${JSON.stringify(fdt.root.name)}`);
  writeNode(fdt.root, '', structure, strings);
  structure.u32(FdtToken.END);

  const offMemRsvmap = FDT_HEADER_SIZE; // 40 is already 8-aligned
  const offDtStruct = offMemRsvmap + (fdt.reservations.length + 1) * FDT_RESERVATION_ENTRY_SIZE;
  const offDtStrings = offDtStruct + structure.length;
  const used = offDtStrings + strings.length;
  const totalSize = options.capacity ?? used;
  if (!Number.isSafeInteger(totalSize) || totalSize < 0 || totalSize > 0xffff_ffff) throw new FdtError(`invalid capacity: ${options.capacity}`);
  if (used > totalSize) throw new FdtError(`the tree needs ${used} bytes, more than the capacity of ${totalSize}`);

  const blob = new Uint8Array(totalSize);
  const data = new DataView(blob.buffer);
  data.setUint32(HeaderField.magic, FDT_MAGIC);
  data.setUint32(HeaderField.totalSize, totalSize);
  data.setUint32(HeaderField.offDtStruct, offDtStruct);
  data.setUint32(HeaderField.offDtStrings, offDtStrings);
  data.setUint32(HeaderField.offMemRsvmap, offMemRsvmap);
  data.setUint32(HeaderField.version, FDT_VERSION);
  data.setUint32(HeaderField.lastCompVersion, FDT_LAST_COMPATIBLE_VERSION);
  data.setUint32(HeaderField.bootCpuId, fdt.bootCpuId);
  data.setUint32(HeaderField.sizeDtStrings, strings.length);
  data.setUint32(HeaderField.sizeDtStruct, structure.length);
  fdt.reservations.forEach((reservation, index) => {
    const at = offMemRsvmap + index * FDT_RESERVATION_ENTRY_SIZE;
    data.setBigUint64(at, reservation.address);
    data.setBigUint64(at + 8, reservation.size);
  });
  // The terminating zero entry is already zero.
  blob.set(structure.bytes(), offDtStruct);
  blob.set(strings.bytes(), offDtStrings);
  return blob;
}

function checkHeaderValues(fdt: Fdt): void {
  if (!Number.isInteger(fdt.bootCpuId) || fdt.bootCpuId < 0 || fdt.bootCpuId > 0xffff_ffff) {
    throw new FdtError(`bootCpuId must be a 32-bit value, not ${fdt.bootCpuId}`);
  }
  for (const { address, size } of fdt.reservations) {
    if (typeof address !== 'bigint' || typeof size !== 'bigint' || address < 0n || size < 0n || address > MAX_U64 || size > MAX_U64) {
      throw new FdtError(`memory reservation {${address}, ${size}} is not a pair of 64-bit values`);
    }
    // libfdt and dtc end the block at the first entry of size 0, whatever its address.
    if (size === 0n) throw new FdtError(`memory reservation at 0x${address.toString(16)} has size 0, which would end the reservation block`);
  }
}

function writeNode(current: FdtNode, path: string, structure: ByteWriter, strings: StringTable): void {
  structure.u32(FdtToken.BEGIN_NODE);
  structure.nameString(utf8.encode(current.name));
  const propertyNames = new Set<string>();
  for (const property of current.properties) {
    if (!PROPERTY_NAME.test(property.name)) throw new FdtError(`${path || '/'}: invalid property name ${JSON.stringify(property.name)}`);
    if (propertyNames.has(property.name)) throw new FdtError(`${path || '/'}: duplicate property ${property.name}`);
    if (!(property.value instanceof Uint8Array)) throw new FdtError(`${path || '/'}: property ${property.name} has no byte value`);
    propertyNames.add(property.name);
    structure.u32(FdtToken.PROP);
    structure.u32(property.value.length);
    structure.u32(strings.offsetOf(property.name));
    structure.padded(property.value);
  }
  const childNames = new Set<string>();
  for (const child of current.children) {
    const childPath = `${path}/${child.name}`;
    if (!NODE_NAME.test(child.name)) throw new FdtError(`invalid node name ${JSON.stringify(childPath)}`);
    if (childNames.has(child.name)) throw new FdtError(`duplicate node ${childPath}`);
    childNames.add(child.name);
    writeNode(child, childPath, structure, strings);
  }
  structure.u32(FdtToken.END_NODE);
}

/**
 * The strings block, filled as dtc does: a name already present, even as the tail of a
 * longer name ("cells" in "#size-cells"), is reused; otherwise it is appended.
 */
class StringTable {
  private readonly offsets = new Map<string, number>();
  private text = ''; // the block as a string; names are ASCII (checked by PROPERTY_NAME)

  get length(): number {
    return this.text.length;
  }

  offsetOf(name: string): number {
    let offset = this.offsets.get(name);
    if (offset === undefined) {
      offset = this.text.indexOf(name + '\0');
      if (offset < 0) {
        offset = this.text.length;
        this.text += name + '\0';
      }
      this.offsets.set(name, offset);
    }
    return offset;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.text, (character) => character.charCodeAt(0));
  }
}

/** A growing big-endian byte buffer. */
class ByteWriter {
  private buffer = new Uint8Array(256);
  length = 0;

  u32(value: number): void {
    this.reserve(4);
    new DataView(this.buffer.buffer).setUint32(this.length, value);
    this.length += 4;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** `bytes`, zero-padded to a multiple of 4. */
  padded(bytes: Uint8Array): void {
    this.raw(bytes);
    this.zeros(alignTo4(bytes.length) - bytes.length);
  }

  /** `bytes` and a NUL, zero-padded to a multiple of 4. */
  nameString(bytes: Uint8Array): void {
    this.raw(bytes);
    this.zeros(alignTo4(bytes.length + 1) - bytes.length);
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  private zeros(count: number): void {
    this.reserve(count);
    this.buffer.fill(0, this.length, this.length + count);
    this.length += count;
  }

  private reserve(count: number): void {
    if (this.length + count <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + count) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}
