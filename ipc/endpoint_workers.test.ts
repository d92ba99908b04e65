// Endpoint across real threads: the client in this thread, echo servers in worker threads
// (test_fixtures/echo_server.mjs, running the compiled build). The test plays the kernel:
// it creates channels, hands them over by postMessage and closes them on a restart.
import { describe, it, expect, afterEach } from 'vitest';
import { HardwareThread } from '../hal/cpu.js';
import { DoorbellPage } from '../hal/doorbells.js';
import { closeChannel, createChannel, type ChannelDescriptor } from './channel.js';
import { Endpoint } from './endpoint.js';
import { CallTimeoutError, PeerRestartedError, ServerFaultError } from './errors.js';
import { echoInterface } from './test_fixtures/echo_interface.js';

const SERVER_SCRIPT = new URL('./test_fixtures/echo_server.mjs', import.meta.url);
const CLIENT_SLOT = 1;

interface ServerThread {
  readonly worker: HardwareThread;
  readonly slot: number;
  readonly generation: number;
  attach(channel: ChannelDescriptor): Promise<void>;
  stop(): Promise<{ received: number; replied: number; errors: number; sent: number }>;
}

const workers: HardwareThread[] = [];
const endpoints: Endpoint[] = [];

afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((endpoint) => endpoint.stop()));
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

function nextMessage(worker: HardwareThread, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      reject(error);
    };
    const onMessage = (message: unknown) => {
      if ((message as Record<string, unknown>).type !== type) return;
      worker.off('message', onMessage);
      worker.off('error', onError);
      resolve(message as Record<string, unknown>);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
  });
}

async function startServer(doorbells: DoorbellPage, slot: number, generation: number): Promise<ServerThread> {
  const worker = new HardwareThread(SERVER_SCRIPT, { name: `echo-server-${slot}`, data: { doorbells: doorbells.buffer, slot, generation } });
  workers.push(worker);
  await nextMessage(worker, 'ready');
  return {
    worker,
    slot,
    generation,
    async attach(channel) {
      const attached = nextMessage(worker, 'attached');
      worker.post({ type: 'attach', channel, clientName: 'test' });
      await attached;
    },
    async stop() {
      const stopped = nextMessage(worker, 'stopped');
      worker.post({ type: 'stop' });
      return (await stopped).stats as { received: number; replied: number; errors: number; sent: number };
    },
  };
}

function clientEndpoint(doorbells: DoorbellPage): Endpoint {
  const endpoint = new Endpoint({ doorbells, slot: CLIENT_SLOT, name: 'client' });
  endpoints.push(endpoint);
  endpoint.start();
  return endpoint;
}

let nextChannelId = 100;

async function connect(server: ServerThread, capacityBytes?: number): Promise<ChannelDescriptor> {
  const channel = createChannel({
    id: nextChannelId++, interfaceName: echoInterface.name, clientSlot: CLIENT_SLOT,
    serverSlot: server.slot, serverGeneration: server.generation, capacityBytes,
  });
  await server.attach(channel);
  return channel;
}

describe('Endpoint across worker threads', () => {
  it('Endpoint call, send and notification work between this thread and a worker', async () => {
    const doorbells = new DoorbellPage();
    const server = await startServer(doorbells, 2, 1);
    const client = clientEndpoint(doorbells);
    const echo = client.attachClient(await connect(server)).bind(echoInterface);
    const ticks: number[] = [];
    client.onNotification(echoInterface, 'ticked', ({ count }) => ticks.push(count));

    expect(await echo.echo({ text: 'across' })).toBe('across');
    const data = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
    expect(await echo.bytes({ data })).toEqual(data);
    echo.record({ line: 'one' });
    echo.record({ line: 'two' });
    expect(await echo.lines({})).toEqual(['one', 'two']);
    await echo.tick({ count: 4 });
    expect(ticks).toEqual([1, 2, 3, 4]);
    await expect(echo.fail({ code: 'bug' })).rejects.toBeInstanceOf(ServerFaultError);
    expect(await echo.later({ text: 'still serving' })).toBe('still serving');

    const stats = await server.stop();
    expect(stats).toEqual({ received: 8, replied: 6, errors: 1, sent: 4, bulk: 0 });
  });

  it('Endpoint delivers every call when both rings overflow across threads', async () => {
    const doorbells = new DoorbellPage();
    const server = await startServer(doorbells, 2, 1);
    const client = clientEndpoint(doorbells);
    const echo = client.attachClient(await connect(server, 512)).bind(echoInterface);
    const texts = Array.from({ length: 2000 }, (_, i) => `call ${i} ${'y'.repeat(i % 64)}`);
    expect(await Promise.all(texts.map((text) => echo.echo({ text })))).toEqual(texts);
  });

  it('Endpoint call times out against a worker that never replies, and later calls still work', async () => {
    const doorbells = new DoorbellPage();
    const server = await startServer(doorbells, 2, 1);
    const client = clientEndpoint(doorbells);
    const echo = client.attachClient(await connect(server)).bind(echoInterface);
    await expect(echo.stall({}, { timeoutMs: 30 })).rejects.toBeInstanceOf(CallTimeoutError);
    expect(await echo.echo({ text: 'after timeout' })).toBe('after timeout');
  });

  it('Endpoint.client retries idempotent calls on a restarted worker and rejects the others with the new generation', async () => {
    const doorbells = new DoorbellPage();
    let current = await startServer(doorbells, 2, 1);
    const client = clientEndpoint(doorbells);
    const channels: ChannelDescriptor[] = [];
    const echo = client.client(echoInterface, {
      connect: async () => {
        channels.push(await connect(current));
        return channels.at(-1)!;
      },
      reconnect: async (previous) => {
        expect(previous).toBe(channels.at(-1));
        channels.push(await connect(current));
        return channels.at(-1)!;
      },
    });
    expect(await echo.generation({})).toBe(1);
    const idempotent = echo.hangIdempotent({});
    const once = echo.hangOnce({}).catch((caught: unknown) => caught);

    // The kernel's restart: the old thread dies, a new generation starts, the channel closes.
    await current.worker.terminate();
    current = await startServer(doorbells, 3, 2);
    closeChannel(channels[0]!, 'peer-restarted', 2, doorbells);

    expect(await idempotent).toBe(2);
    const error = await once;
    expect(error).toBeInstanceOf(PeerRestartedError);
    expect((error as PeerRestartedError).generation).toBe(2);
    expect(await echo.echo({ text: 'new generation' })).toBe('new generation');
    expect(channels).toHaveLength(2);
  });
});
