// The virtio-mmio register map (virtio 1.2 §4.2.2, version 2 "modern" layout), device
// status bits (§2.1), feature bits (§6 and each device's section), device ids (§5).
//
// Shared by the device models (hal/virtio/) and the drivers (drivers/lib/virtio/): pure
// data, no host access. All registers are 32 bits wide, little-endian; device-specific
// configuration space starts at 0x100.
//
//   0x000 MagicValue        R   0x74726976 ("virt")
//   0x004 Version           R   2
//   0x008 DeviceID          R   §5 device type, 0 = no device
//   0x00c VendorID          R
//   0x010 DeviceFeatures    R   32 feature bits, bank chosen by DeviceFeaturesSel
//   0x014 DeviceFeaturesSel W
//   0x020 DriverFeatures    W   32 accepted bits, bank chosen by DriverFeaturesSel
//   0x024 DriverFeaturesSel W
//   0x030 QueueSel          W   selects the queue the Queue* registers refer to
//   0x034 QueueNumMax       R   0 = queue not available
//   0x038 QueueNum          W
//   0x044 QueueReady        RW
//   0x050 QueueNotify       W   posted doorbell: value = queue index
//   0x060 InterruptStatus   R   bit 0 used buffer, bit 1 configuration change
//   0x064 InterruptACK      W
//   0x070 Status            RW  §2.1 device status; writing 0 resets the device
//   0x080 QueueDescLow/High     descriptor table address
//   0x090 QueueDriverLow/High   available ring address
//   0x0a0 QueueDeviceLow/High   used ring address
//   0x0ac SHMSel, 0x0b0 SHMLen, 0x0b8 SHMBase   shared memory regions (none here)
//   0x0c0 QueueReset        RW  only with VIRTIO_F_RING_RESET (not offered)
//   0x0fc ConfigGeneration  R
//   0x100 Config            RW  device-specific

export type RegisterAccess = 'read' | 'write' | 'read-write';

export interface RegisterSpec {
  readonly offset: number;
  readonly access: RegisterAccess;
}

export const VIRTIO_MMIO_REGISTERS = {
  MagicValue: { offset: 0x000, access: 'read' },
  Version: { offset: 0x004, access: 'read' },
  DeviceID: { offset: 0x008, access: 'read' },
  VendorID: { offset: 0x00c, access: 'read' },
  DeviceFeatures: { offset: 0x010, access: 'read' },
  DeviceFeaturesSel: { offset: 0x014, access: 'write' },
  DriverFeatures: { offset: 0x020, access: 'write' },
  DriverFeaturesSel: { offset: 0x024, access: 'write' },
  QueueSel: { offset: 0x030, access: 'write' },
  QueueNumMax: { offset: 0x034, access: 'read' },
  QueueNum: { offset: 0x038, access: 'write' },
  QueueReady: { offset: 0x044, access: 'read-write' },
  QueueNotify: { offset: 0x050, access: 'write' },
  InterruptStatus: { offset: 0x060, access: 'read' },
  InterruptACK: { offset: 0x064, access: 'write' },
  Status: { offset: 0x070, access: 'read-write' },
  QueueDescLow: { offset: 0x080, access: 'write' },
  QueueDescHigh: { offset: 0x084, access: 'write' },
  QueueDriverLow: { offset: 0x090, access: 'write' },
  QueueDriverHigh: { offset: 0x094, access: 'write' },
  QueueDeviceLow: { offset: 0x0a0, access: 'write' },
  QueueDeviceHigh: { offset: 0x0a4, access: 'write' },
  SHMSel: { offset: 0x0ac, access: 'write' },
  SHMLenLow: { offset: 0x0b0, access: 'read' },
  SHMLenHigh: { offset: 0x0b4, access: 'read' },
  SHMBaseLow: { offset: 0x0b8, access: 'read' },
  SHMBaseHigh: { offset: 0x0bc, access: 'read' },
  QueueReset: { offset: 0x0c0, access: 'read-write' },
  ConfigGeneration: { offset: 0x0fc, access: 'read' },
  Config: { offset: 0x100, access: 'read-write' },
} as const satisfies Record<string, RegisterSpec>;

export type MmioRegisterName = keyof typeof VIRTIO_MMIO_REGISTERS;

/** Register offsets by name: MmioRegister.QueueNotify === 0x050. */
export const MmioRegister = Object.fromEntries(
  Object.entries(VIRTIO_MMIO_REGISTERS).map(([name, spec]) => [name, spec.offset]),
) as { readonly [Name in MmioRegisterName]: number };

export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_MMIO_VERSION = 2;
/** VendorID of baton's device models: the bytes "btn\0" read as a little-endian word. */
export const BATON_VENDOR_ID = 0x006e7462;
/** Size of one virtio-mmio register block (the device tree `reg` size). */
export const VIRTIO_MMIO_SIZE = 0x200;
/** Bytes of device-specific configuration space this transport exposes (0x100..0x1ff). */
export const VIRTIO_MMIO_CONFIG_SIZE = VIRTIO_MMIO_SIZE - VIRTIO_MMIO_REGISTERS.Config.offset;
/** The device tree `compatible` string of a virtio-mmio node. */
export const VIRTIO_MMIO_COMPATIBLE = 'virtio,mmio';

/** Device status bits (§2.1). */
export const DeviceStatus = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** InterruptStatus / InterruptACK bits (§4.2.2). */
export const InterruptBit = {
  USED_BUFFER: 1,
  CONFIG_CHANGE: 2,
} as const;

/** Device types (§5). */
export const DeviceId = {
  NETWORK: 1,
  BLOCK: 2,
  CONSOLE: 3,
  ENTROPY: 4,
} as const;

/** Reserved feature bits common to all devices (§6), as bit numbers. */
export const FeatureBit = {
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  RING_PACKED: 34,
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
} as const;

/** virtio-console feature bits (§5.3.3). */
export const ConsoleFeatureBit = {
  SIZE: 0,
  MULTIPORT: 1,
  EMERG_WRITE: 2,
} as const;

/** virtio-blk feature bits (§5.2.3). */
export const BlockFeatureBit = {
  SIZE_MAX: 1,
  SEG_MAX: 2,
  GEOMETRY: 4,
  RO: 5,
  BLK_SIZE: 6,
  FLUSH: 9,
  TOPOLOGY: 10,
  CONFIG_WCE: 11,
  MQ: 12,
  DISCARD: 13,
  WRITE_ZEROES: 14,
  LIFETIME: 15,
  SECURE_ERASE: 16,
} as const;

/** The feature set with only bit `bit` set. */
export function feature(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** The feature set with every listed bit set. */
export function features(...bits: number[]): bigint {
  return bits.reduce((set, bit) => set | feature(bit), 0n);
}

export function hasFeature(set: bigint, bit: number): boolean {
  return (set & feature(bit)) !== 0n;
}

/** The split-ring transport features the device side implements (§2.7.5.3, §2.7.7). */
export const SPLIT_RING_FEATURES = features(FeatureBit.INDIRECT_DESC, FeatureBit.EVENT_IDX);
