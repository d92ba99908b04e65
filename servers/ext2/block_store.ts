// What the filesystem stands on: a device addressed in bytes, read and written in whole
// 512-byte sectors. The ext2 server's store goes through the block service; the host's
// mkfs tool has one over an image file. Nothing else reaches the disk.

export interface BlockStore {
  /** Device size in bytes (a whole number of sectors). */
  readonly bytes: number;
  readonly readOnly: boolean;
  /** Reads `length` bytes at `offset`; both are multiples of 512 and inside the device. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes `data` at `offset`; resolves once the device acknowledged the write. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Resolves once every acknowledged write is durable (virtio-blk FLUSH). */
  flush(): Promise<void>;
}

/** A store in a byte array: for tests, and to build an image in memory. */
export class MemoryBlockStore implements BlockStore {
  readonly bytes: number;
  readonly readOnly: boolean;
  readonly image: Uint8Array;
  writes = 0;
  flushes = 0;

  constructor(image: Uint8Array, readOnly = false) {
    if (image.length % 512 !== 0) throw new RangeError(`an image is whole sectors; ${image.length} bytes is not`);
    this.image = image;
    this.bytes = image.length;
    this.readOnly = readOnly;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.bytes, offset, length);
    return this.image.slice(offset, offset + length);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.readOnly) throw new Error('write to a read-only store');
    checkRange(this.bytes, offset, data.length);
    this.image.set(data, offset);
    this.writes++;
  }

  async flush(): Promise<void> {
    this.flushes++;
  }
}

export function checkRange(deviceBytes: number, offset: number, length: number): void {
  if (offset % 512 !== 0 || length % 512 !== 0 || offset < 0 || offset + length > deviceBytes) {
    throw new RangeError(`bytes ${offset}..${offset + length} are not whole sectors inside a ${deviceBytes}-byte device`);
  }
}
