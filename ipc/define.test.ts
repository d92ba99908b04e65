import { describe, it, expect, expectTypeOf } from 'vitest';
import { Type } from './typebox.js';
import { compileInterface, defineInterface, explainMismatch, type ClientOf, type HandlersOf } from './define.js';
import { InvalidArgumentError } from './errors.js';

const sample = defineInterface({
  name: 'test.sample',
  ops: {
    read: { id: 1, kind: 'call', idempotent: true, args: Type.Object({ sector: Type.Integer() }), reply: Type.Uint8Array() },
    flush: { id: 2, kind: 'call', args: Type.Object({}) },
    log: { id: 3, kind: 'send', args: Type.Object({ line: Type.String() }) },
  },
  notifications: { changed: { id: 1, args: Type.Object({ sector: Type.Integer() }) } },
});

describe('defineInterface', () => {
  it('defineInterface returns the definition and indexes it by id and name', () => {
    const compiled = compileInterface(sample);
    expect(compiled.name).toBe('test.sample');
    expect(compiled.operationsById.get(1)?.name).toBe('read');
    expect(compiled.operationsByName.get('log')?.kind).toBe('send');
    expect(compiled.operationsByName.get('read')?.idempotent).toBe(true);
    expect(compiled.operationsByName.get('flush')?.idempotent).toBe(false);
    expect(compiled.notificationsByName.get('changed')?.id).toBe(1);
  });

  it('defineInterface rejects duplicate operation ids', () => {
    expect(() => defineInterface({
      name: 'test.bad',
      ops: { a: { id: 1, kind: 'call', args: Type.Object({}) }, b: { id: 1, kind: 'send', args: Type.Object({}) } },
    })).toThrow(/id 1 already used by a/);
  });

  it('defineInterface rejects duplicate notification ids', () => {
    expect(() => defineInterface({
      name: 'test.bad',
      ops: {},
      notifications: { a: { id: 2, args: Type.Object({}) }, b: { id: 2, args: Type.Object({}) } },
    })).toThrow(InvalidArgumentError);
  });

  it('defineInterface rejects ids that are negative, fractional or too large', () => {
    for (const id of [-1, 1.5, 2 ** 31]) {
      expect(() => defineInterface({ name: 'test.bad', ops: { a: { id, kind: 'call', args: Type.Object({}) } } })).toThrow(InvalidArgumentError);
    }
  });

  it('defineInterface rejects a send with a reply, an unknown kind, and a non-schema', () => {
    expect(() => defineInterface({ name: 'test.bad', ops: { a: { id: 1, kind: 'send', args: Type.Object({}), reply: Type.String() } } }))
      .toThrow(/a send has no reply/);
    expect(() => defineInterface({ name: 'test.bad', ops: { a: { id: 1, kind: 'cast' as 'call', args: Type.Object({}) } } }))
      .toThrow(InvalidArgumentError);
    expect(() => defineInterface({ name: 'test.bad', ops: { a: { id: 1, kind: 'call', args: { type: 'object' } as never } } }))
      .toThrow(/TypeBox schema/);
  });

  it('defineInterface rejects an empty name and reserved member names such as then', () => {
    expect(() => defineInterface({ name: '', ops: {} })).toThrow(InvalidArgumentError);
    expect(() => defineInterface({ name: 'test.bad', ops: { then: { id: 1, kind: 'call', args: Type.Object({}) } } })).toThrow(/reserved/);
  });

  it('explainMismatch names the path of the first mismatch, or returns undefined', () => {
    const check = compileInterface(sample).operationsByName.get('read')!.args;
    expect(explainMismatch(check, { sector: 3 })).toBeUndefined();
    expect(explainMismatch(check, { sector: 'three' })).toMatch(/^\/sector: /);
  });

  it('ClientOf and HandlersOf derive argument and reply types from the schemas', () => {
    type Client = ClientOf<typeof sample>;
    type Handlers = HandlersOf<typeof sample>;
    expectTypeOf<Client['read']>().parameter(0).toEqualTypeOf<{ sector: number }>();
    expectTypeOf<Client['read']>().returns.resolves.toEqualTypeOf<Uint8Array>();
    expectTypeOf<Client['flush']>().returns.resolves.toEqualTypeOf<void>();
    expectTypeOf<Client['log']>().returns.toEqualTypeOf<void>();
    expectTypeOf<NonNullable<Handlers['read']>>().parameter(0).toEqualTypeOf<{ sector: number }>();
    expectTypeOf<NonNullable<Handlers['read']>>().returns.toEqualTypeOf<Uint8Array | Promise<Uint8Array>>();
  });
});

describe('defineInterface errors', () => {
  it('registers the error classes an interface declares, so they re-create by code', async () => {
    const { errorClass, errorFromWire } = await import('./errors.js');
    class TooLongError extends errorClass('TEST_DECLARED_TOO_LONG') {}
    expect(errorFromWire({ code: 'TEST_DECLARED_TOO_LONG', message: 'm' })).not.toBeInstanceOf(TooLongError);
    defineInterface({ name: 'declared-errors', ops: { echo: { id: 1, kind: 'call', args: Type.Object({}), errors: ['TEST_DECLARED_TOO_LONG'] } }, errors: [TooLongError] });
    expect(errorFromWire({ code: 'TEST_DECLARED_TOO_LONG', message: 'm' })).toBeInstanceOf(TooLongError);
  });

  it('refuses an errors entry that is not an error class', () => {
    expect(() => defineInterface({ name: 'bad-errors', ops: {}, errors: [{} as never] })).toThrow(/static code/);
  });
});
