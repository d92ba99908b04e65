// Typed errors of the virtio driver library, each with a stable string code.
//
// VirtioSetupError: initializeVirtioDevice could not bring the device up (wrong device,
// refused features or queues). VirtioQueueError: a queue was used after a reset, or the
// device returned something it never had (a device bug; the driver should reset it).

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
  | 'BAD_USED_ENTRY'; // the device returned a descriptor that was not in flight

export class VirtioQueueError extends Error {
  readonly code: VirtioQueueErrorCode;

  constructor(code: VirtioQueueErrorCode, message: string) {
    super(message);
    this.name = 'VirtioQueueError';
    this.code = code;
  }
}
