// virtio-blk (virtio 1.2 §5.2), device id 2, backed by a host image file.
//
// Capacity is the file size in 512-byte sectors (a partial last sector is not
// addressable). Offered: VERSION_1, FLUSH, BLK_SIZE (512), SEG_MAX (queue size - 2),
// RO for a read-only image, INDIRECT_DESC and EVENT_IDX. Requests (one chain each:
// 16-byte header, data, status byte, split across descriptors any way the driver likes):
//
//   IN      0  read sectors into the writable data        OK / IOERR (range, host error)
//   OUT     1  write the readable data to sectors         OK / IOERR (range, read-only)
//   FLUSH   4  fsync, after every earlier write finished  OK / IOERR
//   GET_ID  8  the serial, up to 20 bytes, NUL-padded     OK
//   other      -                                          UNSUPP
//
// Requests run concurrently on the host and complete in any order. A write completes
// only after the host write returned; data to write is copied out of guest RAM when the
// request is taken. After a device reset, requests still in flight finish on the host
// but are never completed into the (gone) queue.

import { closeSync, fstatSync, fsync, openSync, read, write } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import type { FaultSeverity, VirtioBackend, VirtioDeviceContext } from './backend.js';
import { BLOCK_CONFIG, BLOCK_ID_BYTES, BLOCK_REQUEST_HEADER, BlockRequestType, BlockStatus, SECTOR_SIZE } from './block_layout.js';
import { BlockFeatureBit, DeviceId, FeatureBit, SPLIT_RING_FEATURES, feature, features } from './registers.js';
import type { BufferSegment, DescriptorChain, SplitQueueDevice } from './split_queue_device.js';

interface Outcome {
  readonly status: number;
  /** Bytes written into the data part of the writable buffers. */
  readonly dataWritten: number;
}

const FAILED: Outcome = { status: BlockStatus.IOERR, dataWritten: 0 };
const readAsync = promisify(read);
const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);

export type BlockAccess = 'read-write' | 'read-only';

export interface VirtioBlockOptions {
  /** Host image file; it must exist. */
  readonly path: string;
  /** 'read-only' opens the image read-only and offers VIRTIO_BLK_F_RO (default 'read-write'). */
  readonly access?: BlockAccess;
  /** GET_ID answer, ASCII, at most 20 bytes (default: the image's file name, cut to 20). */
  readonly serial?: string;
  /** QueueNumMax of the request queue (default 128). */
  readonly queueSize?: number;
}

export class VirtioBlock implements VirtioBackend {
  readonly deviceId = DeviceId.BLOCK;
  readonly features: bigint;
  readonly queueSizes: readonly number[];
  readonly config: Uint8Array;
  /** Addressable size in 512-byte sectors. */
  readonly capacity: number;
  readonly access: BlockAccess;
  private readonly serial: Uint8Array;
  private readonly descriptor: number;
  private context: VirtioDeviceContext | undefined;
  private requests: SplitQueueDevice | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly writesInFlight = new Set<Promise<unknown>>();
  private closed = false;

  /** Opens the image; throws the host's error if it cannot be opened as asked. */
  constructor(options: VirtioBlockOptions) {
    this.access = options.access ?? 'read-write';
    const queueSize = options.queueSize ?? 128;
    const serial = new TextEncoder().encode(options.serial ?? basename(options.path));
    if (serial.length > BLOCK_ID_BYTES) {
      if (options.serial !== undefined) throw new RangeError(`block serial "${options.serial}" is longer than ${BLOCK_ID_BYTES} bytes`);
    }
    this.serial = serial.subarray(0, BLOCK_ID_BYTES);
    this.descriptor = openSync(options.path, this.access === 'read-only' ? 'r' : 'r+');
    this.capacity = Math.floor(fstatSync(this.descriptor).size / SECTOR_SIZE);
    this.queueSizes = [queueSize];
    this.features = features(FeatureBit.VERSION_1, BlockFeatureBit.FLUSH, BlockFeatureBit.BLK_SIZE, BlockFeatureBit.SEG_MAX)
      | SPLIT_RING_FEATURES | (this.access === 'read-only' ? feature(BlockFeatureBit.RO) : 0n);
    this.config = BLOCK_CONFIG.encode({ capacity: this.capacity, segmentMaximum: Math.max(1, queueSize - 2), blockSize: SECTOR_SIZE });
  }

  /** Requests taken from the queue whose host I/O has not finished. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Resolves once no request is in flight (the image file is closed by then if close() was called). */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  attach(context: VirtioDeviceContext): void {
    this.context = context;
  }

  activate(queues: SplitQueueDevice[]): void {
    this.requests = queues[0];
  }

  queueNotified(): void {
    const queue = this.requests;
    if (queue === undefined || this.closed) return;
    for (let chain = queue.nextChain(); chain !== undefined; chain = queue.nextChain()) {
      const request: Promise<void> = this.serve(queue, chain)
        .catch((error: unknown) => this.report(`request ${chain.head} failed inside the device: ${String(error)}`, 'needs-reset'))
        .finally(() => this.finished(request));
      this.inFlight.add(request);
    }
  }

  reset(): void {
    this.requests = undefined; // its queue was stopped: late completions go nowhere
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.requests = undefined;
    if (this.inFlight.size === 0) closeSync(this.descriptor);
  }

  private finished(request: Promise<void>): void {
    this.inFlight.delete(request);
    if (this.closed && this.inFlight.size === 0) closeSync(this.descriptor);
  }

  /** Carries out one request and completes it; never rejects for anything the driver did. */
  private async serve(queue: SplitQueueDevice, chain: DescriptorChain): Promise<void> {
    if (chain.writableLength < 1) {
      this.report(`request ${chain.head} has no writable status byte`, 'warning');
      queue.pushUsed(chain.head, 0);
      queue.notifyIfNeeded();
      return;
    }
    const outcome = await this.perform(queue, chain);
    queue.write(chain, Uint8Array.of(outcome.status), chain.writableLength - 1);
    queue.pushUsed(chain.head, outcome.dataWritten + 1);
    queue.notifyIfNeeded();
  }

  /** The request's status and data length; a host I/O error or a bad header is IOERR. */
  private async perform(queue: SplitQueueDevice, chain: DescriptorChain): Promise<Outcome> {
    if (chain.readableLength < BLOCK_REQUEST_HEADER.size) {
      this.report(`request ${chain.head} has a ${chain.readableLength}-byte header`, 'warning');
      return FAILED;
    }
    try {
      return await this.performChecked(queue, chain);
    } catch (error) {
      this.report(`request ${chain.head}: ${error instanceof Error ? error.message : String(error)}`, 'warning');
      return FAILED;
    }
  }

  private async performChecked(queue: SplitQueueDevice, chain: DescriptorChain): Promise<Outcome> {
    const failed = FAILED;
    const header = BLOCK_REQUEST_HEADER.decode(queue.read(chain, 0, BLOCK_REQUEST_HEADER.size));
    const writableData = chain.writableLength - 1;
    switch (header.type) {
      case BlockRequestType.IN: {
        if (!this.inRange(header.sector, writableData)) return failed;
        // Zero copy: the file is read straight into the driver's buffers in guest RAM.
        let position = header.sector * SECTOR_SIZE;
        for (const view of this.views(chain.writable, 0, writableData)) {
          let done = 0;
          while (done < view.length) {
            const { bytesRead } = await readAsync(this.descriptor, view, done, view.length - done, position + done);
            if (bytesRead === 0) return failed; // image shrank under us
            done += bytesRead;
          }
          position += view.length;
        }
        return { status: BlockStatus.OK, dataWritten: writableData };
      }
      case BlockRequestType.OUT: {
        const length = chain.readableLength - BLOCK_REQUEST_HEADER.size;
        if (this.access === 'read-only' || !this.inRange(header.sector, length)) return failed;
        // Zero copy: the driver's buffers in guest RAM go straight to the file.
        const writing = this.writeViews(this.views(chain.readable, BLOCK_REQUEST_HEADER.size, length), header.sector * SECTOR_SIZE);
        this.writesInFlight.add(writing);
        try {
          await writing;
        } finally {
          this.writesInFlight.delete(writing);
        }
        return { status: BlockStatus.OK, dataWritten: 0 };
      }
      case BlockRequestType.FLUSH: {
        await Promise.allSettled([...this.writesInFlight]);
        if (this.access === 'read-write') await fsyncAsync(this.descriptor);
        return { status: BlockStatus.OK, dataWritten: 0 };
      }
      case BlockRequestType.GET_ID: {
        const id = new Uint8Array(Math.min(BLOCK_ID_BYTES, writableData));
        id.set(this.serial.subarray(0, id.length));
        return { status: BlockStatus.OK, dataWritten: queue.write(chain, id) };
      }
      default:
        return { status: BlockStatus.UNSUPP, dataWritten: 0 };
    }
  }

  private async writeViews(views: Uint8Array[], start: number): Promise<void> {
    let position = start;
    for (const view of views) {
      let done = 0;
      while (done < view.length) {
        const { bytesWritten } = await writeAsync(this.descriptor, view, done, view.length - done, position + done);
        done += bytesWritten;
      }
      position += view.length;
    }
  }

  /** Live views of guest RAM for `length` bytes of `segments`, skipping the first `offset`. */
  private views(segments: readonly BufferSegment[], offset: number, length: number): Uint8Array[] {
    const ram = this.context!.ram;
    const views: Uint8Array[] = [];
    let skip = offset;
    let left = length;
    for (const segment of segments) {
      if (left === 0) break;
      if (skip >= segment.length) {
        skip -= segment.length;
        continue;
      }
      const take = Math.min(segment.length - skip, left);
      views.push(ram.subarray(segment.address + skip, take));
      left -= take;
      skip = 0;
    }
    return views;
  }

  /** True if `length` bytes from `sector` are whole sectors inside the image. */
  private inRange(sector: number, length: number): boolean {
    return length % SECTOR_SIZE === 0 && sector >= 0 && sector + length / SECTOR_SIZE <= this.capacity;
  }

  private report(message: string, severity: FaultSeverity): void {
    this.context?.report(`block: ${message}`, severity);
  }
}
