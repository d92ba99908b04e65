// Entries inside one directory block: a chain of records (inode, rec_len, name_len,
// file_type, name) whose lengths add up to the block. A record with inode 0 is unused; a
// removed record's space joins the record before it, as Linux's ext2_delete_entry does.
// htree directories (dir_index) read the same way: their index blocks look like one
// unused record spanning the block.

import { ByteMemory } from '../../hal/virtio/layout.js';
import { DIRECTORY_ENTRY_HEADER_BYTES, directoryEntryLayout } from './layout.js';
import { Ext2Error } from './errors.js';

export interface DirectoryEntry {
  readonly inode: number;
  readonly name: Uint8Array;
  readonly fileType: number;
  /** Byte offset of the record in its block. */
  readonly offset: number;
  readonly recordLength: number;
}

/** The record length a name needs: header plus name, rounded up to 4 bytes. */
export function recordBytesFor(nameLength: number): number {
  return (DIRECTORY_ENTRY_HEADER_BYTES + nameLength + 3) & ~3;
}

/** Every record of the block, used or not; throws EIO when the chain is broken. */
export function records(block: Uint8Array, blockNumber: number): DirectoryEntry[] {
  const memory = new ByteMemory(block);
  const result: DirectoryEntry[] = [];
  let offset = 0;
  while (offset < block.length) {
    if (offset + DIRECTORY_ENTRY_HEADER_BYTES > block.length) throw corrupt(blockNumber, offset, 'a record header runs past the block');
    const header = directoryEntryLayout.readAll(memory, offset);
    const { recordLength, nameLength } = header;
    if (recordLength < DIRECTORY_ENTRY_HEADER_BYTES || recordLength % 4 !== 0 || offset + recordLength > block.length) {
      throw corrupt(blockNumber, offset, `record length ${recordLength}`);
    }
    if (header.inode !== 0 && DIRECTORY_ENTRY_HEADER_BYTES + nameLength > recordLength) {
      throw corrupt(blockNumber, offset, `name length ${nameLength} exceeds record length ${recordLength}`);
    }
    result.push({
      inode: header.inode,
      name: block.subarray(offset + DIRECTORY_ENTRY_HEADER_BYTES, offset + DIRECTORY_ENTRY_HEADER_BYTES + nameLength),
      fileType: header.fileType,
      offset,
      recordLength,
    });
    offset += recordLength;
  }
  return result;
}

/** Used records only. */
export function liveRecords(block: Uint8Array, blockNumber: number): DirectoryEntry[] {
  return records(block, blockNumber).filter((entry) => entry.inode !== 0);
}

/** Formats an empty directory block: one unused record spanning it. */
export function initialiseEmptyBlock(block: Uint8Array): void {
  block.fill(0);
  const memory = new ByteMemory(block);
  directoryEntryLayout.write(memory, 0, 'recordLength', block.length);
}

/** Writes a record at `offset` with the given length (the caller has checked it fits). */
export function writeRecord(block: Uint8Array, offset: number, recordLength: number, inode: number, name: Uint8Array, fileType: number): void {
  const memory = new ByteMemory(block);
  directoryEntryLayout.write(memory, offset, 'inode', inode);
  directoryEntryLayout.write(memory, offset, 'recordLength', recordLength);
  directoryEntryLayout.write(memory, offset, 'nameLength', name.length);
  directoryEntryLayout.write(memory, offset, 'fileType', fileType);
  block.set(name, offset + DIRECTORY_ENTRY_HEADER_BYTES);
  // Zero the slack after the name so no stale bytes linger on disk.
  block.fill(0, offset + DIRECTORY_ENTRY_HEADER_BYTES + name.length, offset + recordBytesFor(name.length));
}

/**
 * Puts a record for `name` into the block if it has room: in an unused record, or in the
 * slack after a used one (splitting it). Returns whether it did.
 */
export function insertRecord(block: Uint8Array, blockNumber: number, inode: number, name: Uint8Array, fileType: number): boolean {
  const needed = recordBytesFor(name.length);
  for (const entry of records(block, blockNumber)) {
    if (entry.inode === 0 && entry.recordLength >= needed) {
      writeRecord(block, entry.offset, entry.recordLength, inode, name, fileType);
      return true;
    }
    const used = recordBytesFor(entry.name.length);
    if (entry.inode !== 0 && entry.recordLength - used >= needed) {
      const memory = new ByteMemory(block);
      directoryEntryLayout.write(memory, entry.offset, 'recordLength', used);
      writeRecord(block, entry.offset + used, entry.recordLength - used, inode, name, fileType);
      return true;
    }
  }
  return false;
}

/** Removes the record at `offset`: merged into the previous record, or marked unused if first. */
export function removeRecord(block: Uint8Array, blockNumber: number, offset: number): void {
  const all = records(block, blockNumber);
  const index = all.findIndex((entry) => entry.offset === offset);
  if (index === -1) throw corrupt(blockNumber, offset, 'no record starts here');
  const memory = new ByteMemory(block);
  if (index === 0) {
    directoryEntryLayout.write(memory, offset, 'inode', 0);
    return;
  }
  const previous = all[index - 1]!;
  directoryEntryLayout.write(memory, previous.offset, 'recordLength', previous.recordLength + all[index]!.recordLength);
}

/** Points the record at `offset` at another inode (rename over an existing name, `..` moves). */
export function retargetRecord(block: Uint8Array, offset: number, inode: number, fileType: number): void {
  const memory = new ByteMemory(block);
  directoryEntryLayout.write(memory, offset, 'inode', inode);
  directoryEntryLayout.write(memory, offset, 'fileType', fileType);
}

function corrupt(blockNumber: number, offset: number, what: string): Ext2Error {
  return new Ext2Error('EIO', `directory block ${blockNumber} is corrupt at byte ${offset}: ${what}`);
}
