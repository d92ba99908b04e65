// Typed IPC errors: a stable string code plus optional data, registered by code so that an
// error thrown in one thread is re-created as the same class in another after msgpack.
//
//   server handler throws new PermissionDeniedError('no')
//     → errorToWire  → { code: 'PERMISSION_DENIED', message: 'no' }   (msgpack, ring)
//     → errorFromWire → PermissionDeniedError in the client, `instanceof` works
//
// Anything that is not an IpcError crosses the wire as SERVER_FAULT: a handler bug is the
// server's fault, never the caller's. Unregistered codes re-hydrate as a plain IpcError that
// keeps its code, so clients can still switch on `error.code`.
//
// An interface owns its errors: it lists their classes in its definition (`errors: [...]`,
// ipc/define.ts), and defining it registers them, so a client that imports only the
// interface gets the classes. The IPC layer's own errors below are registered here.

/** The shape of an error on the wire (the tail of an ERROR frame). */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly data?: unknown;
}

/**
 * Base class of every error that crosses IPC. `code` is stable and machine-readable,
 * `data` is msgpack-serialisable detail.
 *
 * @example
 * try { await vfs.open({ path }) } catch (e) { if (e instanceof IpcError && e.code === 'ENOENT') ... }
 */
export class IpcError extends Error {
  readonly code: string;
  readonly data?: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/**
 * The class of an error with a stable `code` and the usual (message, data) constructor.
 * Extend it to name the error: `export class ZeroLengthError extends errorClass('ZERO_LENGTH') {}`
 * (instanceof and the class name work as for a hand-written class; register it as usual).
 */
export function errorClass<const C extends string>(code: C) {
  return class extends IpcError {
    static readonly code: C = code;
    constructor(message: string, data?: unknown) {
      super(code, message, data);
    }
  };
}

/** The server of a channel restarted; `data.generation` is the generation now running. */
export class PeerRestartedError extends IpcError {
  static readonly code = 'PEER_RESTARTED';
  constructor(message: string, data?: { generation: number }) {
    super(PeerRestartedError.code, message, data);
  }
  /** The new generation of the peer, when known. */
  get generation(): number | undefined {
    const data = this.data as { generation?: unknown } | undefined;
    return typeof data?.generation === 'number' ? data.generation : undefined;
  }
}

/** The peer stopped (or failed) and is not coming back on this channel. */
export class PeerStoppedError extends errorClass('PEER_STOPPED') {}

/** The caller may not do this (capability missing or revoked). */
export class PermissionDeniedError extends errorClass('PERMISSION_DENIED') {}

/** A frame could not be decoded or does not have the shape of any message. */
export class MalformedMessageError extends errorClass('MALFORMED_MESSAGE') {}

/** A message is larger than the ring can carry (`data.bytes`, `data.maxBytes`). */
export class MessageTooLargeError extends IpcError {
  static readonly code = 'MESSAGE_TOO_LARGE';
  constructor(message: string, data?: { bytes: number; maxBytes: number }) {
    super(MessageTooLargeError.code, message, data);
  }
}

/** The operation id is not part of the interface (or is used with the wrong kind). */
export class UnknownOperationError extends errorClass('UNKNOWN_OPERATION') {}

/** The operation exists but this server has no handler for it. */
export class NotSupportedError extends errorClass('NOT_SUPPORTED') {}

/** No reply arrived within the call's timeout (`data.timeoutMs`). */
export class CallTimeoutError extends IpcError {
  static readonly code = 'TIMEOUT';
  constructor(message: string, data?: { timeoutMs: number }) {
    super(CallTimeoutError.code, message, data);
  }
}

/** Arguments do not match the operation's schema, or a caller passed a bad value. */
export class InvalidArgumentError extends errorClass('INVALID_ARGUMENT') {}

/** The handler threw something that is not an IpcError (a bug in the server). */
export class ServerFaultError extends errorClass('SERVER_FAULT') {}

/** The local Endpoint was stopped while the call was pending. */
export class EndpointStoppedError extends errorClass('ENDPOINT_STOPPED') {}

type ErrorFactory = (message: string, data?: unknown) => IpcError;

/** An error class with one code and the usual (message, data) constructor: errorClass(code) and alike. */
export interface PlainErrorClass {
  readonly code: string;
  new (message: string, data?: never): IpcError;
}

/** An error class that is re-created some other way (several codes, or a constructor of its own data). */
export interface WireErrorClass {
  readonly codes: readonly string[];
  fromWire(code: string, message: string, data: unknown): IpcError;
}

/** What an interface's `errors` list holds. */
export type DeclaredError = PlainErrorClass | WireErrorClass;

const registry = new Map<string, ErrorFactory>();

/**
 * Registers how to re-create errors with `code` when they arrive from the wire.
 * Re-registering a code replaces the factory.
 *
 * @example
 * class NotFoundError extends IpcError { constructor(m: string, d?: unknown) { super('ENOENT', m, d) } }
 * registerError('ENOENT', (m, d) => new NotFoundError(m, d));
 */
export function registerError(code: string, create: ErrorFactory): void {
  if (typeof code !== 'string' || code.length === 0) throw new InvalidArgumentError('error code must be a non-empty string');
  if (typeof create !== 'function') throw new InvalidArgumentError(`factory for ${code} must be a function`);
  registry.set(code, create);
}

/** Registers an error class by its code(s), as an interface's `errors` list does. */
export function registerErrorClass(declared: DeclaredError): void {
  if ('fromWire' in declared && typeof declared.fromWire === 'function') {
    if (!Array.isArray(declared.codes) || declared.codes.length === 0) throw new InvalidArgumentError('an error class with fromWire needs its codes');
    for (const code of declared.codes) registerError(code, (message, data) => declared.fromWire(code, message, data));
    return;
  }
  const plain = declared as PlainErrorClass;
  if (typeof plain !== 'function' || typeof plain.code !== 'string') throw new InvalidArgumentError('a declared error is a class with a static code (or codes and fromWire)');
  // The wire's data is what the sender's constructor took; the class's own type says its shape.
  registerError(plain.code, (message, data) => new plain(message, data as never));
}

/** True if errors with `code` re-hydrate as a class of their own (not a bare IpcError). */
export function isRegisteredError(code: string): boolean {
  return registry.has(code);
}

for (const declared of [
  PeerRestartedError, PeerStoppedError, PermissionDeniedError, MalformedMessageError, MessageTooLargeError, UnknownOperationError,
  NotSupportedError, CallTimeoutError, InvalidArgumentError, ServerFaultError, EndpointStoppedError,
]) registerErrorClass(declared);

/**
 * Turns anything thrown into its wire form. IpcErrors keep code, message and data;
 * anything else becomes SERVER_FAULT with the thrown value's message.
 */
export function errorToWire(error: unknown): WireError {
  if (error instanceof IpcError) {
    return error.data === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, data: error.data };
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : `non-error thrown: ${describe(error)}`;
  return { code: ServerFaultError.code, message };
}

/**
 * Re-creates an error from its wire form: the registered class for its code, else a plain
 * IpcError with that code. A value that is not a wire error at all becomes MALFORMED_MESSAGE.
 */
export function errorFromWire(wire: unknown): IpcError {
  if (typeof wire !== 'object' || wire === null) return new MalformedMessageError(`error reply is not an object: ${describe(wire)}`);
  const { code, message, data } = wire as Record<string, unknown>;
  if (typeof code !== 'string' || code.length === 0 || typeof message !== 'string') {
    return new MalformedMessageError('error reply lacks a string code and message');
  }
  const create = registry.get(code);
  if (create) {
    try {
      return create(message, data);
    } catch {
      // A faulty factory must not turn a delivered error into a crash; fall through.
    }
  }
  return new IpcError(code, message, data);
}

function describe(value: unknown): string {
  try {
    const text = typeof value === 'string' ? value : String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return typeof value;
  }
}
