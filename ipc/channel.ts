// A channel: one client thread, one server thread, two rings and a state block.
//
//   client ──requests ring──▶ server        (CALL, SEND frames)
//   client ◀──replies ring─── server        (REPLY, ERROR, NOTIFICATION frames)
//   state: [status, reason, generation]     (written by the kernel, read by both ends)
//
// The kernel creates channels and hands the descriptor (plain SABs and numbers, so it
// survives structured clone) to both ends by postMessage; after that it is off the data
// path. When the server restarts or stops, or the kernel revokes the client's capability,
// the kernel calls closeChannel: the state block says why and which server generation now
// runs, and both doorbells ring so both Endpoints notice at once.

import type { DoorbellPage } from '../hal/doorbells.js';
import { InvalidArgumentError } from './errors.js';
import { Ring } from './ring.js';

/** Everything a thread needs to use one end of a channel. Structured-cloneable. */
export interface ChannelDescriptor {
  /** Unique among live channels (the kernel's choice). */
  readonly id: number;
  /** The `name` of the interface definition spoken on this channel. */
  readonly interfaceName: string;
  /** Ring buffer client → server. */
  readonly requests: SharedArrayBuffer;
  /** Ring buffer server → client. */
  readonly replies: SharedArrayBuffer;
  /** State block (see ChannelState). */
  readonly state: SharedArrayBuffer;
  /** Doorbell slot of the client thread. */
  readonly clientSlot: number;
  /** Doorbell slot of the server thread. */
  readonly serverSlot: number;
  /** Generation of the server this channel was made for. */
  readonly serverGeneration: number;
  /** The server's name, as the memory service knows it (for lending it bulk data). */
  readonly serverName?: string;
}

/** Why the kernel closed a channel. */
export type CloseReason = 'peer-restarted' | 'peer-stopped' | 'revoked';

/** What channelStatus reports. `generation` is the server's generation now (new one after a restart). */
export interface ChannelStatus {
  readonly open: boolean;
  readonly reason?: CloseReason;
  readonly generation: number;
}

/** Default data capacity of each ring. */
export const DEFAULT_RING_CAPACITY = 64 * 1024;

const STATUS_WORD = 0;
const REASON_WORD = 1;
const GENERATION_WORD = 2;
const STATE_BYTES = 64;
const STATUS_OPEN = 0;
const STATUS_CLOSED = 1;
const REASONS: readonly CloseReason[] = ['peer-restarted', 'peer-stopped', 'revoked'];

/**
 * Creates the shared memory of a new channel (kernel side).
 *
 * @example
 * const channel = createChannel({ id: 7, interfaceName: 'vfs', clientSlot: 3, serverSlot: 5, serverGeneration: 1 });
 * serverWorker.postMessage({ type: 'attach', channel, clientName: 'shell' });
 */
export function createChannel(options: {
  id: number;
  interfaceName: string;
  clientSlot: number;
  serverSlot: number;
  serverGeneration: number;
  /** Data capacity of each ring, a power of two; default 64 KiB. */
  capacityBytes?: number;
  /** The server's name, for lending it bulk data. */
  serverName?: string;
}): ChannelDescriptor {
  const { id, interfaceName, clientSlot, serverSlot, serverGeneration } = options;
  if (!Number.isSafeInteger(id) || id < 0) throw new InvalidArgumentError(`channel id must be a non-negative integer, got ${id}`);
  if (typeof interfaceName !== 'string' || interfaceName.length === 0) throw new InvalidArgumentError('channel needs an interface name');
  checkSlot('clientSlot', clientSlot);
  checkSlot('serverSlot', serverSlot);
  if (!Number.isSafeInteger(serverGeneration) || serverGeneration < 0) {
    throw new InvalidArgumentError(`serverGeneration must be a non-negative integer, got ${serverGeneration}`);
  }
  const capacity = options.capacityBytes ?? DEFAULT_RING_CAPACITY;
  const state = new SharedArrayBuffer(STATE_BYTES);
  new Int32Array(state)[GENERATION_WORD] = serverGeneration;
  return {
    id,
    interfaceName,
    requests: Ring.create(capacity).buffer,
    replies: Ring.create(capacity).buffer,
    state,
    clientSlot,
    serverSlot,
    serverGeneration,
    ...(options.serverName === undefined ? {} : { serverName: options.serverName }),
  };
}

/**
 * Marks the channel dead (kernel side) and rings both ends. `newGeneration` is the server
 * generation now running (or the last one, if it stopped). Closing twice keeps the first reason.
 */
export function closeChannel(descriptor: ChannelDescriptor, reason: CloseReason, newGeneration: number, doorbells: DoorbellPage): void {
  const code = REASONS.indexOf(reason);
  if (code < 0) throw new InvalidArgumentError(`unknown close reason ${String(reason)}`);
  const words = new Int32Array(descriptor.state);
  if (Atomics.load(words, STATUS_WORD) === STATUS_OPEN) {
    Atomics.store(words, GENERATION_WORD, newGeneration);
    Atomics.store(words, REASON_WORD, code);
    Atomics.store(words, STATUS_WORD, STATUS_CLOSED);
  }
  doorbells.ring(descriptor.clientSlot);
  doorbells.ring(descriptor.serverSlot);
}

/** Reads the state block: open, or closed with a reason and the server's new generation. */
export function channelStatus(descriptor: ChannelDescriptor): ChannelStatus {
  return new ChannelState(descriptor.state).status();
}

/** Fast repeated reads of one channel's state block (used by Endpoint on every pass). */
export class ChannelState {
  private readonly words: Int32Array;

  constructor(state: SharedArrayBuffer) {
    if (!(state instanceof SharedArrayBuffer) || state.byteLength < STATE_BYTES) throw new InvalidArgumentError('channel state must be a 64-byte SharedArrayBuffer');
    this.words = new Int32Array(state, 0, STATE_BYTES / 4);
  }

  get open(): boolean {
    return Atomics.load(this.words, STATUS_WORD) === STATUS_OPEN;
  }

  status(): ChannelStatus {
    const generation = Atomics.load(this.words, GENERATION_WORD);
    if (this.open) return { open: true, generation };
    const reason = REASONS[Atomics.load(this.words, REASON_WORD)] ?? 'peer-stopped';
    return { open: false, reason, generation };
  }
}

/** Checks that a value received by postMessage has the shape of a ChannelDescriptor. */
export function checkDescriptor(value: unknown): ChannelDescriptor {
  const candidate = value as Partial<ChannelDescriptor> | null;
  if (
    typeof candidate !== 'object' || candidate === null ||
    !Number.isSafeInteger(candidate.id) || typeof candidate.interfaceName !== 'string' ||
    !(candidate.requests instanceof SharedArrayBuffer) || !(candidate.replies instanceof SharedArrayBuffer) ||
    !(candidate.state instanceof SharedArrayBuffer) || !Number.isInteger(candidate.clientSlot) ||
    !Number.isInteger(candidate.serverSlot) || !Number.isInteger(candidate.serverGeneration)
  ) {
    throw new InvalidArgumentError('not a channel descriptor');
  }
  return candidate as ChannelDescriptor;
}

function checkSlot(name: string, slot: number): void {
  if (!Number.isInteger(slot) || slot <= 0) throw new InvalidArgumentError(`${name} must be a positive doorbell slot, got ${slot}`);
}
