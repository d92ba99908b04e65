// The driver alone in a worker (test/harness/device_rig.ts) against the real entropy
// device model running here, in the test's thread.

import { afterEach, describe, expect, it } from 'vitest';
import { VirtioEntropy } from '../../hal/virtio/rng.js';
import { randomInterface } from '../../ipc/interfaces/random.js';
import { startDriverWithDevice, type DeviceRig } from '../../test/harness/device_rig.js';
import { driverModule } from '../../test/harness/driver_module.js';

let rig: DeviceRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

async function startDriver() {
  rig = await startDriverWithDevice({ module: await driverModule(new URL('.', import.meta.url)), name: 'template', backend: new VirtioEntropy() });
  return rig.harness.client(randomInterface);
}

describe('template driver', () => {
  it('random.read returns the bytes asked for', async () => {
    const random = await startDriver();
    const { data } = await random.read({ bytes: 64 });
    expect(data).toHaveLength(64);
    expect(data.some((byte) => byte !== 0)).toBe(true);
  });

  it('random.read serves concurrent readers one after another', async () => {
    const random = await startDriver();
    const replies = await Promise.all([1, 100, 4096].map((bytes) => random.read({ bytes })));
    expect(replies.map(({ data }) => data.length)).toEqual([1, 100, 4096]);
  });
});
