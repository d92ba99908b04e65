// A learning Ethernet switch (IEEE 802.1D's forwarding, without spanning tree): it learns
// which port each source MAC address came from, sends a unicast frame only to the port its
// destination was learnt on, and floods broadcast, multicast and unknown destinations to
// every other port. A learnt address is forgotten after `ageingMs` (802.1D's default 300 s).

export interface SwitchPort {
  /** Delivers a frame to what is on this port. */
  deliver(frame: Uint8Array): void;
}

export class EthernetSwitch {
  private readonly ports = new Set<SwitchPort>();
  private readonly table = new Map<string, { port: SwitchPort; learnt: number }>();
  private readonly ageingMs: number;
  private readonly now: () => number;

  constructor(options: { ageingMs?: number; now?: () => number } = {}) {
    this.ageingMs = options.ageingMs ?? 300_000;
    this.now = options.now ?? (() => performance.now());
  }

  get portCount(): number {
    return this.ports.size;
  }

  add(port: SwitchPort): void {
    this.ports.add(port);
  }

  /** Removes a port and every address learnt on it. */
  remove(port: SwitchPort): void {
    this.ports.delete(port);
    for (const [mac, entry] of this.table) if (entry.port === port) this.table.delete(mac);
  }

  /** A frame came in on `from`: learn its source, forward it. Frames shorter than an Ethernet header are dropped. */
  forward(from: SwitchPort, frame: Uint8Array): void {
    if (frame.length < 14) return;
    const now = this.now();
    const source = macKey(frame, 6);
    if ((frame[6]! & 1) === 0) this.table.set(source, { port: from, learnt: now });
    const destination = macKey(frame, 0);
    const entry = (frame[0]! & 1) === 0 ? this.table.get(destination) : undefined;
    if (entry !== undefined && now - entry.learnt <= this.ageingMs && this.ports.has(entry.port)) {
      if (entry.port !== from) entry.port.deliver(frame);
      return;
    }
    for (const port of this.ports) if (port !== from) port.deliver(frame);
  }
}

function macKey(frame: Uint8Array, offset: number): string {
  return Buffer.from(frame.subarray(offset, offset + 6)).toString('hex');
}
