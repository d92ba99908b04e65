// The ext2 server's disk: the block service of one virtio-blk disk, reached over IPC.
// Data moves by DMA through one buffer this server owns (the block interface names client
// memory by physical address), copied to and from the filesystem's blocks; requests go one
// at a time, at most the buffer's size each.

import type { ClientOf } from '../../ipc/define.js';
import type { blockInterface } from '../../ipc/interfaces/block.js';
import type { Ram } from '../../hal/ram.js';
import { checkRange, type BlockStore } from './block_store.js';

/** Bytes moved per block request: enough to stream, small enough to allocate at once. */
const TRANSFER_BYTES = 128 * 1024;

export class BlockServiceStore implements BlockStore {
  readonly bytes: number;
  readonly readOnly: boolean;
  private readonly disk: ClientOf<typeof blockInterface>;
  private readonly ram: Ram;
  private readonly buffer: number;
  private readonly transferBytes: number;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(disk: ClientOf<typeof blockInterface>, ram: Ram, buffer: number, transferBytes: number, bytes: number, readOnly: boolean) {
    this.disk = disk;
    this.ram = ram;
    this.buffer = buffer;
    this.transferBytes = transferBytes;
    this.bytes = bytes;
    this.readOnly = readOnly;
  }

  /** Asks the disk its size and limits, and allocates the DMA buffer. */
  static async open(disk: ClientOf<typeof blockInterface>, ram: Ram, allocateDma: (bytes: number) => Promise<number>): Promise<BlockServiceStore> {
    const info = await disk.info({});
    const transferBytes = Math.max(512, Math.min(TRANSFER_BYTES, info.maxTransferBytes - (info.maxTransferBytes % 512)));
    const buffer = await allocateDma(transferBytes);
    return new BlockServiceStore(disk, ram, buffer, transferBytes, info.sectors * info.sectorBytes, info.readOnly);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.bytes, offset, length);
    return this.exclusive(async () => {
      const result = new Uint8Array(length);
      for (let done = 0; done < length; done += this.transferBytes) {
        const bytes = Math.min(this.transferBytes, length - done);
        await this.disk.read({ sector: (offset + done) / 512, bytes, buffer: { kind: 'physical', address: this.buffer } });
        result.set(this.ram.subarray(this.buffer, bytes), done);
      }
      return result;
    });
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this.bytes, offset, data.length);
    return this.exclusive(async () => {
      for (let done = 0; done < data.length; done += this.transferBytes) {
        const bytes = Math.min(this.transferBytes, data.length - done);
        this.ram.subarray(this.buffer, bytes).set(data.subarray(done, done + bytes));
        await this.disk.write({ sector: (offset + done) / 512, bytes, buffer: { kind: 'physical', address: this.buffer } });
      }
    });
  }

  flush(): Promise<void> {
    return this.exclusive(async () => { await this.disk.flush({}); });
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
