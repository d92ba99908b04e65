// Two NetworkLinks wired to each other in one thread: a frame sent on one arrives on the
// other (asynchronously, as on a wire). For tests of the device model and the stack.

import type { NetworkLink } from './link.js';

class PairedLink implements NetworkLink {
  readonly description = 'pair';
  peer: PairedLink | undefined;
  up = true;
  private handler: ((frame: Uint8Array) => void) | undefined;
  private linkHandler: ((up: boolean) => void) | undefined;
  /** Every frame sent on this end, in order. */
  readonly sent: Uint8Array[] = [];

  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
    const peer = this.peer;
    if (!this.up || !peer?.up) return;
    const copy = frame.slice();
    queueMicrotask(() => peer.handler?.(copy));
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  onLinkChange(handler: (up: boolean) => void): void {
    this.linkHandler = handler;
  }

  /** Makes a frame arrive on this end now, as if the peer sent it. */
  inject(frame: Uint8Array): void {
    this.handler?.(frame);
  }

  setUp(up: boolean): void {
    this.up = up;
    this.linkHandler?.(up);
  }

  close(): void {
    this.up = false;
  }
}

export type TestLink = PairedLink;

/** Two ends of one wire. */
export function linkPair(): [TestLink, TestLink] {
  const first = new PairedLink();
  const second = new PairedLink();
  first.peer = second;
  second.peer = first;
  return [first, second];
}
