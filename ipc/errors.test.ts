import { describe, it, expect } from 'vitest';
import { pack, unpack } from 'msgpackr';
import {
  CallTimeoutError, errorFromWire, errorToWire, InvalidArgumentError, IpcError, MalformedMessageError, MessageTooLargeError,
  NotSupportedError, PeerRestartedError, PeerStoppedError, PermissionDeniedError, registerError, ServerFaultError, UnknownOperationError,
} from './errors.js';

/** Sends an error through the wire form and msgpack, as a server → client reply does. */
function roundTrip(error: unknown): IpcError {
  return errorFromWire(unpack(pack(errorToWire(error))));
}

describe('errors', () => {
  it('errorFromWire re-creates every built-in error class with its code, message and data', () => {
    const cases: [IpcError, string][] = [
      [new PeerRestartedError('restarted', { generation: 3 }), 'PEER_RESTARTED'],
      [new PeerStoppedError('stopped'), 'PEER_STOPPED'],
      [new PermissionDeniedError('no'), 'PERMISSION_DENIED'],
      [new MalformedMessageError('bad'), 'MALFORMED_MESSAGE'],
      [new MessageTooLargeError('big', { bytes: 10, maxBytes: 5 }), 'MESSAGE_TOO_LARGE'],
      [new UnknownOperationError('what'), 'UNKNOWN_OPERATION'],
      [new NotSupportedError('later'), 'NOT_SUPPORTED'],
      [new CallTimeoutError('slow', { timeoutMs: 5 }), 'TIMEOUT'],
      [new InvalidArgumentError('wrong'), 'INVALID_ARGUMENT'],
      [new ServerFaultError('oops'), 'SERVER_FAULT'],
    ];
    for (const [error, code] of cases) {
      const copy = roundTrip(error);
      expect(copy).toBeInstanceOf(error.constructor);
      expect(copy).toBeInstanceOf(IpcError);
      expect(copy.code).toBe(code);
      expect(copy.message).toBe(error.message);
      expect(copy.data).toEqual(error.data);
      expect(copy.name).toBe(error.constructor.name);
    }
  });

  it('PeerRestartedError.generation reads the generation from its data', () => {
    expect((roundTrip(new PeerRestartedError('r', { generation: 7 })) as PeerRestartedError).generation).toBe(7);
  });

  it('errorToWire turns anything that is not an IpcError into SERVER_FAULT', () => {
    expect(errorToWire(new TypeError('x is undefined'))).toEqual({ code: 'SERVER_FAULT', message: 'TypeError: x is undefined' });
    expect(errorToWire('a string').code).toBe('SERVER_FAULT');
    expect(errorToWire(undefined).code).toBe('SERVER_FAULT');
    expect(roundTrip(new RangeError('r'))).toBeInstanceOf(ServerFaultError);
  });

  it('registerError makes a custom code re-hydrate as its own class', () => {
    class NotFoundError extends IpcError {
      constructor(message: string, data?: unknown) {
        super('TEST_NOT_FOUND', message, data);
      }
    }
    registerError('TEST_NOT_FOUND', (message, data) => new NotFoundError(message, data));
    const copy = roundTrip(new NotFoundError('no such file', { path: '/x' }));
    expect(copy).toBeInstanceOf(NotFoundError);
    expect(copy.data).toEqual({ path: '/x' });
  });

  it('errorFromWire keeps an unregistered code on a plain IpcError', () => {
    const copy = errorFromWire({ code: 'TEST_UNREGISTERED', message: 'm', data: 1 });
    expect(copy.constructor).toBe(IpcError);
    expect(copy.code).toBe('TEST_UNREGISTERED');
    expect(copy.data).toBe(1);
  });

  it('errorFromWire answers MALFORMED_MESSAGE for values that are not wire errors', () => {
    for (const wire of [null, 5, 'x', {}, { code: 5, message: 'm' }, { code: '', message: 'm' }, { code: 'X' }]) {
      expect(errorFromWire(wire)).toBeInstanceOf(MalformedMessageError);
    }
  });

  it('registerError rejects an empty code', () => {
    expect(() => registerError('', (message) => new IpcError('X', message))).toThrow(InvalidArgumentError);
  });
});
