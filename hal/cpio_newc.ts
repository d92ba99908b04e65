// The initramfs format: cpio "newc" (SVR4 without CRC, magic 070701), as Linux's
// init/initramfs.c unpacks it and `cpio -H newc` writes it. Each member is a 110-byte ASCII
// header of thirteen 8-digit hex fields, the NUL-terminated name, padding to 4 bytes, the
// data (a symlink's target for symlinks), padding to 4 bytes; "TRAILER!!!" ends the archive.
//
// The writer is deterministic (the caller gives every field: no clock, no host inode
// numbers), so the same tree always makes the same archive.

export const NEWC_MAGIC = '070701';
const HEADER_BYTES = 110;
const TRAILER = 'TRAILER!!!';

export interface CpioMember {
  readonly name: string;
  /** st_mode: file type and permissions (0o100644 a file, 0o040755 a directory, 0o120777 a symlink). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly links?: number;
  /** Modification time, seconds since the epoch. */
  readonly modifyTime?: number;
  /** File contents, or a symlink's target; empty for directories. */
  readonly data: Uint8Array;
  readonly inode?: number;
}

const FIELDS = ['inode', 'mode', 'uid', 'gid', 'links', 'modifyTime', 'fileSize', 'deviceMajor', 'deviceMinor', 'rdevMajor', 'rdevMinor', 'nameSize', 'check'] as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A newc archive of `members`, in the order given, with the trailer. */
export function encodeNewc(members: readonly CpioMember[]): Uint8Array {
  const pieces: Uint8Array[] = [];
  let length = 0;
  const push = (bytes: Uint8Array) => { pieces.push(bytes); length += bytes.length; };
  const pad = () => { if (length % 4) push(new Uint8Array(4 - (length % 4))); };
  const member = (entry: CpioMember, inode: number) => {
    const name = encoder.encode(`${entry.name}\0`);
    const values: Record<(typeof FIELDS)[number], number> = {
      inode, mode: entry.mode, uid: entry.uid ?? 0, gid: entry.gid ?? 0,
      links: entry.links ?? ((entry.mode & 0o170000) === 0o040000 ? 2 : 1),
      modifyTime: entry.modifyTime ?? 0, fileSize: entry.data.length,
      deviceMajor: 0, deviceMinor: 0, rdevMajor: 0, rdevMinor: 0, nameSize: name.length, check: 0,
    };
    for (const field of FIELDS) {
      if (!Number.isInteger(values[field]) || values[field] < 0 || values[field] > 0xffffffff) {
        throw new RangeError(`cpio member ${entry.name}: ${field} ${values[field]} does not fit 8 hex digits`);
      }
    }
    push(encoder.encode(NEWC_MAGIC + FIELDS.map((field) => values[field].toString(16).padStart(8, '0').toUpperCase()).join('')));
    push(name);
    pad();
    push(entry.data);
    pad();
  };
  members.forEach((entry, index) => member(entry, entry.inode ?? index + 1));
  member({ name: TRAILER, mode: 0, links: 1, data: new Uint8Array(0) }, 0);
  const archive = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) { archive.set(piece, offset); offset += piece.length; }
  return archive;
}

/** The members of a newc archive, up to its trailer; throws RangeError naming the offset of what is malformed. */
export function decodeNewc(archive: Uint8Array): CpioMember[] {
  const members: CpioMember[] = [];
  let offset = 0;
  for (;;) {
    if (offset + HEADER_BYTES > archive.length) throw new RangeError(`cpio: archive ends at byte ${archive.length} without a trailer`);
    const header = decoder.decode(archive.subarray(offset, offset + HEADER_BYTES));
    if (!header.startsWith(NEWC_MAGIC)) throw new RangeError(`cpio: no newc magic at byte ${offset} (found "${header.slice(0, 6)}")`);
    const field = (index: number) => {
      const text = header.slice(6 + index * 8, 14 + index * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new RangeError(`cpio: field ${FIELDS[index]} at byte ${offset} is not hex ("${text}")`);
      return parseInt(text, 16);
    };
    const nameSize = field(11);
    const fileSize = field(6);
    const nameStart = offset + HEADER_BYTES;
    const dataStart = align4(nameStart + nameSize);
    const end = dataStart + fileSize;
    if (nameSize === 0 || end > archive.length) throw new RangeError(`cpio: member at byte ${offset} runs past the archive`);
    const name = decoder.decode(archive.subarray(nameStart, nameStart + nameSize - 1));
    if (name === TRAILER) return members;
    members.push({
      name, inode: field(0), mode: field(1), uid: field(2), gid: field(3), links: field(4), modifyTime: field(5),
      data: archive.slice(dataStart, end),
    });
    offset = align4(end);
  }
}

function align4(value: number): number {
  return (value + 3) & ~3;
}
