// Blob → tree, with full validation: whatever the bytes, decodeFdt returns a tree or throws
// FdtError, never another error. Accepts what dtc and libfdt write: NOP tokens anywhere
// between tokens, free space inside or after the blocks, blocks in any order. The bytes may
// live in shared memory (the board's RAM); values are copied, the tree never aliases them.
//
// Checked: magic; version >= 17 with last_comp_version 16 or 17; totalsize within the
// buffer; every block inside totalsize and after the header; alignment (reservation block
// 8, structure block 4); reservation entries inside totalsize and terminated (by an entry
// of size 0, as libfdt and dtc read it); tokens inside the structure block; exactly one
// root, named ""; properties before subnodes; NUL-terminated names inside their block;
// non-empty child and property names; string offsets inside the strings block; END after
// the root. Not checked: the names' character set and duplicate siblings (libfdt accepts
// both; findNode returns the first of duplicates).

import { FDT_HEADER_SIZE, FDT_MAGIC, FDT_RESERVATION_ENTRY_SIZE, FDT_VERSION, FdtToken, HeaderField, alignTo4, type FdtHeader } from './format.js';
import { FdtError, type Fdt, type FdtNode, type FdtReservation } from './tree.js';

export type { FdtHeader } from './format.js';

const utf8 = new TextDecoder('utf-8');

/** Reads the header's ten fields. Checks only that 40 bytes are there and the magic is right. */
export function readFdtHeader(bytes: Uint8Array): FdtHeader {
  if (!(bytes instanceof Uint8Array)) throw new FdtError('a device tree blob must be a Uint8Array');
  if (bytes.length < FDT_HEADER_SIZE) throw new FdtError(`truncated header: ${bytes.length} bytes, a header needs ${FDT_HEADER_SIZE}`);
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = (offset: number): number => data.getUint32(offset);
  const magic = field(HeaderField.magic);
  if (magic !== FDT_MAGIC) throw new FdtError(`bad magic 0x${magic.toString(16).padStart(8, '0')}, expected 0xd00dfeed`);
  return {
    magic,
    totalSize: field(HeaderField.totalSize),
    offDtStruct: field(HeaderField.offDtStruct),
    offDtStrings: field(HeaderField.offDtStrings),
    offMemRsvmap: field(HeaderField.offMemRsvmap),
    version: field(HeaderField.version),
    lastCompVersion: field(HeaderField.lastCompVersion),
    bootCpuId: field(HeaderField.bootCpuId),
    sizeDtStrings: field(HeaderField.sizeDtStrings),
    sizeDtStruct: field(HeaderField.sizeDtStruct),
  };
}

/** Decodes and validates a blob. Bytes after totalsize are ignored. */
export function decodeFdt(bytes: Uint8Array): Fdt {
  const header = readFdtHeader(bytes);
  checkHeader(header, bytes.length);
  const data = new DataView(bytes.buffer, bytes.byteOffset, header.totalSize);
  const reservations = readReservations(data, header);
  const strings = bytes.subarray(header.offDtStrings, header.offDtStrings + header.sizeDtStrings);
  const structure = new StructureReader(bytes, data, header.offDtStruct, header.offDtStruct + header.sizeDtStruct);
  const root = readStructure(structure, new PropertyNames(strings));
  return { root, reservations, bootCpuId: header.bootCpuId };
}

function checkHeader(header: FdtHeader, available: number): void {
  if (header.version < FDT_VERSION) throw new FdtError(`unsupported version ${header.version}: need 17`);
  if (header.lastCompVersion < 16 || header.lastCompVersion > FDT_VERSION) {
    throw new FdtError(`unsupported last_comp_version ${header.lastCompVersion}: need 16 or 17`);
  }
  if (header.totalSize < FDT_HEADER_SIZE) throw new FdtError(`totalsize ${header.totalSize} is smaller than the header`);
  if (header.totalSize > available) throw new FdtError(`truncated blob: totalsize ${header.totalSize}, only ${available} bytes given`);
  checkBlock('memory reservation block', header.offMemRsvmap, FDT_RESERVATION_ENTRY_SIZE, header.totalSize);
  checkBlock('structure block', header.offDtStruct, header.sizeDtStruct, header.totalSize);
  checkBlock('strings block', header.offDtStrings, header.sizeDtStrings, header.totalSize);
  if (header.offMemRsvmap % 8 !== 0) throw new FdtError(`memory reservation block offset ${header.offMemRsvmap} is not 8-byte aligned`);
  if (header.offDtStruct % 4 !== 0) throw new FdtError(`structure block offset ${header.offDtStruct} is not 4-byte aligned`);
  if (header.sizeDtStruct % 4 !== 0) throw new FdtError(`structure block size ${header.sizeDtStruct} is not a multiple of 4`);
}

function checkBlock(what: string, offset: number, size: number, totalSize: number): void {
  if (offset < FDT_HEADER_SIZE) throw new FdtError(`${what} offset ${offset} lies inside the header`);
  if (offset + size > totalSize) throw new FdtError(`${what} (offset ${offset}, size ${size}) extends past totalsize ${totalSize}`);
}

function readReservations(data: DataView, header: FdtHeader): FdtReservation[] {
  const reservations: FdtReservation[] = [];
  for (let at = header.offMemRsvmap; ; at += FDT_RESERVATION_ENTRY_SIZE) {
    if (at + FDT_RESERVATION_ENTRY_SIZE > header.totalSize) throw new FdtError('memory reservation block has no terminating zero entry inside totalsize');
    const address = data.getBigUint64(at);
    const size = data.getBigUint64(at + 8);
    if (size === 0n) return reservations; // the terminator, as libfdt reads it (the spec writes {0, 0})
    reservations.push({ address, size });
  }
}

/** Reads tokens of the structure block [start, end); every read is bounds-checked. */
class StructureReader {
  offset: number;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly data: DataView,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }

  u32(what: string): number {
    if (this.offset + 4 > this.end) throw new FdtError(`structure block ends inside ${what} at offset ${this.offset}`);
    const value = this.data.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  /** The next token that is not NOP, with the offset it was found at. */
  token(): { token: number; at: number } {
    for (;;) {
      const at = this.offset;
      const token = this.u32('a token');
      if (token !== FdtToken.NOP) return { token, at };
    }
  }

  /** A NUL-terminated name padded to 4 bytes. */
  name(): string {
    const start = this.offset;
    const nul = this.bytes.subarray(start, this.end).indexOf(0);
    if (nul < 0) throw new FdtError(`node name at offset ${start} is not NUL-terminated inside the structure block`);
    this.offset = start + alignTo4(nul + 1);
    if (this.offset > this.end) throw new FdtError(`node name padding at offset ${start} runs past the structure block`);
    return utf8.decode(this.bytes.subarray(start, start + nul));
  }

  /** `length` bytes (copied), then padding to 4. */
  value(length: number, name: string): Uint8Array {
    const start = this.offset;
    if (length > this.end - start) throw new FdtError(`property ${name} at offset ${start} (${length} bytes) runs past the structure block`);
    this.offset = start + alignTo4(length);
    if (this.offset > this.end) throw new FdtError(`property ${name} padding at offset ${start} runs past the structure block`);
    return this.bytes.slice(start, start + length);
  }
}

/** Property names by strings-block offset: each name is scanned once, however many properties share it. */
class PropertyNames {
  private readonly known = new Map<number, string>();

  constructor(private readonly strings: Uint8Array) {}

  at(offset: number, tokenOffset: number): string {
    const cached = this.known.get(offset);
    if (cached !== undefined) return cached;
    const { strings } = this;
    if (offset >= strings.length) {
      throw new FdtError(`property at offset ${tokenOffset}: name offset ${offset} is outside the strings block (${strings.length} bytes)`);
    }
    const nul = strings.subarray(offset).indexOf(0);
    if (nul < 0) throw new FdtError(`property at offset ${tokenOffset}: name at strings offset ${offset} is not NUL-terminated`);
    if (nul === 0) throw new FdtError(`property at offset ${tokenOffset} has an empty name`);
    const name = utf8.decode(strings.subarray(offset, offset + nul));
    this.known.set(offset, name);
    return name;
  }
}

/** Parses the structure block into the root node; iterative, so nesting depth cannot overflow the stack. */
function readStructure(reader: StructureReader, names: PropertyNames): FdtNode {
  const first = reader.token();
  if (first.token !== FdtToken.BEGIN_NODE) throw new FdtError(`structure block must start with BEGIN_NODE, found token ${first.token} at offset ${first.at}`);
  const rootName = reader.name();
  if (rootName !== '') throw new FdtError(`the root node must have an empty name, found ${JSON.stringify(rootName)}`);
  const root: FdtNode = { name: '', properties: [], children: [] };
  const stack: FdtNode[] = [root];

  while (stack.length > 0) {
    const current = stack[stack.length - 1]!;
    const { token, at } = reader.token();
    switch (token) {
      case FdtToken.PROP: {
        const length = reader.u32('a property length');
        const nameOffset = reader.u32('a property name offset');
        const name = names.at(nameOffset, at);
        if (current.children.length > 0) throw new FdtError(`property ${name} at offset ${at} follows a subnode`);
        current.properties.push({ name, value: reader.value(length, name) });
        break;
      }
      case FdtToken.BEGIN_NODE: {
        const name = reader.name();
        if (name === '') throw new FdtError(`node at offset ${at} has an empty name`);
        const child: FdtNode = { name, properties: [], children: [] };
        current.children.push(child);
        stack.push(child);
        break;
      }
      case FdtToken.END_NODE:
        stack.pop();
        break;
      case FdtToken.END:
        throw new FdtError(`END token at offset ${at} inside an unclosed node`);
      default:
        throw new FdtError(`unknown token 0x${token.toString(16)} at offset ${at}`);
    }
  }

  const last = reader.token();
  if (last.token !== FdtToken.END) throw new FdtError(`expected END after the root node, found token ${last.token} at offset ${last.at}`);
  return root;
}
