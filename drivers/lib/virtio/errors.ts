// Typed errors of the virtio driver library, each with a stable string code.
//
// VirtioSetupError: initializeVirtioDevice could not bring the device up (wrong device,
// refused features or queues). VirtioQueueError: a queue was used after a reset
// (QUEUE_STOPPED), or the used ring holds what the driver never gave the device
// (QUEUE_FAULT: a device bug, or RAM overwritten by another thread). The driver library
// ends the generation on a QUEUE_FAULT (drivers/lib/driver.ts): the next one resets the
// device and builds its queues afresh.

export type VirtioSetupErrorCode =
  | 'NOT_VIRTIO' // MagicValue is not "virt"
  | 'UNSUPPORTED_VERSION' // not the version 2 (modern) register layout
  | 'NO_DEVICE' // DeviceID 0: a placeholder slot
  | 'WRONG_DEVICE' // another device type than the driver binds to
  | 'RESET_TIMEOUT' // Status did not read back 0 after reset
  | 'LEGACY_ONLY' // the device does not offer VIRTIO_F_VERSION_1
  | 'FEATURES_REFUSED' // FEATURES_OK did not stick
  | 'QUEUE_UNAVAILABLE' // QueueNumMax is 0 or the queue is already in use
  | 'QUEUE_REFUSED' // QueueReady did not stick
  | 'DRIVER_OK_REFUSED'; // DRIVER_OK did not stick

export class VirtioSetupError extends Error {
  readonly code: VirtioSetupErrorCode;

  constructor(code: VirtioSetupErrorCode, message: string) {
    super(message);
    this.name = 'VirtioSetupError';
    this.code = code;
  }
}

export type VirtioQueueErrorCode =
  | 'QUEUE_STOPPED' // the queue was reset; set the device up again
  | 'QUEUE_FAULT'; // the queue in RAM is not as the driver left it: `check` says which check failed

/**
 * The checks takeUsed() makes of what the device returned: the used ring is in RAM every
 * thread maps, so a device bug or another thread's stray write shows as one of these.
 */
export type QueueCheck =
  | 'used-index-jumped' // the used index moved past more entries than chains are in flight
  | 'descriptor-not-in-flight' // a used entry names a descriptor that is not the head of a chain in flight
  | 'length-out-of-range' // a used entry says more bytes were written than the chain's writable buffers hold
  | 'available-ring-overwritten' // audit(): the available index or a ring slot is not what this driver wrote
  | 'descriptor-overwritten' // audit(): a descriptor of a chain in flight is not what this driver wrote
  | 'device-needs-reset'; // the device found a queue malformed (its available ring or descriptors) and stopped

export class VirtioQueueError extends Error {
  readonly code: VirtioQueueErrorCode;
  /** For QUEUE_FAULT: the check that failed. */
  readonly check: QueueCheck | undefined;

  constructor(code: VirtioQueueErrorCode, message: string, check?: QueueCheck) {
    super(message);
    this.name = 'VirtioQueueError';
    this.code = code;
    this.check = check;
  }
}

/** A queue fault: the queue cannot be trusted again; the driver's generation ends and the next one resets the device. */
export function queueFault(check: QueueCheck, message: string): VirtioQueueError {
  return new VirtioQueueError('QUEUE_FAULT', `queue fault (${check}): ${message}`, check);
}
