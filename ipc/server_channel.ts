// The server end of a channel: validates each request completely, then dispatches it.
//
//   frame ─decode─▶ value ─shape─▶ CALL/SEND ─op exists, right kind─▶ op ─args schema─▶ handler
//
// Every step that fails answers a CALL with a typed ERROR frame (when the call id could be
// recovered) and drops a SEND; the channel keeps serving either way. A handler's result is
// checked against the reply schema before it is sent; a thrown IpcError goes back with its
// own code, anything else as SERVER_FAULT (and is reported to the Endpoint's fault hook,
// since it is a bug in the server). Replies to calls still running when the channel closes
// are dropped.

import type { BulkCarrier, BulkReference, LentBytes } from './bulk.js';
import type { DoorbellPage } from '../hal/doorbells.js';
import { ChannelState, type ChannelDescriptor } from './channel.js';
import { explainMismatch, type CallContext, type CompiledInterface, type CompiledOperation } from './define.js';
import {
  errorToWire, InvalidArgumentError, IpcError, MalformedMessageError, MessageTooLargeError,
  NotSupportedError, PermissionDeniedError, ServerFaultError, UnknownOperationError, type WireError,
} from './errors.js';
import type { MutableStats } from './client_channel.js';
import { Outbox } from './outbox.js';
import { Ring } from './ring.js';
import { decodeFrame, encodeBulkReply, encodeError, encodeNotification, encodeReply, FRAME_BULK_CALL, FRAME_BULK_DONE, FRAME_CALL, parseRequest } from './wire.js';

/** A handler as stored at runtime (the typed form is HandlersOf<D>). */
export type AnyHandler = (args: unknown, context: CallContext) => unknown;

/** An interface this thread serves, with its handlers. */
export interface Service {
  readonly compiled: CompiledInterface;
  readonly handlers: Readonly<Record<string, AnyHandler | undefined>>;
}

/** What a ServerChannel needs from its Endpoint. */
export interface ServerHost {
  readonly doorbells: DoorbellPage;
  /** How bulk messages are fetched, if this thread takes them. */
  readonly bulk: BulkCarrier | undefined;
  readonly stats: MutableStats;
  /** A frame this thread wrote had to wake its parked reader. */
  readonly peerWoken: () => void;
  forget(channel: ServerChannel): void;
  fault(error: unknown, where: string): void;
}

/** Frames read per channel per pass, so one busy channel cannot starve the others. */
const READ_BATCH = 64;

/**
 * The server end of one channel, made by Endpoint.attachServer; the Endpoint drives it.
 * `context` is what every handler of this channel is given.
 */
export class ServerChannel {
  readonly descriptor: ChannelDescriptor;
  readonly context: CallContext;
  private readonly service: Service;
  private readonly host: ServerHost;
  private readonly state: ChannelState;
  private readonly inbox: Ring;
  private readonly outbox: Outbox;
  private finished = false;
  /** Replies lent to the client, by call id, until its BULK_DONE. */
  private readonly lentReplies = new Map<number, LentBytes>();

  constructor(descriptor: ChannelDescriptor, service: Service, host: ServerHost, clientName?: string) {
    this.descriptor = descriptor;
    this.service = service;
    this.host = host;
    this.state = new ChannelState(descriptor.state);
    this.inbox = new Ring(descriptor.requests);
    this.outbox = new Outbox(new Ring(descriptor.replies), host.doorbells, descriptor.clientSlot, host.peerWoken);
    this.context = Object.freeze(clientName === undefined
      ? { channelId: descriptor.id, clientSlot: descriptor.clientSlot }
      : { channelId: descriptor.id, clientSlot: descriptor.clientSlot, clientName });
  }

  get id(): number {
    return this.descriptor.id;
  }

  /** True until the kernel closes the channel or it is detached. */
  get open(): boolean {
    return !this.finished && this.state.open;
  }

  /** Endpoint's pass: serves a batch of requests, flushes queued replies. Returns the work done. */
  pump(): number {
    if (this.finished) return 0;
    if (!this.state.open) {
      this.detach();
      return 1;
    }
    let work = 0;
    for (; work < READ_BATCH; work++) {
      let length: number;
      try {
        length = this.inbox.tryReadIntoScratch();
      } catch (error) {
        this.host.stats.errors++;
        this.host.fault(error, `channel ${this.id} requests ring`);
        break;
      }
      if (length < 0) break;
      this.receive(this.inbox.scratch, length);
    }
    if (work > 0 && this.inbox.takeSpaceRequest()) this.host.doorbells.ring(this.descriptor.clientSlot);
    if (this.outbox.queued > 0) work += this.outbox.flush();
    return work;
  }

  /** Sends a notification frame. Drops it silently if the channel is closed. */
  notify(notificationId: number, args: unknown, label: string): void {
    if (!this.open) return;
    let frame: Uint8Array;
    try {
      frame = encodeNotification(notificationId, args);
    } catch (error) {
      throw new InvalidArgumentError(`arguments of notification ${label} cannot be encoded: ${String(error)}`);
    }
    if (frame.length > this.outbox.maxFrameBytes) {
      throw new MessageTooLargeError(`notification ${label} of ${frame.length} bytes exceeds the ring's ${this.outbox.maxFrameBytes}`, {
        bytes: frame.length, maxBytes: this.outbox.maxFrameBytes,
      });
    }
    this.outbox.write(frame);
    this.host.stats.sent++;
  }

  /** Stops serving this channel (replies still being computed are dropped). */
  detach(): void {
    if (this.finished) return;
    this.finished = true;
    this.outbox.clear();
    this.releaseLentReplies();
    this.host.forget(this);
  }

  /** Takes back every reply still lent to the client (the channel is gone or finished). */
  private releaseLentReplies(): void {
    for (const lent of this.lentReplies.values()) lent.release().catch((error: unknown) => this.host.fault(error, 'releasing a lent reply'));
    this.lentReplies.clear();
  }

  private receive(bytes: Uint8Array, length: number): void {
    const stats = this.host.stats;
    stats.received++;
    const decoded = decodeFrame(bytes, length);
    if ('error' in decoded) {
      stats.errors++;
      return;
    }
    this.handle(decoded.value);
  }

  /** A decoded request: shape, then op, then args, then the handler. `lentCallId` marks a CALL fetched for a BULK_CALL. */
  private handle(value: unknown, lentCallId?: number): void {
    const stats = this.host.stats;
    const request = parseRequest(value);
    if (request.kind === 'malformed') {
      if (request.callId === undefined && lentCallId === undefined) stats.errors++;
      else this.replyError(request.callId ?? lentCallId!, new MalformedMessageError(request.reason));
      return;
    }
    if (request.kind === FRAME_BULK_DONE) {
      const lent = this.lentReplies.get(request.callId);
      this.lentReplies.delete(request.callId);
      lent?.release().catch((error: unknown) => this.host.fault(error, 'releasing a lent reply'));
      return;
    }
    if (request.kind === FRAME_BULK_CALL) {
      stats.bulk++;
      if (lentCallId === undefined) this.fetchLent(request.callId, request.reference);
      else this.replyError(lentCallId, new MalformedMessageError('lent bytes must hold a CALL frame, not another BULK_CALL'));
      return;
    }
    if (lentCallId !== undefined && (request.kind !== FRAME_CALL || request.callId !== lentCallId)) {
      this.replyError(lentCallId, new MalformedMessageError('lent bytes must hold the CALL frame of the same call id'));
      return;
    }
    const isCall = request.kind === FRAME_CALL;
    const callId = isCall ? request.callId : 0;
    const compiled = this.service.compiled;
    const operation = compiled.operationsById.get(request.opId);
    if (!operation || operation.kind !== (isCall ? 'call' : 'send')) {
      const message = operation
        ? `${compiled.name}.${operation.name} is a ${operation.kind}, not a ${isCall ? 'call' : 'send'}`
        : `${compiled.name} has no operation ${request.opId}`;
      this.refuse(callId, new UnknownOperationError(message, { opId: request.opId }));
      return;
    }
    const mismatch = explainMismatch(operation.args, request.args);
    if (mismatch !== undefined) {
      this.refuse(callId, new InvalidArgumentError(`invalid arguments for ${compiled.name}.${operation.name}: ${mismatch}`));
      return;
    }
    const handler = this.service.handlers[operation.name];
    if (typeof handler !== 'function') {
      this.refuse(callId, new NotSupportedError(`${compiled.name}.${operation.name} is not supported by this server`));
      return;
    }
    let result: unknown;
    try {
      result = handler(request.args, this.context);
    } catch (error) {
      this.handlerFailed(callId, operation, error);
      return;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then(
        (value) => { if (isCall) this.reply(callId, operation, value); },
        (error: unknown) => this.handlerFailed(callId, operation, error),
      );
    } else if (isCall) {
      this.reply(callId, operation, result);
    }
  }

  /** BULK_CALL: fetch the lent CALL frame from RAM (the carrier checks the grant), then handle it. */
  private fetchLent(callId: number, reference: BulkReference): void {
    const bulk = this.host.bulk;
    if (!bulk) {
      this.replyError(callId, new MessageTooLargeError(`${this.service.compiled.name}: this server takes no bulk messages`));
      return;
    }
    bulk.fetch(reference, this.context.clientName).then(
      (bytes) => {
        if (!this.open) return;
        const decoded = decodeFrame(bytes, bytes.length);
        if ('error' in decoded) this.replyError(callId, new MalformedMessageError(`lent bytes are not a msgpack frame: ${decoded.error}`));
        else this.handle(decoded.value, callId);
      },
      (error: unknown) => this.replyError(callId, error instanceof IpcError ? error : new PermissionDeniedError(`lent bytes could not be read: ${String(error)}`)),
    );
  }

  private refuse(callId: number, error: IpcError): void {
    if (callId === 0) this.host.stats.errors++;
    else this.replyError(callId, error);
  }

  private handlerFailed(callId: number, operation: CompiledOperation, error: unknown): void {
    if (!(error instanceof IpcError)) this.host.fault(error, `handler ${this.service.compiled.name}.${operation.name}`);
    if (callId === 0) this.host.stats.errors++;
    else this.replyError(callId, error);
  }

  private reply(callId: number, operation: CompiledOperation, value: unknown): void {
    if (!this.open) return;
    const check = operation.reply;
    let frame: Uint8Array;
    try {
      if (check) {
        const mismatch = explainMismatch(check, value);
        if (mismatch !== undefined) {
          throw new ServerFaultError(`${this.service.compiled.name}.${operation.name} returned a reply that does not match its schema: ${mismatch}`);
        }
      }
      frame = encodeReply(callId, check ? value : undefined);
    } catch (error) {
      this.host.fault(error, `reply of ${this.service.compiled.name}.${operation.name}`);
      this.replyError(callId, error instanceof IpcError ? error : new ServerFaultError(`reply cannot be encoded: ${String(error)}`));
      return;
    }
    if (frame.length > this.outbox.maxFrameBytes) {
      const bulk = this.host.bulk;
      const client = this.context.clientName;
      if (bulk && client !== undefined) {
        // pack() returns a view of its reusable buffer: copy before the next frame overwrites it.
        void this.replyByLending(bulk, client, callId, Uint8Array.prototype.slice.call(frame));
        return;
      }
      this.replyError(callId, new MessageTooLargeError(`reply of ${frame.length} bytes exceeds the ring's ${this.outbox.maxFrameBytes}`, {
        bytes: frame.length, maxBytes: this.outbox.maxFrameBytes,
      }));
      return;
    }
    this.outbox.write(frame);
    this.host.stats.replied++;
  }

  /** A reply too large for the ring: lent to the client in RAM pages until it says BULK_DONE. */
  private async replyByLending(bulk: BulkCarrier, client: string, callId: number, frame: Uint8Array): Promise<void> {
    let lent: LentBytes;
    try {
      lent = await bulk.lend(frame, client);
    } catch (error) {
      this.replyError(callId, error instanceof IpcError ? error : new MessageTooLargeError(`reply of ${frame.length} bytes could not be lent: ${String(error)}`));
      return;
    }
    if (!this.open) {
      await lent.release().catch(() => undefined);
      return;
    }
    this.lentReplies.set(callId, lent);
    this.outbox.write(encodeBulkReply(callId, lent.reference));
    this.host.stats.replied++;
    this.host.stats.bulk++;
  }

  private replyError(callId: number, error: unknown): void {
    this.host.stats.errors++;
    if (!this.open) return;
    let frame = safeEncodeError(callId, errorToWire(error));
    if (frame.length > this.outbox.maxFrameBytes) {
      const wire = errorToWire(error);
      frame = safeEncodeError(callId, { code: wire.code, message: wire.message.slice(0, 256) });
    }
    this.outbox.write(frame);
    this.host.stats.replied++;
  }
}

function safeEncodeError(callId: number, wire: WireError): Uint8Array {
  try {
    return encodeError(callId, wire);
  } catch {
    return encodeError(callId, { code: wire.code, message: wire.message });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
