// virtio-console wire formats (virtio 1.2 §5.3), shared by the device model and drivers.
//
// Queues: 0 receiveq (port 0, device → driver), 1 transmitq (port 0, driver → device);
// with VIRTIO_CONSOLE_F_MULTIPORT also 2 control receiveq and 3 control transmitq (then
// 4/5 for port 1, and so on). Control messages are one `virtio_console_control` each.

import { Layout, u16, u32 } from './layout.js';

export const ConsoleQueue = {
  RECEIVE: 0,
  TRANSMIT: 1,
  CONTROL_RECEIVE: 2,
  CONTROL_TRANSMIT: 3,
} as const;

/** struct virtio_console_config (§5.3.4): cols/rows need F_SIZE, max_nr_ports F_MULTIPORT, emerg_wr F_EMERG_WRITE. */
export const CONSOLE_CONFIG = new Layout(12, { columns: u16(0), rows: u16(2), maximumPorts: u32(4), emergencyWrite: u32(8) });

/** struct virtio_console_control (§5.3.6.2). */
export const CONSOLE_CONTROL = new Layout(8, { id: u32(0), event: u16(4), value: u16(6) });

export const ConsoleControlEvent = {
  DEVICE_READY: 0,
  DEVICE_ADD: 1,
  DEVICE_REMOVE: 2,
  PORT_READY: 3,
  CONSOLE_PORT: 4,
  RESIZE: 5,
  PORT_OPEN: 6,
  PORT_NAME: 7,
} as const;

export interface ConsoleControlMessage {
  readonly id: number;
  readonly event: number;
  readonly value: number;
}

export function encodeConsoleControl(message: ConsoleControlMessage): Uint8Array {
  return CONSOLE_CONTROL.encode(message);
}

/** Decodes a control message; throws RangeError if `bytes` is shorter than 8. */
export function decodeConsoleControl(bytes: Uint8Array): ConsoleControlMessage {
  return CONSOLE_CONTROL.decode(bytes);
}
