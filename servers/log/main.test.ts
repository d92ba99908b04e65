import { afterEach, describe, expect, it } from 'vitest';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import { createChannel } from '../../ipc/channel.js';
import { Ring } from '../../ipc/ring.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const record = (message: string, level = 30) => ({ time: 1234.5, level, server: 'tester', generation: 3, message });

async function startLog(fileBytes: Uint8Array[] = []) {
  let written: () => void = () => undefined;
  const wrote = new Promise<void>((resolve) => (written = resolve));
  harness = await ServerHarness.start({
    module: 'servers/log/main',
    name: 'log',
    config: { capacity: 1000, logDevice: 'virtio-console.2' },
    peers: [fakePeer('virtio-console.2', chardevInterface, {
      write: ({ data }) => {
        fileBytes.push(data.slice());
        if (new TextDecoder().decode(data).includes('to the file')) written();
        return { written: data.length };
      },
    })],
  });
  return { harness, wrote };
}

describe('log server', () => {
  it('log.read returns written records as lines with level, server and generation', async () => {
    const { harness } = await startLog();
    const log = harness.client(logInterface);
    log.write({ records: [record('first'), record('second', 40)] });
    const { lines } = await log.read({});
    const mine = lines.filter((line) => line.includes('tester#3'));
    expect(mine).toEqual(['[    1.234500] info  tester#3: first', '[    1.234500] warn  tester#3: second']);
  });

  it('log.read with a count returns only the last records', async () => {
    const { harness } = await startLog();
    const log = harness.client(logInterface);
    log.write({ records: ['a', 'b', 'c'].map((message) => record(message)) });
    const { lines } = await log.read({ count: 2 });
    expect(lines.map((line) => line.split(': ')[1])).toEqual(['b', 'c']);
  });

  it('log server writes every record as a JSON line to the log device', async () => {
    const file: Uint8Array[] = [];
    const { harness, wrote } = await startLog(file);
    harness.client(logInterface).write({ records: [record('to the file')] });
    await wrote;
    await harness.client(logInterface).read({});
    const text = file.map((chunk) => new TextDecoder().decode(chunk)).join('');
    const entries = text.trim().split('\n').map((line) => JSON.parse(line) as { message: string });
    expect(entries.map((entry) => entry.message)).toContain('to the file');
  });

  it('log.follow sends records at or above the level as notifications', async () => {
    const { harness } = await startLog();
    const seen: string[] = [];
    let arrived: () => void = () => undefined;
    const warning = new Promise<void>((resolve) => (arrived = resolve));
    harness.endpoint.onNotification(logInterface, 'record', ({ line }) => {
      seen.push(line);
      if (line.includes('warned')) arrived();
    });
    const log = harness.client(logInterface);
    await log.follow({ minimumLevel: 40 });
    log.write({ records: [record('quiet', 30), record('warned', 40)] });
    await warning;
    expect(seen.some((line) => line.includes('quiet'))).toBe(false);
  });

  it('log server answers malformed frames with an error and keeps serving', async () => {
    const { harness } = await startLog();
    const channel = harness.connectToServer('log');
    const requests = new Ring(channel.requests);
    for (const garbage of [new Uint8Array([0xc1]), new Uint8Array([0x93, 1, 2, 3]), new Uint8Array(100).fill(0xff)]) {
      requests.tryWrite(garbage);
    }
    harness.doorbells.ring(channel.serverSlot);
    const log = harness.client(logInterface);
    await expect(log.read({ count: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const { lines } = await log.read({});
    expect(Array.isArray(lines)).toBe(true);
    expect(harness.crashes).toEqual([]);
    void createChannel;
  });
});

describe('log server reads', () => {
  it('log.read answers with the newest lines that fit one reply and counts the older ones', async () => {
    const { harness } = await startLog();
    const log = harness.client(logInterface);
    for (let batch = 0; batch < 4; batch++) {
      log.write({ records: Array.from({ length: 100 }, (_, index) => record(`line ${batch * 100 + index} ${'x'.repeat(200)}`)) });
    }
    const { lines, omitted } = await log.read({ count: 400 });
    expect(lines.length + (omitted ?? 0)).toBe(400);
    expect(omitted).toBeGreaterThan(0);
    expect(lines[lines.length - 1]).toContain('line 399 ');
  });
});
