// ping: ICMP echo requests to one address, count of them intervalMs apart, and the
// replies that come back within timeoutMs of the last, as Linux's ping reports them.

import { formatIpv4, parseIpv4 } from './address.js';
import type { NetworkStack } from './stack.js';
import type { Timers } from './timers.js';
import { UnreachableCode } from './icmp.js';

export interface PingRequest {
  readonly address: string;
  readonly count: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly bytes?: number;
}

export interface PingResult {
  sent: number;
  replies: { sequence: number; ttl: number; timeMs: number; bytes: number }[];
  errors: string[];
}

let nextIdentifier = 1;

/** Runs one ping; rejects with RangeError for an address that is not one. */
export async function ping(stack: NetworkStack, timers: Timers, request: PingRequest): Promise<PingResult> {
  const destination = parseIpv4(request.address);
  if (destination === undefined) throw new RangeError(`"${request.address}" is not an IPv4 address`);
  const identifier = nextIdentifier;
  nextIdentifier = (nextIdentifier % 0xffff) + 1;
  const bytes = request.bytes ?? 56;
  const result: PingResult = { sent: 0, replies: [], errors: [] };
  const sentAt = new Map<number, number>();
  const noteError = (message: string) => { if (!result.errors.includes(message)) result.errors.push(message); };
  const stopReplies = stack.onEchoReply(identifier, (reply) => {
    const started = sentAt.get(reply.sequence);
    if (started === undefined || reply.source !== destination || result.replies.some((each) => each.sequence === reply.sequence)) return;
    result.replies.push({ sequence: reply.sequence, ttl: reply.ttl, timeMs: timers.now() - started, bytes: reply.data.length + 8 });
  });
  const stopUnreachable = stack.onUnreachable((report) => {
    // The quote is the request's IPv4 header (20 bytes here) and the ICMP header: check it is ours.
    const quoted = report.quoted;
    if (quoted.length >= 28 && ((quoted[24]! << 8) | quoted[25]!) === identifier) {
      noteError(`from ${formatIpv4(report.reporter)}: destination ${report.code === UnreachableCode.HOST ? 'host' : report.code === UnreachableCode.NETWORK ? 'network' : ''} unreachable (code ${report.code})`);
    }
  });
  const arpFailuresBefore = stack.arp.counts.failed;
  try {
    for (let sequence = 1; sequence <= request.count; sequence++) {
      const data = new Uint8Array(bytes);
      for (let index = 0; index < bytes; index++) data[index] = index & 0xff;
      try {
        sentAt.set(sequence, timers.now());
        stack.sendEchoRequest(destination, identifier, sequence, data);
        result.sent++;
      } catch (error) {
        noteError((error as Error).message);
        break;
      }
      if (sequence < request.count) await wait(timers, request.intervalMs, () => false);
    }
    if (result.sent > 0) await wait(timers, request.timeoutMs, () => result.replies.length === result.sent);
    if (stack.arp.counts.failed > arpFailuresBefore) noteError(`no ARP reply for ${request.address} or its gateway: host unreachable`);
  } finally {
    stopReplies();
    stopUnreachable();
  }
  result.replies.sort((a, b) => a.sequence - b.sequence);
  return result;
}

/** Waits `ms`, or less once `done()` holds (checked every 10 ms). */
function wait(timers: Timers, ms: number, done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const end = timers.now() + ms;
    const check = () => {
      if (done() || timers.now() >= end) return resolve();
      timers.after(Math.min(10, end - timers.now()), check);
    };
    check();
  });
}
