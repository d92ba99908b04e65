// Ethernet frames over a byte stream, framed as QEMU's `-netdev stream` (and the older
// `-netdev socket`) frames them: each frame preceded by its length as a 32-bit big-endian
// number. So a QEMU guest can join a baton LAN with
// `-netdev stream,id=lan,server=off,addr.type=unix,addr.path=PATH`.

/** The longest frame accepted from a stream; a longer length means the stream is not frames. */
export const STREAM_MAXIMUM_FRAME = 65535;

/** The bytes that carry `frame` on a stream. */
export function encodeStreamFrame(frame: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + frame.length);
  new DataView(bytes.buffer).setUint32(0, frame.length, false);
  bytes.set(frame, 4);
  return bytes;
}

/** Cuts a byte stream into frames; `push` returns the whole frames so far, or throws RangeError on a length beyond the limit. */
export class StreamFrameReader {
  private buffered = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffered.length + chunk.length);
    joined.set(this.buffered);
    joined.set(chunk, this.buffered.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (joined.length - offset >= 4) {
      const length = new DataView(joined.buffer, offset, 4).getUint32(0, false);
      if (length > STREAM_MAXIMUM_FRAME) throw new RangeError(`a frame length of ${length} bytes is beyond ${STREAM_MAXIMUM_FRAME}: not a frame stream`);
      if (joined.length - offset - 4 < length) break;
      frames.push(joined.slice(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.buffered = joined.slice(offset);
    return frames;
  }
}
