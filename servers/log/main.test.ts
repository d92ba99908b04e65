import { afterEach, describe, expect, it } from 'vitest';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import { Ring } from '../../ipc/ring.js';
import { decodeFrame, encodeCall, encodeSend, FRAME_ERROR, parseResponse } from '../../ipc/wire.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const record = (msg: string, level = 30, fields?: Record<string, unknown>) =>
  ({ time: 1234.5, level, server: 'tester', generation: 3, msg, ...(fields ? { fields } : {}) });

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

/** Reads the ERROR replies the server wrote to a hand-driven channel's reply ring, until `count` arrived. */
async function errorReplies(replies: Ring, count: number): Promise<Map<number, { code: string; message: string }>> {
  const found = new Map<number, { code: string; message: string }>();
  const deadline = Date.now() + 20_000;
  while (found.size < count) {
    const frame = replies.tryRead();
    if (!frame) {
      if (Date.now() > deadline) throw new Error(`only ${found.size} of ${count} error replies arrived: ${JSON.stringify([...found])}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    const decoded = decodeFrame(frame);
    if ('error' in decoded) throw new Error(`the server wrote an undecodable reply: ${decoded.error}`);
    const response = parseResponse(decoded.value);
    if (response.kind !== FRAME_ERROR) throw new Error(`expected ERROR frames only, got ${JSON.stringify(decoded.value)}`);
    found.set(response.callId, response.error);
  }
  return found;
}

describe('log server', () => {
  it('log.read returns written records as lines with level, server and generation', async () => {
    const { harness } = await startLog();
    const log = harness.client(logInterface);
    log.write({ records: [record('first'), record('second', 40, { sector: 7 })] });
    const { lines } = await log.read({});
    const mine = lines.filter((line) => line.includes('tester#3'));
    expect(mine).toEqual(['[    1.234500] info  tester#3: first', '[    1.234500] warn  tester#3: second {"sector":7}']);
  });

  it('log.read with a count returns only the last records', async () => {
    const { harness } = await startLog();
    const log = harness.client(logInterface);
    log.write({ records: ['a', 'b', 'c'].map((msg) => record(msg)) });
    const { lines } = await log.read({ count: 2 });
    expect(lines.map((line) => line.split(': ')[1])).toEqual(['b', 'c']);
  });

  it('log server writes every record to the log device as a pino line: level, epoch time, msg, fields as properties', async () => {
    const file: Uint8Array[] = [];
    const { harness, wrote } = await startLog(file);
    harness.client(logInterface).write({ records: [record('to the file', 40, { capacity: 5, nested: { a: [1, 2] } })] });
    await wrote;
    const text = file.map((chunk) => new TextDecoder().decode(chunk)).join('');
    const entries = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const mine = entries.find((entry) => entry.msg === 'to the file');
    expect(mine).toMatchObject({ level: 40, uptimeMs: 1234.5, server: 'tester', generation: 3, capacity: 5, nested: { a: [1, 2] } });
    // 1234.5 ms after the harness's board powered on, which was moments ago: an epoch time within the last hour.
    expect(Number.isInteger(mine!.time)).toBe(true);
    expect(Math.abs((mine!.time as number) - Date.now())).toBeLessThan(3_600_000);
    expect(entries.every((entry) => !('message' in entry) && !('fields' in entry))).toBe(true);
  });

  it('log.follow sends records at or above the level as notifications', async () => {
    const { harness } = await startLog();
    const seen: string[] = [];
    let arrived: () => void = () => undefined;
    const warning = new Promise<void>((resolve) => (arrived = resolve));
    harness.endpoint.onNotification(logInterface, 'record', ({ record: followed }) => {
      seen.push(followed.msg);
      if (followed.msg === 'warned') arrived();
    });
    const log = harness.client(logInterface);
    await log.follow({ minimumLevel: 40 });
    log.write({ records: [record('quiet', 30), record('warned', 40, { disk: 'virtio-blk' })] });
    await warning;
    expect(seen).toEqual(['warned']);
  });

  it('log server answers malformed frames with a typed error on the reply ring and keeps serving', async () => {
    const { harness } = await startLog();
    const channel = harness.connectToServer('log');
    const requests = new Ring(channel.requests);
    const frames = [
      new Uint8Array([0xc1]), // not msgpack: no call id to answer
      new Uint8Array([0x93, 1, 2, 3]), // [1, 2, 3]: a CALL (call id 2) with three elements
      new Uint8Array(encodeCall(7, 2, { count: 0 })), // read with a count below its minimum
      new Uint8Array(encodeCall(8, 99, {})), // an op log does not have
      new Uint8Array(encodeSend(1, { records: [{ msg: 'no level' }] })), // a write that does not match LogRecord: no reply, nothing kept
      new Uint8Array(100).fill(0xff),
    ];
    for (const frame of frames) expect(requests.tryWrite(frame)).toBe(true);
    harness.doorbells.ring(channel.serverSlot);
    const replies = await errorReplies(new Ring(channel.replies), 3);
    expect(replies.get(2)).toMatchObject({ code: 'MALFORMED_MESSAGE' });
    expect(replies.get(7)).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(replies.get(7)!.message).toContain('count');
    expect(replies.get(8)).toMatchObject({ code: 'UNKNOWN_OPERATION' });
    const { lines } = await harness.client(logInterface).read({});
    expect(lines.some((line) => line.includes('no level'))).toBe(false);
    expect(lines.some((line) => line.includes('log ring ready'))).toBe(true);
    expect(harness.crashes).toEqual([]);
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
