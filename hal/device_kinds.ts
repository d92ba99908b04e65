// The device models `npm start -- --device KIND` can add to the board, by QEMU-style name
// (QEMU's `-device virtio-rng-device`). Each is one more virtio-mmio slot after the
// board's own devices; later kinds join this table.

import type { VirtioBackend } from './virtio/backend.js';
import { VirtioEntropy } from './virtio/rng.js';

export interface DeviceKind {
  /** What the device is, for the usage text. */
  readonly summary: string;
  create(): VirtioBackend;
}

export const DEVICE_KINDS: Readonly<Record<string, DeviceKind>> = {
  'virtio-rng': { summary: 'a virtio entropy source (virtio 1.2 §5.4); the board has one, this adds another', create: () => new VirtioEntropy() },
};

/** The most virtio devices the board's interrupt controller can give a line each (the timer has the last). */
export const MAXIMUM_VIRTIO_DEVICES = 62;
