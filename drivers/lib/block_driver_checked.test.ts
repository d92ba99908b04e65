// Checked mode in the block library: a buffer the client neither owns nor was lent is refused
// before the device touches it, and who and where are logged.
import { afterEach, describe, expect, it } from 'vitest';
import { VirtioBlock } from '../../hal/virtio/block.js';
import { PermissionDeniedError } from '../../ipc/errors.js';
import { blockInterface } from '../../ipc/interfaces/block.js';
import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { startDriverWithDevice, type DeviceRig } from '../../test/harness/device_rig.js';
import { temporaryDiskImage, type TemporaryDiskImage } from '../../test/harness/host.js';
import { fakePeer } from '../../test/harness/server_harness.js';

let rig: DeviceRig | undefined;
let image: TemporaryDiskImage | undefined;
afterEach(async () => {
  await rig?.stop();
  image?.remove();
  rig = undefined;
  image = undefined;
});

describe('defineBlockDriver in checked mode', () => {
  it('refuses a buffer the client neither owns nor was lent, and logs who and where', async () => {
    image = temporaryDiskImage(new Uint8Array(1024 * 1024), 'checked');
    const checked: Array<{ accessor?: string; pa: number }> = [];
    let lentAddress = 0;
    rig = await startDriverWithDevice({
      module: 'drivers/virtio-blk/main',
      name: 'virtio-blk',
      backend: new VirtioBlock({ path: image.path, access: 'read-write', serial: 'checked' }),
      system: { checked: true },
      peers: [fakePeer('memory', memoryInterface, {
        checkAccess: ({ accessor, pa }) => {
          checked.push({ accessor, pa });
          return pa === lentAddress ? { allowed: true, owner: 'harness' } : { allowed: false, owner: 'someone-else', reason: 'owned by someone-else' };
        },
      })],
    });
    lentAddress = rig.ram.base + 6 * 1024 * 1024;
    const disk = rig.harness.client(blockInterface);
    await expect(disk.read({ sector: 0, bytes: 512, buffer: { kind: 'physical', address: lentAddress } })).resolves.toEqual({ bytes: 512 });
    const stolen = rig.ram.base + 7 * 1024 * 1024;
    await expect(disk.write({ sector: 0, bytes: 512, buffer: { kind: 'physical', address: stolen } })).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(checked).toEqual([{ accessor: 'harness', pa: lentAddress }, { accessor: 'harness', pa: stolen }]);
    const warning = await rig.harness.logged((record) => record.msg.startsWith('checked mode:'));
    expect(warning.msg).toBe(`checked mode: harness passed 0x${stolen.toString(16)}+512, which it neither owns nor was lent (owned by someone-else)`);
  });
});
