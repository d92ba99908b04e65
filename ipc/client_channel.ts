// The client end of a channel: sends CALL and SEND frames, settles calls from REPLY and
// ERROR frames, hands NOTIFICATION frames to the Endpoint.
//
// Incoming frames are distrusted like any other: a reply must decode, have the REPLY or ERROR
// shape, name a call this channel made, and match the operation's reply schema; otherwise it
// is dropped (or, when it names a pending call, rejects it with MALFORMED_MESSAGE).
// When the kernel closes the channel, replies already in the ring are still delivered, then
// every call still pending rejects with PEER_RESTARTED (with the new generation),
// PEER_STOPPED or PERMISSION_DENIED (revoked).

import type { BulkCarrier, BulkReference, LentBytes } from './bulk.js';
import type { DoorbellPage } from '../hal/doorbells.js';
import { ChannelState, type ChannelDescriptor, type ChannelStatus } from './channel.js';
import {
  compileInterface, explainMismatch,
  type CallOptions, type ClientOf, type CompiledInterface, type CompiledOperation, type InterfaceDefinition, type ReplyOf,
} from './define.js';
import {
  EndpointStoppedError, errorFromWire, InvalidArgumentError, IpcError, MalformedMessageError, MessageTooLargeError,
  PeerRestartedError, PeerStoppedError, PermissionDeniedError, UnknownOperationError,
} from './errors.js';
import { Outbox } from './outbox.js';
import type { PendingCall, PendingCalls } from './pending_calls.js';
import { Ring } from './ring.js';
import {
  decodeFrame, encodeBulkCall, encodeBulkDone, encodeCall, encodeSend, FRAME_BULK_REPLY, FRAME_ERROR, FRAME_REPLY, parseResponse,
  type Malformed, type Response,
} from './wire.js';

/** Counters an Endpoint keeps (see Endpoint.stats). */
export interface MutableStats {
  received: number;
  replied: number;
  errors: number;
  sent: number;
  bulk: number;
}

/** What a ClientChannel needs from its Endpoint. */
export interface ClientHost {
  readonly doorbells: DoorbellPage;
  /** How calls too large for the ring are lent to the server, if at all. */
  readonly bulk: BulkCarrier | undefined;
  readonly calls: PendingCalls<ClientChannel>;
  readonly stats: MutableStats;
  readonly defaultTimeoutMs: number;
  /** A call is outstanding: make sure the loop is looking for its reply. */
  expectReply(): void;
  /** A frame this thread wrote had to wake its parked reader. */
  readonly peerWoken: () => void;
  /** A notification arrived on `channel`. */
  deliverNotification(channel: ClientChannel, notificationId: number, args: unknown): void;
  /** The channel is finished (closed by the kernel, or detached): forget it. `why` is what its calls fail with. */
  forget(channel: ClientChannel, why: IpcError): void;
  /** Something went wrong that nobody is waiting to hear about. */
  fault(error: unknown, where: string): void;
}

/** Frames read per channel per pass, so one busy channel cannot starve the others. */
const READ_BATCH = 64;

/**
 * The client end of one channel, as Endpoint.attachClient returns it. Use `bind` for a typed
 * proxy, or `call`/`send` by operation name.
 *
 * @example
 * const vfs = endpoint.attachClient(descriptor).bind(vfsInterface);
 * const handle = await vfs.open({ path: '/etc/motd' });
 */
export class ClientChannel {
  readonly descriptor: ChannelDescriptor;
  private readonly host: ClientHost;
  private readonly state: ChannelState;
  private readonly inbox: Ring;
  private readonly outbox: Outbox;
  private finished: IpcError | undefined;

  constructor(descriptor: ChannelDescriptor, host: ClientHost) {
    this.descriptor = descriptor;
    this.host = host;
    this.state = new ChannelState(descriptor.state);
    this.inbox = new Ring(descriptor.replies);
    this.outbox = new Outbox(new Ring(descriptor.requests), host.doorbells, descriptor.serverSlot, host.peerWoken);
  }

  get id(): number {
    return this.descriptor.id;
  }

  /** True while the kernel has not closed the channel and it has not been detached. */
  get open(): boolean {
    return this.finished === undefined && this.state.open;
  }

  /** Open, or closed with a reason and the server's generation now. */
  get status(): ChannelStatus {
    return this.state.status();
  }

  /** A typed proxy for `definition` on this channel (no reconnection: see Endpoint.client). */
  bind<const D extends InterfaceDefinition>(definition: D): ClientOf<D> {
    const compiled = this.compiledFor(definition);
    return buildProxy<D>(compiled, (operation, args, options) => this.callOperation(operation, args, options), (operation, args) => this.sendOperation(operation, args));
  }

  /** Calls operation `name` of `definition`; resolves with the reply or rejects with an IpcError. */
  call<const D extends InterfaceDefinition, K extends keyof D['ops'] & string>(
    definition: D, name: K, args: unknown, options?: CallOptions,
  ): Promise<ReplyOf<D['ops'][K]>> {
    try {
      return this.callOperation(this.operation(definition, name, 'call'), args, options) as Promise<ReplyOf<D['ops'][K]>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends one-way operation `name`. Throws InvalidArgumentError / MessageTooLargeError / closed-channel errors. */
  send<const D extends InterfaceDefinition, K extends keyof D['ops'] & string>(definition: D, name: K, args: unknown): void {
    this.sendOperation(this.operation(definition, name, 'send'), args);
  }

  /** Stops using the channel: pending calls reject with ENDPOINT_STOPPED. */
  detach(): void {
    this.finish(new EndpointStoppedError(`channel ${this.id} (${this.descriptor.interfaceName}) detached`));
  }

  /** Sends a CALL frame; the promise settles with the reply. Never throws. */
  callOperation(operation: CompiledOperation, args: unknown, options?: CallOptions): Promise<unknown> {
    const refusal = this.refusal(operation, args);
    if (refusal) return Promise.reject(refusal);
    const timeoutMs = options?.timeoutMs ?? this.host.defaultTimeoutMs;
    if (!(timeoutMs > 0)) return Promise.reject(new InvalidArgumentError(`timeoutMs must be positive, got ${timeoutMs}`));
    const { id, promise } = this.host.calls.add(this, operation, timeoutMs);
    let frame: Uint8Array;
    try {
      frame = encodeCall(id, operation.id, args);
    } catch (error) {
      this.host.calls.take(id);
      return Promise.reject(new InvalidArgumentError(`arguments of ${operation.name} cannot be encoded: ${String(error)}`));
    }
    if (frame.length > this.outbox.maxFrameBytes) {
      const bulk = this.host.bulk;
      const server = this.descriptor.serverName;
      if (!bulk || server === undefined) {
        this.host.calls.take(id);
        return Promise.reject(this.tooLarge(operation, frame.length));
      }
      // pack() returns a view of its reusable buffer (a Node Buffer, whose slice() does not copy).
      return this.callByLending(bulk, server, id, Uint8Array.prototype.slice.call(frame), promise);
    }
    this.outbox.write(frame);
    this.host.stats.sent++;
    this.host.expectReply();
    return promise;
  }

  /** Sends a SEND frame. Throws on invalid arguments, oversize, or a closed channel. */
  sendOperation(operation: CompiledOperation, args: unknown): void {
    const refusal = this.refusal(operation, args);
    if (refusal) throw refusal;
    let frame: Uint8Array;
    try {
      frame = encodeSend(operation.id, args);
    } catch (error) {
      throw new InvalidArgumentError(`arguments of ${operation.name} cannot be encoded: ${String(error)}`);
    }
    if (frame.length > this.outbox.maxFrameBytes) throw this.tooLarge(operation, frame.length);
    this.outbox.write(frame);
    this.host.stats.sent++;
  }

  /**
   * Endpoint's pass: reads replies (a batch), answers a full-ring request, flushes queued
   * frames, and finishes the channel if the kernel closed it. Returns the work done.
   */
  pump(): number {
    if (this.finished) return 0;
    const closed = !this.state.open;
    let work = 0;
    for (let i = 0; closed || i < READ_BATCH; i++) {
      let length: number;
      try {
        length = this.inbox.tryReadIntoScratch();
      } catch (error) {
        this.host.stats.errors++;
        this.host.fault(error, `channel ${this.id} replies ring`);
        break;
      }
      if (length < 0) break;
      this.receive(this.inbox.scratch, length);
      work++;
    }
    if (closed) {
      this.finish(this.closedError());
      return work + 1;
    }
    if (work > 0 && this.inbox.takeSpaceRequest()) this.host.doorbells.ring(this.descriptor.serverSlot);
    if (this.outbox.queued > 0) work += this.outbox.flush();
    return work;
  }

  /** The error calls on this channel fail with once it is closed. */
  closedError(): IpcError {
    if (this.finished) return this.finished;
    const status = this.state.status();
    const where = `channel ${this.id} to ${this.descriptor.interfaceName}`;
    switch (status.reason) {
      case 'peer-restarted':
        return new PeerRestartedError(`${where}: server restarted (generation ${status.generation})`, { generation: status.generation });
      case 'revoked':
        return new PermissionDeniedError(`${where}: capability revoked`);
      default:
        return new PeerStoppedError(`${where}: server stopped`, { generation: status.generation });
    }
  }

  private receive(bytes: Uint8Array, length: number): void {
    const host = this.host;
    host.stats.received++;
    const decoded = decodeFrame(bytes, length);
    if ('error' in decoded) {
      host.stats.errors++;
      return;
    }
    const response = parseResponse(decoded.value);
    if (response.kind === FRAME_REPLY || response.kind === FRAME_ERROR || response.kind === 'malformed') {
      const call = response.callId === undefined ? undefined : host.calls.get(response.callId);
      if (!call || call.owner !== this) {
        host.stats.errors++;
        return;
      }
      this.settle(call, response);
      return;
    }
    if (response.kind === FRAME_BULK_REPLY) {
      host.stats.bulk++;
      void this.fetchLentReply(response.callId, response.reference);
      return;
    }
    host.deliverNotification(this, response.notificationId, response.args);
  }

  /** Settles a pending call with its reply, error or malformed answer. */
  private settle(call: PendingCall<ClientChannel>, response: Extract<Response | Malformed, { kind: typeof FRAME_REPLY | typeof FRAME_ERROR | 'malformed' }>): void {
    const host = this.host;
    host.calls.take(call.id);
    if (response.kind === 'malformed') {
      host.stats.errors++;
      call.reject(new MalformedMessageError(`malformed reply to ${call.operation.label}: ${response.reason}`));
    } else if (response.kind === FRAME_ERROR) {
      call.reject(errorFromWire(response.error));
    } else {
      const check = call.operation.reply;
      const mismatch = check ? explainMismatch(check, response.value) : undefined;
      if (mismatch === undefined) {
        call.resolve(check ? response.value : undefined);
      } else {
        host.stats.errors++;
        call.reject(new MalformedMessageError(`reply to ${call.operation.label} does not match its schema: ${mismatch}`));
      }
    }
  }

  /** BULK_REPLY: read the reply the server lent in RAM, tell it so (BULK_DONE), then settle the call. */
  private async fetchLentReply(callId: number, reference: BulkReference): Promise<void> {
    const host = this.host;
    let bytes: Uint8Array | undefined;
    let failure: IpcError | undefined;
    try {
      if (!host.bulk) throw new MessageTooLargeError('the server lent its reply in RAM, but this thread reads no bulk messages');
      bytes = await host.bulk.fetch(reference, this.descriptor.serverName);
    } catch (error) {
      failure = error instanceof IpcError ? error : new MalformedMessageError(`lent reply could not be read: ${String(error)}`);
    } finally {
      if (!this.finished) this.outbox.write(encodeBulkDone(callId));
    }
    const call = host.calls.get(callId);
    if (!call || call.owner !== this) return; // timed out or the channel went away meanwhile
    if (failure || !bytes) {
      host.calls.take(callId);
      call.reject(failure ?? new MalformedMessageError('lent reply is empty'));
      return;
    }
    const decoded = decodeFrame(bytes, bytes.length);
    const response = 'error' in decoded ? undefined : parseResponse(decoded.value);
    if (!response || !(response.kind === FRAME_REPLY || response.kind === FRAME_ERROR) || response.callId !== callId) {
      this.settle(call, { kind: 'malformed', reason: 'lent bytes do not hold the REPLY or ERROR of this call' });
      return;
    }
    this.settle(call, response);
  }

  private compiledFor(definition: InterfaceDefinition): CompiledInterface {
    const compiled = compileInterface(definition);
    if (compiled.name !== this.descriptor.interfaceName) {
      throw new InvalidArgumentError(`channel ${this.id} speaks ${this.descriptor.interfaceName}, not ${compiled.name}`);
    }
    return compiled;
  }

  private operation(definition: InterfaceDefinition, name: string, kind: 'call' | 'send'): CompiledOperation {
    const operation = this.compiledFor(definition).operationsByName.get(name);
    if (!operation || operation.kind !== kind) throw new UnknownOperationError(`${definition.name} has no ${kind} operation ${name}`);
    return operation;
  }

  private refusal(operation: CompiledOperation, args: unknown): IpcError | undefined {
    if (!this.open) return this.closedError();
    const mismatch = explainMismatch(operation.args, args);
    if (mismatch !== undefined) return new InvalidArgumentError(`invalid arguments for ${this.descriptor.interfaceName}.${operation.name}: ${mismatch}`);
    return undefined;
  }

  /** Lends the CALL frame in RAM pages, sends a BULK_CALL, and takes the pages back once the call settles. */
  private async callByLending(bulk: BulkCarrier, server: string, id: number, frame: Uint8Array, reply: Promise<unknown>): Promise<unknown> {
    let lent: LentBytes;
    try {
      lent = await bulk.lend(frame, server);
    } catch (error) {
      this.host.calls.take(id);
      throw error;
    }
    try {
      this.outbox.write(encodeBulkCall(id, lent.reference));
      this.host.stats.sent++;
      this.host.stats.bulk++;
      this.host.expectReply();
      return await reply;
    } finally {
      await lent.release().catch((error: unknown) => this.host.fault(error, 'releasing lent bytes'));
    }
  }

  private tooLarge(operation: CompiledOperation, bytes: number): MessageTooLargeError {
    return new MessageTooLargeError(
      `${this.descriptor.interfaceName}.${operation.name} message of ${bytes} bytes exceeds the ring's ${this.outbox.maxFrameBytes}; move bulk data by page grant`,
      { bytes, maxBytes: this.outbox.maxFrameBytes },
    );
  }

  private finish(error: IpcError): void {
    if (this.finished) return;
    this.finished = error;
    this.outbox.clear();
    this.host.calls.rejectOwner(this, () => error);
    this.host.forget(this, error);
  }
}

/** Builds a proxy object with one function per operation of `compiled`. */
export function buildProxy<D extends InterfaceDefinition>(
  compiled: CompiledInterface,
  call: (operation: CompiledOperation, args: unknown, options?: CallOptions) => Promise<unknown>,
  send: (operation: CompiledOperation, args: unknown) => void,
): ClientOf<D> {
  const proxy: Record<string, unknown> = {};
  for (const operation of compiled.operationsByName.values()) {
    proxy[operation.name] = operation.kind === 'call'
      ? (args: unknown, options?: CallOptions) => call(operation, args, options)
      : (args: unknown) => send(operation, args);
  }
  return Object.freeze(proxy) as ClientOf<D>;
}
