import { afterEach, describe, expect, it } from 'vitest';
import { VirtioEntropy } from '../../hal/virtio/rng.js';
import { InvalidArgumentError } from '../../ipc/errors.js';
import { RANDOM_READ_LIMIT, randomInterface } from '../../ipc/interfaces/random.js';
import { startDriverWithDevice, type DeviceRig } from '../../test/harness/device_rig.js';

let rig: DeviceRig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

/** The driver alone in a worker, against the real entropy device model in this thread. */
async function startDriver(queueSize?: number) {
  rig = await startDriverWithDevice({ module: 'drivers/virtio-rng/main', name: 'virtio-rng', backend: new VirtioEntropy(queueSize ? { queueSize } : {}) });
  return rig.harness.client(randomInterface);
}

describe('virtio-rng driver', () => {
  it('random.read returns exactly the bytes asked for, and two reads differ', async () => {
    const random = await startDriver();
    const first = await random.read({ bytes: 32 });
    const second = await random.read({ bytes: 32 });
    expect(first.data).toHaveLength(32);
    expect(second.data).toHaveLength(32);
    expect(first.data).not.toEqual(second.data);
  });

  it('random.read of the largest size, many at once, fills every byte', async () => {
    const random = await startDriver();
    const replies = await Promise.all(Array.from({ length: 10 }, () => random.read({ bytes: RANDOM_READ_LIMIT })));
    for (const { data } of replies) {
      expect(data).toHaveLength(RANDOM_READ_LIMIT);
      // 16 KiB of CSPRNG output has every byte value; a buffer the device never filled is zeros.
      expect(new Set(data).size).toBe(256);
    }
  });

  it('random.read refuses 0 bytes and more than the limit with INVALID_ARGUMENT', async () => {
    const random = await startDriver();
    await expect(random.read({ bytes: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(random.read({ bytes: RANDOM_READ_LIMIT + 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await random.read({ bytes: 1 })).data).toHaveLength(1);
  });
});
