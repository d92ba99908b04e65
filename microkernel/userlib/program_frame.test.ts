import { describe, expect, it } from 'vitest';
import { programFrame } from './program_frame.js';

const root = new URL('file:///home/me/baton/');

describe('programFrame', () => {
  it('programFrame skips baton runtime and Node frames and returns the program\'s own line', () => {
    const stack = [
      'Error: no such hardware',
      '    at Object.init (/tmp/my driver/main.ts:4:11)',
      '    at Object.init (file:///home/me/baton/build/drivers/lib/driver.js:70:30)',
      '    at start (file:///home/me/baton/build/microkernel/userlib/thread_main.js:150:5)',
    ].join('\n');
    expect(programFrame(stack, root)).toBe('/tmp/my driver/main.ts:4:11');
  });

  it('programFrame returns the first frame past the runtime even when the runtime threw first', () => {
    const stack = [
      'Error: bad',
      '    at check (/home/me/baton/drivers/lib/virtio/transport.ts:40:9)',
      '    at node:internal/process/task_queues:95:5',
      '    at file:///home/me/baton/build/drivers/virtio-rng/main.js:22:7',
    ].join('\n');
    expect(programFrame(stack, root)).toBe('/home/me/baton/build/drivers/virtio-rng/main.js:22:7');
  });

  it('programFrame is undefined when every frame is the runtime\'s', () => {
    expect(programFrame('Error: x\n    at file:///home/me/baton/build/ipc/endpoint.js:1:1', root)).toBeUndefined();
    expect(programFrame(undefined, root)).toBeUndefined();
  });
});
