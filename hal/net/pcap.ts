// pcap files (the libpcap format, LINKTYPE_ETHERNET), as QEMU's filter-dump writes them:
// a 24-byte global header, then per frame a 16-byte record header and the frame.
// tcpdump, Wireshark and tshark read them. The reader is for tests and tools.

import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';

export const PCAP_MAGIC = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
const SNAPSHOT_LENGTH = 65535;

/** The 24-byte global header (little-endian, microsecond timestamps). */
export function pcapGlobalHeader(): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, PCAP_MAGIC, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setInt32(8, 0, true);
  view.setUint32(12, 0, true);
  view.setUint32(16, SNAPSHOT_LENGTH, true);
  view.setUint32(20, LINKTYPE_ETHERNET, true);
  return bytes;
}

/** One record: header (time, captured and original length) and the frame. */
export function pcapRecord(frame: Uint8Array, timeMicroseconds: number): Uint8Array {
  const captured = Math.min(frame.length, SNAPSHOT_LENGTH);
  const bytes = new Uint8Array(16 + captured);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, Math.floor(timeMicroseconds / 1e6), true);
  view.setUint32(4, Math.floor(timeMicroseconds % 1e6), true);
  view.setUint32(8, captured, true);
  view.setUint32(12, frame.length, true);
  bytes.set(frame.subarray(0, captured), 16);
  return bytes;
}

/** Writes every frame given to a pcap file (mode 0600, truncated at open). */
export class PcapWriter {
  readonly path: string;
  private descriptor: number | undefined;
  frames = 0;

  constructor(path: string) {
    this.path = path;
    this.descriptor = openSync(path, 'w', 0o600);
    fchmodSync(this.descriptor, 0o600);
    writeSync(this.descriptor, pcapGlobalHeader());
  }

  /** Appends `frame`, stamped now. Does nothing once closed. */
  write(frame: Uint8Array): void {
    if (this.descriptor === undefined) return;
    writeSync(this.descriptor, pcapRecord(frame, Math.round((performance.timeOrigin + performance.now()) * 1000)));
    this.frames++;
  }

  close(): void {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }
}

/** Reads the frames of a pcap file's bytes; throws RangeError for anything but little-endian LINKTYPE_ETHERNET pcap. */
export function readPcap(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24 || view.getUint32(0, true) !== PCAP_MAGIC) throw new RangeError('not a little-endian pcap file');
  if (view.getUint32(20, true) !== LINKTYPE_ETHERNET) throw new RangeError('not an Ethernet capture');
  const frames: Uint8Array[] = [];
  for (let offset = 24; offset < bytes.length;) {
    if (offset + 16 > bytes.length) throw new RangeError(`record header at ${offset} is cut short`);
    const captured = view.getUint32(offset + 8, true);
    if (offset + 16 + captured > bytes.length) throw new RangeError(`record at ${offset} is cut short`);
    frames.push(bytes.slice(offset + 16, offset + 16 + captured));
    offset += 16 + captured;
  }
  return frames;
}
