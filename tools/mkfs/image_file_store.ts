// A block store over an image file on the host, for the mkfs tool: whole sectors read and
// written with positioned I/O, and flush as fsync.

import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { checkRange, type BlockStore } from '../../servers/ext2/block_store.js';

export class ImageFileStore implements BlockStore {
  readonly bytes: number;
  readonly readOnly = false;
  private readonly descriptor: number;

  /** Opens `path` for reading and writing; its size must already be a whole number of sectors. */
  constructor(path: string) {
    this.descriptor = openSync(path, 'r+');
    this.bytes = fstatSync(this.descriptor).size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.bytes, offset, length);
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const count = readSync(this.descriptor, bytes, done, length - done, offset + done);
      if (count === 0) break;
      done += count;
    }
    return bytes;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this.bytes, offset, data.length);
    let done = 0;
    while (done < data.length) done += writeSync(this.descriptor, data, done, data.length - done, offset + done);
  }

  async flush(): Promise<void> {
    fsyncSync(this.descriptor);
  }

  close(): void {
    closeSync(this.descriptor);
  }
}
