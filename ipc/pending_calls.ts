// Outgoing calls waiting for their reply, with their deadlines.
//
// Call ids are unique per Endpoint (1 .. 2^32-1, then wrapping). Timeouts are enforced by
// one timer aimed at the earliest deadline, not a timer per call: a call costs a Map entry,
// and the timer is re-aimed only when a sooner deadline appears or when it fires.

import type { CompiledOperation } from './define.js';
import { CallTimeoutError } from './errors.js';
import { MAX_CALL_ID } from './wire.js';

/** One outstanding call. `owner` is the channel that sent it (replies must come back on it). */
export interface PendingCall<Owner> {
  readonly id: number;
  readonly owner: Owner;
  readonly operation: CompiledOperation;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The calls of one Endpoint that await replies, keyed by call id. */
export class PendingCalls<Owner> {
  private readonly calls = new Map<number, PendingCall<Owner>>();
  private nextId = 1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDeadline = Infinity;

  get size(): number {
    return this.calls.size;
  }

  /** Registers a call; returns its id and the promise its reply settles. */
  add(owner: Owner, operation: CompiledOperation, timeoutMs: number): { id: number; promise: Promise<unknown> } {
    let id = this.nextId;
    while (this.calls.has(id)) id = id >= MAX_CALL_ID ? 1 : id + 1;
    this.nextId = id >= MAX_CALL_ID ? 1 : id + 1;
    const deadline = performance.now() + timeoutMs;
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<unknown>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    this.calls.set(id, { id, owner, operation, deadline, timeoutMs, resolve, reject });
    if (deadline < this.timerDeadline) this.aim(deadline);
    return { id, promise };
  }

  /** The call with `id`, still registered. */
  get(id: number): PendingCall<Owner> | undefined {
    return this.calls.get(id);
  }

  /** Removes and returns the call with `id`. */
  take(id: number): PendingCall<Owner> | undefined {
    const call = this.calls.get(id);
    if (call) this.calls.delete(id);
    return call;
  }

  /** Rejects (and removes) every call of `owner` with the error `make` returns. */
  rejectOwner(owner: Owner, make: () => unknown): void {
    for (const call of this.calls.values()) {
      if (call.owner === owner) {
        this.calls.delete(call.id);
        call.reject(make());
      }
    }
  }

  /** Rejects every call and stops the timer. */
  rejectAll(make: () => unknown): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.disarm();
    for (const call of calls) call.reject(make());
  }

  private aim(deadline: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    // Unref'd: a running Endpoint keeps its thread alive; a timer alone need not.
    this.timer = setTimeout(() => this.expire(), Math.max(0, deadline - performance.now()) + 1);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDeadline = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerDeadline = Infinity;
    const now = performance.now();
    let earliest = Infinity;
    const expired: PendingCall<Owner>[] = [];
    for (const call of this.calls.values()) {
      if (call.deadline <= now) expired.push(call);
      else if (call.deadline < earliest) earliest = call.deadline;
    }
    for (const call of expired) {
      this.calls.delete(call.id);
      call.reject(new CallTimeoutError(`${call.operation.label} got no reply within ${call.timeoutMs} ms`, { timeoutMs: call.timeoutMs }));
    }
    if (earliest !== Infinity) this.aim(earliest);
  }
}
