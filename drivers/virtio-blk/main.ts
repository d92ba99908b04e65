// virtio-blk driver (virtio 1.2 §5.2) on the block-device library.
//
// Each request is one descriptor chain: a 16-byte header from one of the driver's request
// slots, the client's own buffer (the device moves data straight into or out of it, no
// copy), and the slot's status byte. A slot is free again when the device returns its
// chain; with 3 descriptors per request a 128-entry queue keeps 42 requests in flight.

import { BLOCK_CONFIG, BLOCK_ID_BYTES, BLOCK_REQUEST_HEADER, BlockRequestType, BlockStatus, SECTOR_SIZE } from '../../hal/virtio/block_layout.js';
import { BlockFeatureBit, DeviceId, features, hasFeature } from '../../hal/virtio/registers.js';
import type { Ram } from '../../hal/ram.js';
import { defineBlockDriver, type BlockCompletion, type BlockRequest } from '../lib/block_driver.js';
import { DmaArena } from '../lib/dma_arena.js';
import type { DriverBuffer, SplitQueueDriver } from '../lib/virtio/split_queue_driver.js';
import { initializeVirtioDevice, type VirtioDriverTransport } from '../lib/virtio/transport.js';

const QUEUE_SIZE = 128;
const SLOTS = Math.floor(QUEUE_SIZE / 3);
/** Per slot: the request header, then the status byte (and the GET_ID answer at init). */
const SLOT_BYTES = 64;
const STATUS_OFFSET = BLOCK_REQUEST_HEADER.size;
const ID_OFFSET = 32;
const STATUS_UNWRITTEN = 0xff;
const OPERATION_TYPE = { read: BlockRequestType.IN, write: BlockRequestType.OUT, flush: BlockRequestType.FLUSH } as const;

/** What a chain in flight stands for: a client's request, or the serial query at init. */
type Token = { slot: number; request: BlockRequest } | { slot: number; identified: (serial: string) => void };

let transport: VirtioDriverTransport | undefined;
let queue: SplitQueueDriver<Token> | undefined;
let slots: { base: number; free: number[] } | undefined;
let canFlush = false;

function slotAddress(slot: number): number {
  return slots!.base + slot * SLOT_BYTES;
}

/** Publishes a request chain on slot `slot`; returns false (slot given back) if the queue is full. */
function post(ram: Ram, slot: number, type: number, sector: number, data: DriverBuffer | undefined, token: Token): boolean {
  const header = slotAddress(slot);
  BLOCK_REQUEST_HEADER.write(ram, header, 'type', type);
  BLOCK_REQUEST_HEADER.write(ram, header, 'reserved', 0);
  BLOCK_REQUEST_HEADER.write(ram, header, 'sector', sector);
  ram.writeU8(header + STATUS_OFFSET, STATUS_UNWRITTEN);
  const chain: DriverBuffer[] = [{ address: header, length: BLOCK_REQUEST_HEADER.size, writable: false }];
  if (data) chain.push(data);
  chain.push({ address: header + STATUS_OFFSET, length: 1, writable: true });
  if (queue!.add(chain, token) === undefined) {
    slots!.free.push(slot);
    return false;
  }
  queue!.kick();
  return true;
}

function completion(status: number): BlockCompletion {
  if (status === BlockStatus.OK) return 'ok';
  return status === BlockStatus.UNSUPP ? 'unsupported' : 'io-error';
}

export default defineBlockDriver({
  async init(disk) {
    const arena = await DmaArena.obtain(disk, 64 * 1024 + SLOTS * SLOT_BYTES);
    transport = initializeVirtioDevice(disk.registers, disk.ram, arena, {
      deviceId: DeviceId.BLOCK,
      features: features(BlockFeatureBit.RO, BlockFeatureBit.FLUSH, BlockFeatureBit.BLK_SIZE),
      queues: 1,
      queueSize: QUEUE_SIZE,
    });
    queue = transport.queues[0] as SplitQueueDriver<Token>;
    slots = { base: arena.allocate(SLOTS * SLOT_BYTES, 16), free: Array.from({ length: SLOTS }, (_, slot) => SLOTS - 1 - slot) };
    canFlush = hasFeature(transport.negotiated, BlockFeatureBit.FLUSH);
    const sectors = Number(transport.readConfig64(BLOCK_CONFIG.offsetOf('capacity')));
    const slot = slots.free.pop()!;
    const serial = await new Promise<string>((identified) => {
      post(disk.ram, slot, BlockRequestType.GET_ID, 0, { address: slotAddress(slot) + ID_OFFSET, length: BLOCK_ID_BYTES, writable: true }, { slot, identified });
    });
    return { sectors, sectorBytes: SECTOR_SIZE, readOnly: hasFeature(transport.negotiated, BlockFeatureBit.RO), serial };
  },

  submit(disk, request) {
    if (request.operation === 'flush' && !canFlush) {
      queueMicrotask(() => disk.complete(request, 'ok')); // no FLUSH feature: the device writes through
      return true;
    }
    const slot = slots!.free.pop();
    if (slot === undefined) return false;
    const data = request.operation === 'flush' ? undefined
      : { address: request.address, length: request.bytes, writable: request.operation === 'read' };
    return post(disk.ram, slot, OPERATION_TYPE[request.operation], request.sector, data, { slot, request });
  },

  interrupt(disk) {
    transport!.takeInterrupt();
    for (const used of queue!.takeUsed()) {
      const token = used.token!;
      const address = slotAddress(token.slot);
      const status = disk.ram.readU8(address + STATUS_OFFSET);
      slots!.free.push(token.slot);
      if ('request' in token) disk.complete(token.request, completion(status));
      else token.identified(status === BlockStatus.OK ? decodeSerial(disk.ram.read(address + ID_OFFSET, BLOCK_ID_BYTES)) : '');
    }
  },

  audit() {
    transport?.audit();
  },

  stop() {
    transport?.reset();
  },
});

/** The GET_ID answer: ASCII, NUL-padded unless all 20 bytes are used. */
function decodeSerial(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}
