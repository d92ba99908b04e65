// Endpoint behaviour with client and server Endpoints in the same thread (each on its own
// doorbell slot). endpoint_workers.test.ts repeats the essentials across real threads.
import { describe, it, expect, expectTypeOf, afterEach } from 'vitest';
import { DoorbellPage } from '../hal/doorbells.js';
import { closeChannel, createChannel, type ChannelDescriptor } from './channel.js';
import { Endpoint } from './endpoint.js';
import {
  CallTimeoutError, EndpointStoppedError, InvalidArgumentError, IpcError, MessageTooLargeError, NotSupportedError,
  PeerRestartedError, PeerStoppedError, PermissionDeniedError, registerError, ServerFaultError,
} from './errors.js';
import { echoInterface, serveEcho } from './test_fixtures/echo_interface.js';

const started: Endpoint[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((endpoint) => endpoint.stop()));
});

function endpoint(doorbells: DoorbellPage, slot: number, name: string, faults: unknown[] = [], start = true): Endpoint {
  const created = new Endpoint({ doorbells, slot, name, onFault: (error) => faults.push(error) });
  started.push(created);
  if (start) created.start();
  return created;
}

function pair(capacityBytes?: number, startClient = true) {
  const doorbells = new DoorbellPage();
  const faults: unknown[] = [];
  const server = endpoint(doorbells, 2, 'server', faults);
  serveEcho(server, 1);
  const client = endpoint(doorbells, 1, 'client', faults, startClient);
  const channel = createChannel({ id: 1, interfaceName: echoInterface.name, clientSlot: 1, serverSlot: 2, serverGeneration: 1, capacityBytes });
  server.attachServer(channel, 'tester');
  const clientChannel = client.attachClient(channel);
  return { doorbells, server, client, channel, clientChannel, echo: clientChannel.bind(echoInterface), faults };
}

describe('Endpoint', () => {
  it('Endpoint call resolves with the reply of the server handler', async () => {
    const { echo } = pair();
    expect(await echo.echo({ text: 'hello' })).toBe('hello');
    expect(await echo.add({ a: 2, b: 40 })).toBe(42);
    expect(await echo.bytes({ data: new Uint8Array([1, 2, 3]) })).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('Endpoint counts the frames that had to wake a parked peer, and its waits', async () => {
    const { client, server, echo } = pair();
    // The server parked as soon as it started (it had nothing to do), so the first call wakes it.
    expect(client.waitStats.peersWoken).toBe(0);
    expect(await echo.echo({ text: 'wake up' })).toBe('wake up');
    expect(client.waitStats.peersWoken).toBeGreaterThanOrEqual(1);
    expect(server.waitStats.parks).toBeGreaterThanOrEqual(1);
    const waits = client.waitStats;
    expect(waits.spinHits + waits.spinsExpired + waits.parks).toBeGreaterThan(0);
  });

  it('Endpoint call by name on a ClientChannel reaches the same handlers', async () => {
    const { clientChannel } = pair();
    expect(await clientChannel.call(echoInterface, 'echo', { text: 'by name' })).toBe('by name');
  });

  it('Endpoint send delivers one-way messages in order, before a later call', async () => {
    const { echo } = pair();
    echo.record({ line: 'a' });
    echo.record({ line: 'b' });
    echo.record({ line: 'c' });
    expect(await echo.lines({})).toEqual(['a', 'b', 'c']);
  });

  it('Endpoint notify reaches onNotification handlers before the reply that follows', async () => {
    const { client, server, echo } = pair();
    const seen: number[] = [];
    client.onNotification(echoInterface, 'ticked', ({ count }) => seen.push(count));
    await echo.tick({ count: 3 });
    expect(seen).toEqual([1, 2, 3]);
    // Never called, only compiled (tsc -p tsconfig.test.json): a handler of another payload type is refused.
    const wrongPayload = () => {
      // @ts-expect-error ticked carries { count: number }
      client.onNotification(echoInterface, 'ticked', (args: { count: string }) => args.count);
      // @ts-expect-error ticked carries { count: number }
      server.notify(1, echoInterface, 'ticked', { count: 'one' });
    };
    expectTypeOf(wrongPayload).toBeFunction();
  });

  it('Endpoint call rejects with the IpcError the handler threw, code and data intact', async () => {
    const { echo } = pair();
    const denied = await echo.fail({ code: 'PERMISSION_DENIED' }).catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    class QuotaError extends IpcError {}
    registerError('TEST_QUOTA', (message, data) => new QuotaError('TEST_QUOTA', message, data));
    const quota = await echo.fail({ code: 'TEST_QUOTA', data: { left: 0 } }).catch((error: unknown) => error);
    expect(quota).toBeInstanceOf(QuotaError);
    expect((quota as IpcError).data).toEqual({ left: 0 });
  });

  it('Endpoint call rejects with SERVER_FAULT when a handler throws a non-IpcError, and the server keeps serving', async () => {
    const { echo, faults } = pair();
    await expect(echo.fail({ code: 'bug' })).rejects.toBeInstanceOf(ServerFaultError);
    expect(faults).toHaveLength(1);
    expect(await echo.echo({ text: 'still here' })).toBe('still here');
  });

  it('Endpoint call rejects with NOT_SUPPORTED for an operation without a handler', async () => {
    const { echo } = pair();
    await expect(echo.unsupported({})).rejects.toBeInstanceOf(NotSupportedError);
  });

  it('Endpoint call rejects with SERVER_FAULT when the handler reply does not match the reply schema', async () => {
    const { echo } = pair();
    await expect(echo.badReply({})).rejects.toBeInstanceOf(ServerFaultError);
  });

  it('Endpoint call rejects with INVALID_ARGUMENT before sending arguments that do not match the schema', async () => {
    const { echo, client } = pair();
    await expect(echo.echo({ text: 5 } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => echo.record({ line: null } as never)).toThrow(InvalidArgumentError);
    expect(client.stats.sent).toBe(0);
  });

  it('Endpoint call rejects with TIMEOUT when no reply arrives within timeoutMs', async () => {
    const { echo, client } = pair();
    const error = await echo.stall({}, { timeoutMs: 20 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as CallTimeoutError).data).toEqual({ timeoutMs: 20 });
    expect(client.pendingCalls).toBe(0);
  });

  it('Endpoint call rejects with MESSAGE_TOO_LARGE for a request larger than the ring', async () => {
    const { echo, client } = pair(1024);
    await expect(echo.bytes({ data: new Uint8Array(2000) })).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(client.stats.sent).toBe(0);
    expect(await echo.echo({ text: 'fine' })).toBe('fine');
  });

  it('Endpoint answers MESSAGE_TOO_LARGE when a reply is larger than the ring', async () => {
    const { echo } = pair(1024);
    await expect(echo.grow({ size: 2000 })).rejects.toBeInstanceOf(MessageTooLargeError);
    expect((await echo.grow({ size: 100 })).length).toBe(100);
  });

  it('Endpoint queues frames while a ring is full and delivers every one, in order', async () => {
    const { echo, client } = pair(1024);
    for (let i = 0; i < 50; i++) echo.record({ line: `line ${i}` });
    const texts = Array.from({ length: 200 }, (_, i) => `message ${i} ${'x'.repeat(i % 40)}`);
    const replies = await Promise.all(texts.map((text) => echo.echo({ text })));
    expect(replies).toEqual(texts);
    expect(await echo.lines({})).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}`));
    expect(client.stats.sent).toBe(251);
  });

  it('Endpoint replies to handlers that settle in a later macrotask', async () => {
    const { echo } = pair();
    expect(await Promise.all([echo.later({ text: 'x' }), echo.echo({ text: 'y' })])).toEqual(['x', 'y']);
  });

  it('Endpoint.stop rejects pending calls with ENDPOINT_STOPPED', async () => {
    const { echo, client } = pair();
    const pending = echo.stall({});
    await client.stop();
    await expect(pending).rejects.toBeInstanceOf(EndpointStoppedError);
    expect(client.isRunning).toBe(false);
  });

  it('Endpoint rejects pending and later calls once the kernel closes the channel', async () => {
    const { echo, channel, doorbells } = pair();
    const pending = echo.stall({});
    closeChannel(channel, 'peer-stopped', 1, doorbells);
    await expect(pending).rejects.toBeInstanceOf(PeerStoppedError);
    await expect(echo.echo({ text: 'x' })).rejects.toBeInstanceOf(PeerStoppedError);
  });

  it('Endpoint rejects calls with PERMISSION_DENIED after the kernel revokes the channel', async () => {
    const { echo, channel, doorbells } = pair();
    const pending = echo.stall({});
    closeChannel(channel, 'revoked', 1, doorbells);
    await expect(pending).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('Endpoint delivers replies already in the ring before failing calls of a closed channel', async () => {
    // The client's loop is not running: the replies wait in the ring while the channel closes.
    const { echo, channel, doorbells, server, client } = pair(undefined, false);
    const calls = [echo.echo({ text: 'a' }), echo.echo({ text: 'b' })];
    for (let seen = doorbells.sequence(1); server.stats.replied < 2; seen = doorbells.sequence(1)) {
      if (server.stats.replied < 2) await doorbells.waitAsync(1, seen, { spins: 0 });
    }
    closeChannel(channel, 'peer-stopped', 1, doorbells);
    client.start();
    expect(await Promise.all(calls)).toEqual(['a', 'b']);
  });

  it('Endpoint.attachServer throws NotSupportedError for an interface this thread does not serve', () => {
    const doorbells = new DoorbellPage();
    const server = endpoint(doorbells, 2, 'server');
    const channel = createChannel({ id: 9, interfaceName: 'test.other', clientSlot: 1, serverSlot: 2, serverGeneration: 1 });
    expect(() => server.attachServer(channel)).toThrow(NotSupportedError);
  });

  it('Endpoint.serve rejects a handler for an operation the interface lacks', () => {
    const doorbells = new DoorbellPage();
    const server = new Endpoint({ doorbells, slot: 2, name: 'server' });
    expect(() => server.serve(echoInterface, { nonsense: () => 1 } as never)).toThrow(InvalidArgumentError);
  });

  it('Endpoint.onWake runs its source when the doorbell rings', async () => {
    const doorbells = new DoorbellPage();
    const target = endpoint(doorbells, 5, 'target');
    let flag = 0;
    await new Promise<void>((resolve) => {
      target.onWake(() => {
        if (flag === 1) resolve();
      });
      flag = 1;
      doorbells.ring(5);
    });
    expect(flag).toBe(1);
  });

  it('Endpoint stats count frames received, replied, sent and errors', async () => {
    const { echo, client, server } = pair();
    await echo.echo({ text: 'a' });
    await echo.unsupported({}).catch(() => {});
    expect(client.stats).toMatchObject({ sent: 2, received: 2 });
    expect(server.stats).toMatchObject({ received: 2, replied: 2, errors: 1 });
  });
});

describe('Endpoint.client', () => {
  /** Two server generations in this thread and a connector that plays the kernel. */
  function restartable() {
    const doorbells = new DoorbellPage();
    const generations = [1, 2].map((generation) => {
      const server = endpoint(doorbells, generation + 1, `server-${generation}`);
      serveEcho(server, generation);
      return { server, slot: generation + 1, generation };
    });
    const client = endpoint(doorbells, 1, 'client');
    let current = generations[0]!;
    const channels: ChannelDescriptor[] = [];
    const reconnects: number[] = [];
    const open = async (): Promise<ChannelDescriptor> => {
      const descriptor = createChannel({
        id: channels.length + 1, interfaceName: echoInterface.name, clientSlot: 1, serverSlot: current.slot, serverGeneration: current.generation,
      });
      current.server.attachServer(descriptor);
      channels.push(descriptor);
      return descriptor;
    };
    const echo = client.client(echoInterface, {
      connect: open,
      reconnect: async (previous) => {
        reconnects.push(previous.id);
        return open();
      },
    });
    const restart = async () => {
      await generations[0]!.server.stop();
      current = generations[1]!;
      closeChannel(channels[0]!, 'peer-restarted', 2, doorbells);
    };
    return { echo, channels, reconnects, restart };
  }

  it('Endpoint.client connects lazily on the first call, once for concurrent calls', async () => {
    const { echo, channels } = restartable();
    expect(channels).toHaveLength(0);
    expect(await Promise.all([echo.generation({}), echo.echo({ text: 'x' })])).toEqual([1, 'x']);
    expect(channels).toHaveLength(1);
  });

  it('Endpoint.client retries an idempotent call once on the restarted server via reconnect', async () => {
    const { echo, reconnects, restart } = restartable();
    expect(await echo.generation({})).toBe(1);
    const hanging = echo.hangIdempotent({});
    await restart();
    expect(await hanging).toBe(2);
    expect(reconnects).toEqual([1]);
  });

  it('Endpoint.client rejects a non-idempotent call with PEER_RESTARTED carrying the new generation, then reconnects', async () => {
    const { echo, reconnects, restart } = restartable();
    expect(await echo.generation({})).toBe(1);
    const hanging = echo.hangOnce({});
    await restart();
    const error = await hanging.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PeerRestartedError);
    expect((error as PeerRestartedError).generation).toBe(2);
    expect(await echo.generation({})).toBe(2);
    expect(reconnects).toEqual([1]);
  });

  it('Endpoint.client delivers a send issued before the connection exists', async () => {
    const { echo } = restartable();
    echo.record({ line: 'early' });
    expect(await echo.lines({})).toEqual(['early']);
  });

  it('Endpoint.client rejects the call when the connector fails', async () => {
    const doorbells = new DoorbellPage();
    const client = endpoint(doorbells, 1, 'client');
    const echo = client.client(echoInterface, {
      connect: () => Promise.reject(new PermissionDeniedError('no capability for test.echo')),
      reconnect: () => Promise.reject(new Error('unreachable')),
    });
    await expect(echo.echo({ text: 'x' })).rejects.toBeInstanceOf(PermissionDeniedError);
  });
});
