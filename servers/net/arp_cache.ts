// The ARP cache (RFC 826, with RFC 1122 §2.3.2.1's flooding limits): IPv4 address → MAC,
// each entry kept REACHABLE_MS after it was last learnt, and address resolution for
// packets waiting on an address not in it.
//
// resolve(address, send) sends at once when the address is cached; otherwise it queues
// `send` (at most QUEUE_PER_ADDRESS per address: older ones are dropped) and broadcasts a
// request, repeated every RETRY_MS up to REQUEST_TRIES times. Then the address is
// unreachable: the queued sends are dropped and `unreachable(address)` is told.

import { formatIpv4, formatMac, type Ipv4Address } from './address.js';
import type { Timers } from './timers.js';

export const REACHABLE_MS = 60_000;
export const RETRY_MS = 1000;
export const REQUEST_TRIES = 3;
export const QUEUE_PER_ADDRESS = 8;

export interface ArpCacheEvents {
  /** Broadcast an ARP request for `address`. */
  request(address: Ipv4Address): void;
  /** No answer after every try. */
  unreachable(address: Ipv4Address): void;
}

interface Pending {
  readonly sends: ((mac: Uint8Array) => void)[];
  tries: number;
  cancel: () => void;
}

export interface ArpCounts {
  requestsSent: number;
  resolved: number;
  failed: number;
  /** Packets dropped waiting for resolution (queue full, or no answer). */
  dropped: number;
}

export class ArpCache {
  private readonly entries = new Map<Ipv4Address, { mac: Uint8Array; expires: number }>();
  private readonly pending = new Map<Ipv4Address, Pending>();
  readonly counts: ArpCounts = { requestsSent: 0, resolved: 0, failed: 0, dropped: 0 };

  constructor(private readonly timers: Timers, private readonly events: ArpCacheEvents) {}

  /** The MAC of `address` if cached and fresh. */
  lookup(address: Ipv4Address): Uint8Array | undefined {
    const entry = this.entries.get(address);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.timers.now()) {
      this.entries.delete(address);
      return undefined;
    }
    return entry.mac;
  }

  /** Records `address` at `mac` (from a reply, or a request naming its sender) and sends what waited for it. */
  learn(address: Ipv4Address, mac: Uint8Array): void {
    this.entries.set(address, { mac: mac.slice(), expires: this.timers.now() + REACHABLE_MS });
    const waiting = this.pending.get(address);
    if (waiting === undefined) return;
    this.pending.delete(address);
    waiting.cancel();
    this.counts.resolved++;
    for (const send of waiting.sends) send(mac);
  }

  /** True when `address` is cached or being resolved (RFC 826: then a request's sender updates the entry). */
  knows(address: Ipv4Address): boolean {
    return this.lookup(address) !== undefined || this.pending.has(address);
  }

  /** Sends through `send` once the MAC of `address` is known. */
  resolve(address: Ipv4Address, send: (mac: Uint8Array) => void): void {
    const mac = this.lookup(address);
    if (mac !== undefined) return send(mac);
    const waiting = this.pending.get(address);
    if (waiting !== undefined) {
      if (waiting.sends.length >= QUEUE_PER_ADDRESS) {
        waiting.sends.shift();
        this.counts.dropped++;
      }
      waiting.sends.push(send);
      return;
    }
    const entry: Pending = { sends: [send], tries: 0, cancel: () => undefined };
    this.pending.set(address, entry);
    this.ask(address, entry);
  }

  /** Forgets everything (the address changed). Queued sends are dropped. */
  clear(): void {
    for (const entry of this.pending.values()) {
      entry.cancel();
      this.counts.dropped += entry.sends.length;
    }
    this.pending.clear();
    this.entries.clear();
  }

  /** The fresh entries, for `ip neigh`. */
  list(): { address: string; mac: string; expiresInMs: number }[] {
    const now = this.timers.now();
    const rows = [...this.entries].filter(([, entry]) => entry.expires > now)
      .map(([address, entry]) => ({ address: formatIpv4(address), mac: formatMac(entry.mac), expiresInMs: Math.round(entry.expires - now) }));
    const incomplete = [...this.pending.keys()].map((address) => ({ address: formatIpv4(address), mac: '(incomplete)', expiresInMs: 0 }));
    return [...rows, ...incomplete];
  }

  private ask(address: Ipv4Address, entry: Pending): void {
    if (entry.tries >= REQUEST_TRIES) {
      this.pending.delete(address);
      this.counts.failed++;
      this.counts.dropped += entry.sends.length;
      this.events.unreachable(address);
      return;
    }
    entry.tries++;
    this.counts.requestsSent++;
    this.events.request(address);
    entry.cancel = this.timers.after(RETRY_MS, () => this.ask(address, entry));
  }
}
