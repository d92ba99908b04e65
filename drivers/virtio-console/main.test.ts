import { afterEach, describe, expect, it } from 'vitest';
import { VirtioConsole } from '../../hal/virtio/console.js';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import type { ServerHarness } from '../../test/harness/server_harness.js';
import { startDriverWithDevice, type DeviceRig } from '../../test/harness/device_rig.js';

let rig: DeviceRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

/** The driver alone in a worker, against the real device model in this thread. */
async function startDriver() {
  let output = '';
  const outputWaiters: Array<() => void> = [];
  const model = new VirtioConsole({
    output: (bytes) => {
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

function collectInput(harness: ServerHarness) {
  let received = '';
  let hungUp = false;
  const waiters: Array<() => void> = [];
  harness.endpoint.onNotification(chardevInterface, 'input', ({ data }) => {
    received += new TextDecoder().decode(data);
    for (const waiter of waiters.splice(0)) waiter();
  });
  harness.endpoint.onNotification(chardevInterface, 'hangup', () => {
    hungUp = true;
    for (const waiter of waiters.splice(0)) waiter();
  });
  const until = (predicate: () => boolean) => new Promise<void>((resolve) => {
    const check = () => (predicate() ? resolve() : waiters.push(check));
    check();
  });
  return { until, received: () => received, hungUp: () => hungUp };
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

  it('host input reaches the listener as input notifications, typed before listen too', async () => {
    const { harness, model } = await startDriver();
    model.pushInput(new TextEncoder().encode('early '));
    const input = collectInput(harness);
    await harness.client(chardevInterface).listen({});
    model.pushInput(new TextEncoder().encode('late\n'));
    await input.until(() => input.received() === 'early late\n');
  });

  it('end of host input arrives as hangup after the last input byte', async () => {
    const { harness, model } = await startDriver();
    const input = collectInput(harness);
    await harness.client(chardevInterface).listen({});
    model.pushInput(new TextEncoder().encode('shutdown\n'));
    model.endInput();
    await input.until(() => input.hungUp());
    expect(input.received()).toBe('shutdown\n');
  });
});
