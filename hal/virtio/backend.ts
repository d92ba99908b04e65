// What a virtio device model plugs into the MMIO transport.
//
// The transport (transport.ts) owns registers, status, feature negotiation and queue
// setup; a backend is the device type itself (console, block, entropy). Life cycle:
//
//   attach(context)                   once, when the transport is built
//   validateFeatures(negotiated)?     driver sets FEATURES_OK: refuse a combination
//   activate(queues, negotiated)      driver sets DRIVER_OK; every ready queue is then
//                                     treated as notified once, for buffers posted early
//   queueNotified(index)*             driver wrote QueueNotify
//   reset()                           driver wrote 0 to Status (queues are gone)
//   close()?                          board shuts down
//
// A backend never throws into the board for anything a driver did: it reports through
// the context and, for a broken queue, asks for DEVICE_NEEDS_RESET.

import type { Ram } from '../ram.js';
import type { SplitQueueDevice } from './split_queue_device.js';

export type FaultSeverity = 'warning' | 'needs-reset';

export interface VirtioFault {
  readonly deviceId: number;
  readonly severity: FaultSeverity;
  readonly message: string;
}

/** What the transport offers a backend. */
export interface VirtioDeviceContext {
  readonly ram: Ram;
  /**
   * Call after changing `backend.config`: copies it into the config window, bumps
   * ConfigGeneration and, once the driver is running, raises a configuration-change interrupt.
   */
  configChanged(): void;
  /** Records a problem caused by the driver; 'needs-reset' also sets DEVICE_NEEDS_RESET and stops the queues. */
  report(message: string, severity: FaultSeverity): void;
}

export interface VirtioBackend {
  /** §5 device type. */
  readonly deviceId: number;
  /** Offered features, including VIRTIO_F_VERSION_1 and any of SPLIT_RING_FEATURES it allows. */
  readonly features: bigint;
  /** QueueNumMax of each queue; its length is the number of queues. */
  readonly queueSizes: readonly number[];
  /** Device-specific configuration space (little-endian); read again on configChanged(). */
  readonly config?: Uint8Array;
  /** Properties the board adds to the device's tree node (a network device's `local-mac-address`). */
  readonly deviceTreeProperties?: Record<string, Uint8Array>;
  attach?(context: VirtioDeviceContext): void;
  /** Returns why the driver's accepted features cannot work together, or undefined to accept them. */
  validateFeatures?(negotiated: bigint): string | undefined;
  /** DRIVER_OK: queues[i] is queue i (disabled if the driver did not set it up). */
  activate(queues: SplitQueueDevice[], negotiated: bigint): void;
  queueNotified(index: number): void;
  /** Device reset: forget every queue and request in flight; host-side state may stay. */
  reset(): void;
  close?(): void;
}
