// virtio-net (virtio 1.2 §5.1), device id 1: one receive and one transmit queue in guest
// RAM, frames to and from a host link (hal/net/link.ts).
//
// Offered: VERSION_1 (the 12-byte virtio_net_hdr), MAC (the board's address in config
// space), STATUS (link up while a host link is attached and up; a change raises the
// configuration interrupt), MTU (1500), INDIRECT_DESC, EVENT_IDX. Not offered: checksum
// offload (CSUM, GUEST_CSUM), segmentation offload (HOST_/GUEST_TSO, UFO), MRG_RXBUF,
// the control queue, multiqueue. So every frame is whole, checksummed by the driver, at
// most 1514 bytes, and each receive buffer holds one (num_buffers = 1).
//
//   transmitq1: header (readable) + frame → dump → impairment → link.send
//   link frame → impairment → waiting (at most `waitingLimit` frames) → receiveq1 → dump
//
// What the driver gets wrong is counted and reported as a warning, never thrown: a frame
// shorter than an Ethernet header or longer than 1514 bytes, a transmit header asking
// for offloads that were not negotiated, a receive buffer too small for the frame (the
// frame is dropped). The dump (a pcap, as QEMU's filter-dump) shows the guest's view:
// every frame the driver transmitted, and every frame put into a receive buffer.

import type { FaultSeverity, VirtioBackend, VirtioDeviceContext } from './backend.js';
import {
  encodeNetConfig, NET_GSO_NONE, NET_HEADER, NET_MAXIMUM_FRAME, NET_MINIMUM_FRAME, NetFeatureBit, NetQueue,
} from './net_layout.js';
import { DeviceId, FeatureBit, SPLIT_RING_FEATURES, features } from './registers.js';
import type { SplitQueueDevice } from './split_queue_device.js';
import type { NetworkLink } from '../net/link.js';
import { Impairment, type ImpairmentOptions } from '../net/impairment.js';
import type { PcapWriter } from '../net/pcap.js';

export interface VirtioNetOptions {
  /** The device's MAC address (6 bytes), in config space. */
  readonly mac: Uint8Array;
  /** The host side; without one the device is there with its link down. */
  readonly link?: NetworkLink;
  /** Every frame the guest sent or received, as a pcap. */
  readonly dump?: PcapWriter;
  /** Loss, reordering, duplication, applied to frames in both directions. */
  readonly impairment?: ImpairmentOptions;
  /** QueueNumMax of both queues (default 256). */
  readonly queueSize?: number;
  /** Frames from the link kept while the driver has no receive buffer (default 256; more are dropped and counted). */
  readonly waitingLimit?: number;
}

export interface NetDeviceCounts {
  transmitted: number;
  received: number;
  /** Frames from the link dropped because the driver posted no buffers in time. */
  droppedNoBuffer: number;
  /** Frames the driver sent that were malformed, or receive buffers too small. */
  droppedMalformed: number;
  /** Frames dropped because the link is down. */
  droppedLinkDown: number;
}

export class VirtioNet implements VirtioBackend {
  readonly deviceId = DeviceId.NETWORK;
  readonly features = features(FeatureBit.VERSION_1, NetFeatureBit.MAC, NetFeatureBit.STATUS, NetFeatureBit.MTU) | SPLIT_RING_FEATURES;
  readonly queueSizes: readonly number[];
  config: Uint8Array;
  readonly mac: Uint8Array;
  /** The devicetree spec's network-device binding: the MAC the device comes with. */
  readonly deviceTreeProperties: Record<string, Uint8Array>;
  readonly counts: NetDeviceCounts = { transmitted: 0, received: 0, droppedNoBuffer: 0, droppedMalformed: 0, droppedLinkDown: 0 };
  readonly impairment: Impairment;
  private readonly link: NetworkLink | undefined;
  private readonly dump: PcapWriter | undefined;
  private readonly waitingLimit: number;
  private readonly waiting: Uint8Array[] = [];
  private context: VirtioDeviceContext | undefined;
  private queues: SplitQueueDevice[] = [];

  constructor(options: VirtioNetOptions) {
    const size = options.queueSize ?? 256;
    this.queueSizes = [size, size];
    this.mac = options.mac.slice();
    this.deviceTreeProperties = { 'local-mac-address': this.mac.slice() };
    this.link = options.link;
    this.dump = options.dump;
    this.waitingLimit = options.waitingLimit ?? 256;
    this.impairment = new Impairment(options.impairment);
    this.config = encodeNetConfig(this.mac, this.linkUp);
    this.link?.onFrame((frame) => this.impairment.pass(frame, (passed) => this.arrived(passed)));
    this.link?.onLinkChange?.(() => {
      this.config = encodeNetConfig(this.mac, this.linkUp);
      this.context?.configChanged();
    });
  }

  get linkUp(): boolean {
    return this.link?.up ?? false;
  }

  /** Frames from the link waiting for receive buffers. */
  get waitingFrames(): number {
    return this.waiting.length;
  }

  attach(context: VirtioDeviceContext): void {
    this.context = context;
  }

  activate(queues: SplitQueueDevice[]): void {
    this.queues = queues;
  }

  queueNotified(index: number): void {
    if (index === NetQueue.RECEIVE) this.deliver();
    else if (index === NetQueue.TRANSMIT) this.drainTransmit();
  }

  reset(): void {
    this.queues = [];
    this.waiting.length = 0;
    this.impairment.discard();
  }

  close(): void {
    this.impairment.discard();
    this.link?.close();
    this.dump?.close();
  }

  /** A frame from the host side (after impairment): kept until a receive buffer takes it. */
  arrived(frame: Uint8Array): void {
    if (this.waiting.length >= this.waitingLimit) {
      this.counts.droppedNoBuffer++;
      return;
    }
    this.waiting.push(frame.slice());
    this.deliver();
  }

  private deliver(): void {
    const queue = this.queues[NetQueue.RECEIVE];
    if (queue === undefined || !queue.enabled) return;
    while (this.waiting.length > 0) {
      const chain = queue.nextChain();
      if (chain === undefined) break;
      const frame = this.waiting.shift()!;
      if (chain.writableLength < NET_HEADER.size + frame.length) {
        this.counts.droppedMalformed++;
        this.report(`receive buffer of ${chain.writableLength} bytes cannot hold a ${frame.length}-byte frame and its header: frame dropped`, 'warning');
        queue.pushUsed(chain.head, 0);
        continue;
      }
      const header = NET_HEADER.encode({ buffers: 1 });
      queue.write(chain, header);
      queue.write(chain, frame, NET_HEADER.size);
      queue.pushUsed(chain.head, NET_HEADER.size + frame.length);
      this.counts.received++;
      this.dump?.write(frame);
    }
    queue.notifyIfNeeded();
  }

  private drainTransmit(): void {
    const queue = this.queues[NetQueue.TRANSMIT];
    if (queue === undefined) return;
    for (let chain = queue.nextChain(); chain !== undefined; chain = queue.nextChain()) {
      const frame = this.takeFrame(queue, chain.readableLength, chain);
      queue.pushUsed(chain.head, 0);
      if (frame === undefined) continue;
      this.counts.transmitted++;
      this.dump?.write(frame);
      if (!this.linkUp) {
        this.counts.droppedLinkDown++;
        continue;
      }
      this.impairment.pass(frame, (passed) => this.link!.send(passed));
    }
    queue.notifyIfNeeded();
  }

  /** The frame of a transmit chain, or undefined (counted, reported) if it is malformed. */
  private takeFrame(queue: SplitQueueDevice, length: number, chain: Parameters<SplitQueueDevice['read']>[0]): Uint8Array | undefined {
    const frameLength = length - NET_HEADER.size;
    if (frameLength < NET_MINIMUM_FRAME || frameLength > NET_MAXIMUM_FRAME) {
      this.counts.droppedMalformed++;
      this.report(`transmit of ${length} bytes is not a 12-byte header and a frame of ${NET_MINIMUM_FRAME} to ${NET_MAXIMUM_FRAME} bytes: dropped`, 'warning');
      return undefined;
    }
    const header = NET_HEADER.decode(queue.read(chain, 0, NET_HEADER.size));
    if (header.gsoType !== NET_GSO_NONE || header.flags !== 0) {
      this.counts.droppedMalformed++;
      this.report(`transmit header asks for offloads (flags ${header.flags}, gso_type ${header.gsoType}) that were not negotiated: dropped`, 'warning');
      return undefined;
    }
    return queue.read(chain, NET_HEADER.size, frameLength);
  }

  private report(message: string, severity: FaultSeverity): void {
    this.context?.report(`net: ${message}`, severity);
  }
}
