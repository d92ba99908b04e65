// Random bytes from a hardware entropy source (served by an entropy driver, e.g. virtio-rng).
//
// Any program whose manifest lists "random" in talksTo reaches whichever driver serves it.

import { Type } from '../typebox.js';
import { defineInterface } from '../define.js';

/** The most bytes one read returns (the reply travels through the IPC ring). */
export const RANDOM_READ_LIMIT = 16 * 1024;

/**
 * @example
 * const random = context.connect(randomInterface);
 * const { data } = await random.read({ bytes: 32 });
 */
export const randomInterface = defineInterface({
  name: 'random',
  ops: {
    read: { id: 1, kind: 'call', idempotent: true,
      args: Type.Object({ bytes: Type.Integer({ minimum: 1, maximum: RANDOM_READ_LIMIT }) }),
      reply: Type.Object({ data: Type.Uint8Array({ maxByteLength: RANDOM_READ_LIMIT }) }),
      doc: 'Exactly `bytes` bytes from the entropy source.' },
  },
});
