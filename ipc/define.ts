// Interfaces declared once, as data.
//
// An interface definition is a const object: a name, operations with explicit numeric ids,
// TypeBox schemas for arguments and replies, flags (kind, idempotent) and documentation.
// From that one object come
//   - the types: ClientOf<D> (the proxy a client calls) and HandlersOf<D> (what a server implements),
//   - the runtime checks: every schema compiled once with TypeCompiler,
//   - the wire numbering: op ids are explicit, so reordering or renaming never changes the wire.
//
//   export const echo = defineInterface({
//     name: 'echo',
//     ops: {
//       echo:  { id: 1, kind: 'call', idempotent: true, args: Type.Object({ text: Type.String() }), reply: Type.String() },
//       log:   { id: 2, kind: 'send', args: Type.Object({ line: Type.String() }) },
//     },
//     notifications: { tick: { id: 1, args: Type.Object({ count: Type.Integer() }) } },
//     errors: [EchoTooLongError],        // the classes its ops reject with; defining registers them
//   });

import { KindGuard, type Static, type TSchema } from './typebox.js';
import { TypeCompiler, type TypeCheck } from './typebox.js';
import { InvalidArgumentError, registerErrorClass, type DeclaredError } from './errors.js';

/** One operation of an interface. */
export interface OperationDefinition {
  /** Wire id, unique within the interface: a non-negative integer below 2^31. */
  readonly id: number;
  /** 'call' expects a reply; 'send' is one-way. */
  readonly kind: 'call' | 'send';
  /** True if repeating the operation is harmless: the client retries it once after a peer restart. */
  readonly idempotent?: boolean;
  readonly args: TSchema;
  /** Schema of the reply (calls only). Absent: the reply is `undefined`. */
  readonly reply?: TSchema;
  /** Error codes the operation may reject with (documentation). */
  readonly errors?: readonly string[];
  readonly doc?: string;
}

/** A server → client event. */
export interface NotificationDefinition {
  /** Wire id, unique among the interface's notifications. */
  readonly id: number;
  readonly args: TSchema;
  readonly doc?: string;
}

export interface InterfaceDefinition {
  /** Channel interface name; channels carry it, so it must be unique in the system. */
  readonly name: string;
  readonly doc?: string;
  readonly ops: Readonly<Record<string, OperationDefinition>>;
  readonly notifications?: Readonly<Record<string, NotificationDefinition>>;
  /**
   * The error classes its ops reject with (beyond the IPC layer's own): registered when the
   * interface is defined, so a client that imports the interface re-creates them by code.
   */
  readonly errors?: readonly DeclaredError[];
}

/** Per-call options. */
export interface CallOptions {
  /** Reject with CallTimeoutError after this many milliseconds (default: the Endpoint's, 10 s). */
  readonly timeoutMs?: number;
}

/** What a handler is told about the call it serves. */
export interface CallContext {
  readonly channelId: number;
  readonly clientSlot: number;
  /** The client's name as the kernel gave it at attachServer, if any. */
  readonly clientName?: string;
}

type ArgsOf<O> = O extends { readonly args: infer A extends TSchema } ? Static<A> : never;
/** The value a call resolves with (`void` for calls without a reply schema and for sends). */
export type ReplyOf<O> = O extends { readonly kind: 'call'; readonly reply: infer R extends TSchema } ? Static<R> : void;

/** The client proxy of interface D: calls return promises, sends return nothing. */
export type ClientOf<D extends InterfaceDefinition> = {
  readonly [K in keyof D['ops']]: D['ops'][K] extends { readonly kind: 'send' }
    ? (args: ArgsOf<D['ops'][K]>) => void
    : (args: ArgsOf<D['ops'][K]>, options?: CallOptions) => Promise<ReplyOf<D['ops'][K]>>;
};

/** Server handlers of interface D. Partial: a missing handler answers NOT_SUPPORTED. */
export type HandlersOf<D extends InterfaceDefinition> = {
  readonly [K in keyof D['ops']]?: (args: ArgsOf<D['ops'][K]>, context: CallContext) => ReplyOf<D['ops'][K]> | Promise<ReplyOf<D['ops'][K]>>;
};

type NotificationsOf<D extends InterfaceDefinition> = D['notifications'] extends Readonly<Record<string, NotificationDefinition>> ? D['notifications'] : Record<never, never>;
/** Names of D's notifications. */
export type NotificationName<D extends InterfaceDefinition> = keyof NotificationsOf<D> & string;
/** Argument type of notification N of D. */
export type NotificationArgs<D extends InterfaceDefinition, N extends NotificationName<D>> = ArgsOf<NotificationsOf<D>[N]>;

/** Compiled form of one operation, as Endpoint uses it. */
export interface CompiledOperation {
  readonly name: string;
  /** "interface.operation", for messages. */
  readonly label: string;
  readonly id: number;
  readonly kind: 'call' | 'send';
  readonly idempotent: boolean;
  readonly args: TypeCheck<TSchema>;
  /** Absent for sends and for calls without a reply schema. */
  readonly reply?: TypeCheck<TSchema>;
}

export interface CompiledNotification {
  readonly name: string;
  readonly id: number;
  readonly args: TypeCheck<TSchema>;
}

/** An interface with its schemas compiled and its ids indexed. */
export interface CompiledInterface {
  readonly name: string;
  readonly definition: InterfaceDefinition;
  readonly operationsById: ReadonlyMap<number, CompiledOperation>;
  readonly operationsByName: ReadonlyMap<string, CompiledOperation>;
  readonly notificationsById: ReadonlyMap<number, CompiledNotification>;
  readonly notificationsByName: ReadonlyMap<string, CompiledNotification>;
}

const compiled = new WeakMap<InterfaceDefinition, CompiledInterface>();
const FORBIDDEN_NAMES = new Set(['then', '__proto__', 'constructor', 'prototype']);

/**
 * Checks an interface definition (ids unique and in range, kinds valid, schemas real,
 * sends without replies) and compiles its schemas. Returns the definition unchanged, typed
 * as precisely as written. Throws InvalidArgumentError naming the first problem.
 *
 * @example
 * export const clock = defineInterface({ name: 'clock', ops: {
 *   now: { id: 1, kind: 'call', idempotent: true, args: Type.Object({}), reply: Type.Number() } } });
 */
export function defineInterface<const D extends InterfaceDefinition>(definition: D): D {
  compileInterface(definition);
  return definition;
}

/** The compiled form of a definition (compiled and checked once, then cached). */
export function compileInterface(definition: InterfaceDefinition): CompiledInterface {
  const cached = compiled.get(definition);
  if (cached) return cached;
  if (typeof definition !== 'object' || definition === null) throw new InvalidArgumentError('interface definition must be an object');
  const { name } = definition;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('interface definition needs a non-empty name');
  if (typeof definition.ops !== 'object' || definition.ops === null) throw new InvalidArgumentError(`interface ${name}: ops must be an object`);

  const operationsById = new Map<number, CompiledOperation>();
  const operationsByName = new Map<string, CompiledOperation>();
  for (const [opName, op] of Object.entries(definition.ops)) {
    const where = `interface ${name}, op ${opName}`;
    checkMemberName(where, opName);
    if (typeof op !== 'object' || op === null) throw new InvalidArgumentError(`${where}: must be an object`);
    checkId(where, op.id);
    if (operationsById.has(op.id)) throw new InvalidArgumentError(`${where}: id ${op.id} already used by ${operationsById.get(op.id)!.name}`);
    if (op.kind !== 'call' && op.kind !== 'send') throw new InvalidArgumentError(`${where}: kind must be 'call' or 'send'`);
    checkSchema(`${where}: args`, op.args);
    if (op.reply !== undefined) {
      if (op.kind === 'send') throw new InvalidArgumentError(`${where}: a send has no reply`);
      checkSchema(`${where}: reply`, op.reply);
    }
    if (op.idempotent !== undefined && typeof op.idempotent !== 'boolean') throw new InvalidArgumentError(`${where}: idempotent must be a boolean`);
    if (op.errors !== undefined && (!Array.isArray(op.errors) || op.errors.some((code) => typeof code !== 'string'))) {
      throw new InvalidArgumentError(`${where}: errors must be an array of codes`);
    }
    const compiledOp: CompiledOperation = {
      name: opName,
      label: `${name}.${opName}`,
      id: op.id,
      kind: op.kind,
      idempotent: op.idempotent === true,
      args: TypeCompiler.Compile(op.args),
      ...(op.reply === undefined ? {} : { reply: TypeCompiler.Compile(op.reply) }),
    };
    operationsById.set(op.id, compiledOp);
    operationsByName.set(opName, compiledOp);
  }

  const notificationsById = new Map<number, CompiledNotification>();
  const notificationsByName = new Map<string, CompiledNotification>();
  if (definition.notifications !== undefined) {
    if (typeof definition.notifications !== 'object' || definition.notifications === null) {
      throw new InvalidArgumentError(`interface ${name}: notifications must be an object`);
    }
    for (const [notificationName, notification] of Object.entries(definition.notifications)) {
      const where = `interface ${name}, notification ${notificationName}`;
      checkMemberName(where, notificationName);
      if (typeof notification !== 'object' || notification === null) throw new InvalidArgumentError(`${where}: must be an object`);
      checkId(where, notification.id);
      if (notificationsById.has(notification.id)) {
        throw new InvalidArgumentError(`${where}: id ${notification.id} already used by ${notificationsById.get(notification.id)!.name}`);
      }
      checkSchema(`${where}: args`, notification.args);
      const compiledNotification = { name: notificationName, id: notification.id, args: TypeCompiler.Compile(notification.args) };
      notificationsById.set(notification.id, compiledNotification);
      notificationsByName.set(notificationName, compiledNotification);
    }
  }

  if (definition.errors !== undefined) {
    if (!Array.isArray(definition.errors)) throw new InvalidArgumentError(`interface ${name}: errors must be an array of error classes`);
    for (const declared of definition.errors) registerErrorClass(declared);
  }

  const result: CompiledInterface = { name, definition, operationsById, operationsByName, notificationsById, notificationsByName };
  compiled.set(definition, result);
  return result;
}

/** Returns undefined if `value` matches, else a one-line description of the first mismatch. */
export function explainMismatch(check: TypeCheck<TSchema>, value: unknown): string | undefined {
  if (check.Check(value)) return undefined;
  try {
    const first = check.Errors(value).First();
    return first ? `${first.path || '/'}: ${first.message}` : 'does not match the schema';
  } catch {
    return 'does not match the schema';
  }
}

function checkMemberName(where: string, memberName: string): void {
  if (memberName.length === 0 || FORBIDDEN_NAMES.has(memberName)) throw new InvalidArgumentError(`${where}: name is reserved`);
}

function checkId(where: string, id: unknown): void {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fff_ffff) {
    throw new InvalidArgumentError(`${where}: id must be an integer from 0 to 2^31-1, got ${String(id)}`);
  }
}

function checkSchema(where: string, schema: unknown): void {
  if (!KindGuard.IsSchema(schema)) throw new InvalidArgumentError(`${where} must be a TypeBox schema`);
}
