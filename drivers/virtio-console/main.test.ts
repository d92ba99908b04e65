import { afterEach, describe, expect, it } from 'vitest';
import { VirtioConsole } from '../../hal/virtio/console.js';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import type { ServerHarness } from '../../test/harness/server_harness.js';
import { startDriverWithDevice, type DeviceRig } from '../../test/harness/device_rig.js';

let rig: DeviceRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
  place = { stream: 0, from: 0 };
});

/** The driver alone in a worker, against the real device model in this thread. */
async function startDriver() {
  let output = '';
  const outputWaiters: Array<() => void> = [];
  const model = new VirtioConsole({
    output: (bytes: Uint8Array) => {
      output += new TextDecoder().decode(bytes);
      for (const waiter of outputWaiters.splice(0)) waiter();
    },
  });
  rig = await startDriverWithDevice({ module: 'drivers/virtio-console/main', name: 'virtio-console', backend: model });
  const harness = rig.harness;
  const outputContains = (text: string) => new Promise<void>((resolve) => {
    const check = () => (output.includes(text) ? resolve() : outputWaiters.push(check));
    check();
  });
  return { harness, model, outputContains, output: () => output };
}

/** Where the test's reads go on from in the driver's input stream: each read passes the one before it. */
let place = { stream: 0, from: 0 };

/** Reads the driver's chardev until `predicate` holds for what was read (or the far end hung up), holding each reply before the next read. */
async function readUntil(harness: ServerHarness, predicate: (text: string, ended: boolean) => boolean) {
  const device = harness.client(chardevInterface);
  let text = '';
  let ended = false;
  let last: { data: Uint8Array; ended: boolean; stream: number; at: number; next: number } | undefined;
  while (!predicate(text, ended)) {
    last = await device.read({ maximumBytes: 16384, waitMs: 1000, afterHangup: false, ...place });
    text += new TextDecoder().decode(last.data);
    ended = last.ended;
    place = { stream: last.stream, from: last.next };
  }
  return { text, ended, last: last! };
}

describe('virtio-console driver', () => {
  it('chardev.write reaches the host side of the console', async () => {
    const { harness, outputContains } = await startDriver();
    const console = harness.client(chardevInterface);
    const result = await console.write({ data: new TextEncoder().encode('hello, board\n') });
    expect(result.written).toBe(13);
    await outputContains('hello, board\n');
  });

  it('chardev.write of more than one buffer arrives whole and in order', async () => {
    const { harness, outputContains, output } = await startDriver();
    const text = Array.from({ length: 3000 }, (_, index) => `line ${index}\n`).join('');
    await harness.client(chardevInterface).write({ data: new TextEncoder().encode(text.slice(0, 30000)) });
    await outputContains('line 2999');
    expect(output()).toBe(text.slice(0, 30000));
  });

  it('host input waits in the driver until it is read, typed before the first read too', async () => {
    const { harness, model } = await startDriver();
    model.pushInput(new TextEncoder().encode('early '));
    const first = await readUntil(harness, (text) => text === 'early ');
    expect(first.ended).toBe(false);
    model.pushInput(new TextEncoder().encode('late\n'));
    await readUntil(harness, (text) => text === 'late\n');
  });

  it('end of host input is read as ended, after the last input byte', async () => {
    const { harness, model } = await startDriver();
    model.pushInput(new TextEncoder().encode('shutdown\n'));
    model.endInput();
    const read = await readUntil(harness, (_, ended) => ended);
    expect(read.text).toBe('shutdown\n');
    // A reader that did not know is told again at once (a restarted console learns it too).
    expect((await harness.client(chardevInterface).read({ maximumBytes: 16, waitMs: 5000, afterHangup: false, ...place })).ended).toBe(true);
  });

  it('holds back input beyond its buffer in the device and loses none of it', async () => {
    const { harness, model } = await startDriver();
    const total = 300 * 1024;
    const bytes = new Uint8Array(total).map((_, index) => 0x41 + (index % 26));
    model.pushInput(bytes);
    // The driver takes at most its buffer (plus the receive buffers in flight); the device keeps the rest.
    const first = await readUntil(harness, (text) => text.length > 0);
    expect(model.bufferedInput).toBeGreaterThan(0);
    const rest = await readUntil(harness, (text) => first.text.length + text.length >= total);
    expect(first.text + rest.text).toBe(new TextDecoder().decode(bytes));
    expect(model.bufferedInput).toBe(0);
  });

  it('two clients\' concurrent writes come out whole, one after the other', async () => {
    const { harness, outputContains, output } = await startDriver();
    const first = 'a'.repeat(20000);
    const second = 'b'.repeat(20000);
    const device = harness.client(chardevInterface);
    await Promise.all([device.write({ data: new TextEncoder().encode(first) }), device.write({ data: new TextEncoder().encode(second) })]);
    await outputContains('b'.repeat(20000));
    expect(output()).toBe(first + second);
  });

  it('keeps input until a later read passes it: a reader that lost a reply reads the same bytes again, and none twice once it holds them', async () => {
    const { harness, model } = await startDriver();
    const device = harness.client(chardevInterface);
    model.pushInput(new TextEncoder().encode('ps\n'));
    const { last: first } = await readUntil(harness, (text) => text === 'ps\n');
    // A reader that died before keeping that reply asks from where it was: the same bytes come again.
    const again = await device.read({ maximumBytes: 16, waitMs: 1000, afterHangup: false, stream: first.stream, from: first.at });
    expect(new TextDecoder().decode(again.data)).toBe('ps\n');
    expect(again).toMatchObject({ at: first.at, next: first.next, stream: first.stream });
    // One that kept it goes on from its next: nothing twice, and what came after follows.
    model.pushInput(new TextEncoder().encode('mem\n'));
    const after = await device.read({ maximumBytes: 16, waitMs: 1000, afterHangup: false, stream: again.stream, from: again.next });
    expect(new TextDecoder().decode(after.data)).toBe('mem\n');
    // Passed input is forgotten: a reader of another stream (a console that read an earlier driver generation) starts at what is kept.
    const other = await device.read({ maximumBytes: 16, waitMs: 0, afterHangup: false, stream: (after.stream + 1) >>> 0 || 1, from: 0 });
    expect(new TextDecoder().decode(other.data)).toBe('mem\n');
    expect(other.at).toBe(after.at);
  });

  it('a hangup is one place in the stream: read again until a read passes it, then known as the state of the far end', async () => {
    const { harness, model } = await startDriver();
    const device = harness.client(chardevInterface);
    model.pushInput(new TextEncoder().encode('ps'));
    model.endInput();
    const { text, last } = await readUntil(harness, (_, ended) => ended);
    expect(text).toBe('ps');
    expect(last.next).toBe((last.at + last.data.length + 1) >>> 0);
    const lost = await device.read({ maximumBytes: 16, waitMs: 1000, afterHangup: false, stream: last.stream, from: last.at });
    expect(lost).toMatchObject({ ended: true, at: last.at, next: last.next });
    const passed = await device.read({ maximumBytes: 16, waitMs: 0, afterHangup: true, stream: last.stream, from: last.next });
    expect(passed).toMatchObject({ ended: true, at: last.next, next: last.next });
    expect(passed.data).toHaveLength(0);
  });

  it('queues zeroed under it before any input, so no interrupt would come: its audit finds them, logs the check and ends the generation', async () => {
    const { harness, model } = await startDriver();
    // Zeroed, the receive queue's available index equals what the device last took (0):
    // to the device no buffer is posted, and the input below would wait for ever.
    rig!.ram.fill(rig!.ram.base, rig!.ram.size, 0);
    model.pushInput(new TextEncoder().encode('lost line\n'));
    const record = await harness.logged((entry) => /queue fault \(available-ring-overwritten\)/.test(entry.msg));
    expect(record.msg).toMatch(/^virtio-console: queue fault \(available-ring-overwritten\): queue 0: the available index reads 0, but this driver last published 16; ending generation 1 so the next resets the device$/);
    expect(record.fields).toMatchObject({ check: 'available-ring-overwritten' });
    await harness.exited;
    expect(harness.crashes.map((error) => error.message)).toEqual([expect.stringMatching(/^queue fault \(available-ring-overwritten\)/)]);
  });
});
