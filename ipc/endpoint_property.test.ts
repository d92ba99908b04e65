// Distrust of the sender, checked with random input: a raw client writes arbitrary bytes and
// arbitrary msgpack shapes into a server's requests ring. Every such frame must get an error
// reply (when a call id can be recovered) or be dropped, and a valid call right after it must
// still succeed. The server Endpoint runs in this thread on its own doorbell slot.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { DoorbellPage } from '../hal/doorbells.js';
import { createChannel } from './channel.js';
import { compileInterface } from './define.js';
import { Endpoint } from './endpoint.js';
import { Ring, RING_HEADER_BYTES } from './ring.js';
import { echoInterface, serveEcho } from './test_fixtures/echo_interface.js';

const CLIENT_SLOT = 1;
const SERVER_SLOT = 2;
const SENTINEL_CALL = 0xffff_fff0;
const compiled = compileInterface(echoInterface);

const doorbells = new DoorbellPage();
const faults: unknown[] = [];
let faultListener: (() => void) | undefined;
const server = new Endpoint({
  doorbells, slot: SERVER_SLOT, name: 'server',
  onFault: (error) => {
    faults.push(error);
    faultListener?.();
  },
});
serveEcho(server, 1);
const channel = createChannel({ id: 1, interfaceName: echoInterface.name, clientSlot: CLIENT_SLOT, serverSlot: SERVER_SLOT, serverGeneration: 1 });
const requests = new Ring(channel.requests);
const replies = new Ring(channel.replies);

beforeAll(() => {
  server.attachServer(channel, 'fuzzer');
  server.start();
});

afterAll(async () => {
  await server.stop();
});

/** True if the server would accept `value` as a request (so it is not garbage). */
function isValidRequest(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  const [kind, first, second, third] = value as unknown[];
  if (kind === 1 && value.length === 4) {
    const operation = compiled.operationsById.get(second as number);
    return Number.isInteger(first) && (first as number) >= 1 && (first as number) <= 0xffff_ffff && operation?.kind === 'call' && operation.args.Check(third);
  }
  if (kind === 2 && value.length === 3) {
    const operation = compiled.operationsById.get(first as number);
    return operation?.kind === 'send' && operation.args.Check(second);
  }
  return false;
}

/** The call id the server can recover from `value`, if any. */
function recoverableCallId(value: unknown): number | undefined {
  if (!Array.isArray(value) || value[0] !== 1) return undefined;
  const id = value[1] as unknown;
  return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 0xffff_ffff ? id : undefined;
}

function decodes(frame: Uint8Array): { value: unknown } | undefined {
  try {
    return { value: unpack(frame) };
  } catch {
    return undefined;
  }
}

/** Writes `frames` then a valid sentinel call; returns every reply up to the sentinel's. */
async function exchange(frames: readonly Uint8Array[]): Promise<unknown[][]> {
  for (const frame of frames) expect(requests.tryWrite(frame)).toBe(true);
  expect(requests.tryWrite(pack([1, SENTINEL_CALL, compiled.operationsByName.get('echo')!.id, { text: 'still serving' }]))).toBe(true);
  doorbells.ring(SERVER_SLOT);
  const received: unknown[][] = [];
  for (;;) {
    const seen = doorbells.sequence(CLIENT_SLOT);
    for (let frame = replies.tryRead(); frame; frame = replies.tryRead()) {
      const reply = unpack(frame) as unknown[];
      if (reply[1] === SENTINEL_CALL) return [...received, reply];
      received.push(reply);
    }
    await doorbells.waitAsync(CLIENT_SLOT, seen, { spins: 0 });
  }
}

async function checkGarbage(frames: readonly Uint8Array[]): Promise<void> {
  const recoverable = new Set<number>();
  for (const frame of frames) {
    const decoded = decodes(frame);
    const id = decoded && recoverableCallId(decoded.value);
    if (id !== undefined) recoverable.add(id);
  }
  const received = await exchange(frames);
  const sentinel = received.pop();
  expect(sentinel).toEqual([3, SENTINEL_CALL, 'still serving']);
  for (const reply of received) {
    expect(reply[0]).toBe(4); // ERROR, never a success for garbage
    expect(recoverable.has(reply[1] as number)).toBe(true);
    expect(['MALFORMED_MESSAGE', 'UNKNOWN_OPERATION', 'INVALID_ARGUMENT']).toContain(reply[2]);
  }
  expect(received.length).toBeLessThanOrEqual(frames.length);
  expect(faults).toEqual([]);
}

const notSentinel = (value: unknown) => recoverableCallId(value) !== SENTINEL_CALL;

/** Arbitrary msgpack values, and values shaped almost like requests. */
const wrongShapes = fc.oneof(
  fc.anything(),
  fc.tuple(fc.constantFrom(1, 2), fc.anything(), fc.anything(), fc.anything()),
  fc.tuple(fc.constant(1), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: -2, max: 20 }), fc.anything()),
  fc.tuple(fc.constant(2), fc.integer({ min: -2, max: 20 }), fc.anything()),
  fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(null)), { maxLength: 6 }),
).filter((value) => !isValidRequest(value) && notSentinel(value));

describe('Endpoint with hostile input', () => {
  it('Endpoint answers or drops random bytes and keeps serving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), async (frames) => {
        fc.pre(frames.every((frame) => {
          const decoded = decodes(frame);
          return !decoded || (!isValidRequest(decoded.value) && notSentinel(decoded.value));
        }));
        await checkGarbage(frames);
      }),
      { numRuns: 200 },
    );
  });

  it('Endpoint answers or drops msgpack values of the wrong shape and keeps serving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(wrongShapes, { maxLength: 8 }), async (values) => {
        await checkGarbage(values.map((value) => pack(value)));
      }),
      { numRuns: 300 },
    );
  });

  it('Endpoint answers each recoverable bad call with its own call id', async () => {
    const received = await exchange([
      pack([1, 11, 999, {}]),
      pack([1, 12, compiled.operationsByName.get('echo')!.id, { text: 5 }]),
      pack([1, 13, compiled.operationsByName.get('record')!.id, { line: 'x' }]),
      pack([1, 14, 1]),
    ]);
    expect(received.slice(0, 4).map((reply) => [reply[1], reply[2]])).toEqual([
      [11, 'UNKNOWN_OPERATION'], [12, 'INVALID_ARGUMENT'], [13, 'UNKNOWN_OPERATION'], [14, 'MALFORMED_MESSAGE'],
    ]);
  });

  it('Endpoint resynchronises after its producer scribbles on the ring header', async () => {
    const header = new Uint32Array(requests.buffer, 0, RING_HEADER_BYTES / 4);
    const faulted = new Promise<void>((resolve) => {
      faultListener = resolve;
    });
    Atomics.store(header, 0, (Atomics.load(header, 16) + 0x10_0000) >>> 0); // head far past the tail
    doorbells.ring(SERVER_SLOT);
    await faulted;
    faultListener = undefined;
    const received = await exchange([]);
    expect(received.at(-1)).toEqual([3, SENTINEL_CALL, 'still serving']);
    expect(faults).toHaveLength(1);
    faults.length = 0;
  });
});
