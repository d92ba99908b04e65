// A host network link: where a virtio-net device's frames go on the host side and come
// from. The backends (socket_lan.ts: a switched LAN of baton systems over a Unix socket;
// tap.ts: a Linux TAP device) implement it; the device model (hal/virtio/net.ts) is the
// only user. Frames are whole Ethernet frames without FCS.

export interface NetworkLink {
  /** What the link is, for messages: "socket:/tmp/lan.sock". */
  readonly description: string;
  /** Puts one frame on the wire. Never throws for a wire problem: a lost link drops frames and says so once. */
  send(frame: Uint8Array): void;
  /** Frames arriving from the wire; one handler, set once. */
  onFrame(handler: (frame: Uint8Array) => void): void;
  /** Link state changes (a LAN hub lost and found again); optional. */
  onLinkChange?(handler: (up: boolean) => void): void;
  /** True while frames can flow. */
  readonly up: boolean;
  close(): void;
}
