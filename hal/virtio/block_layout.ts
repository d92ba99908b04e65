// virtio-blk wire formats (virtio 1.2 §5.2), shared by the device model and drivers.
//
// A request is one descriptor chain: a 16-byte header (device-readable), the data
// (readable for OUT, writable for IN and GET_ID), and one status byte (writable, last).
// The device makes no assumption about how these are split across descriptors.

import { Layout, u8, u16, u32, u64 } from './layout.js';

export const SECTOR_SIZE = 512;
/** Length of the GET_ID answer; shorter ids are NUL-padded, a 20-byte id has no NUL. */
export const BLOCK_ID_BYTES = 20;

/** The leading part of struct virtio_blk_config (§5.2.4) this device fills in. */
export const BLOCK_CONFIG = new Layout(36, {
  capacity: u64(0),
  sizeMaximum: u32(8),
  segmentMaximum: u32(12),
  cylinders: u16(16),
  heads: u8(18),
  sectors: u8(19),
  blockSize: u32(20),
  physicalBlockExponent: u8(24),
  alignmentOffset: u8(25),
  minimumIoSize: u16(26),
  optimalIoSize: u32(28),
  writeback: u8(32),
  numberOfQueues: u16(34),
});

/** struct virtio_blk_req header (§5.2.6). */
export const BLOCK_REQUEST_HEADER = new Layout(16, { type: u32(0), reserved: u32(4), sector: u64(8) });

export const BlockRequestType = {
  IN: 0,
  OUT: 1,
  FLUSH: 4,
  GET_ID: 8,
  GET_LIFETIME: 10,
  DISCARD: 11,
  WRITE_ZEROES: 13,
  SECURE_ERASE: 14,
} as const;

export const BlockStatus = {
  OK: 0,
  IOERR: 1,
  UNSUPP: 2,
} as const;
