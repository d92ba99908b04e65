import { afterEach, describe, expect, it } from 'vitest';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { driversInterface } from '../../ipc/interfaces/drivers.js';
import { kernelInterface } from '../../ipc/interfaces/kernel.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { NotFoundError } from '../../microkernel/name_service.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** A fake terminal: collects what the console writes, and lets the test type and hang up. */
class FakeTerminal {
  output = '';
  private waiters: Array<() => void> = [];
  private readonly typed: Array<Uint8Array | 'hangup'> = [];
  private readers: Array<() => void> = [];
  /** The stream position of the next byte typed. */
  private position = 0;
  reading: Promise<void>;
  private read!: () => void;
  constructor(readonly device: string) {
    this.reading = new Promise((resolve) => (this.read = resolve));
  }
  peer() {
    return fakePeer(this.device, chardevInterface, {
      write: ({ data }) => {
        this.output += new TextDecoder().decode(data);
        for (const waiter of this.waiters.splice(0)) waiter();
        return { written: data.length };
      },
      read: async ({ waitMs }) => {
        this.read();
        if (this.typed.length === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            this.readers.push(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        // Each read takes what it answers (a real driver keeps it until a later read's `from` passes it).
        const next = this.typed.shift();
        const at = this.position;
        const data = next === undefined || next === 'hangup' ? new Uint8Array(0) : next;
        this.position += data.length + (next === 'hangup' ? 1 : 0);
        return { data, ended: next === 'hangup', stream: 1, at, next: this.position };
      },
    });
  }
  type(text: string | 'hangup'): void {
    this.typed.push(text === 'hangup' ? text : new TextEncoder().encode(text));
    for (const reader of this.readers.splice(0)) reader();
  }
  until(text: string, from = 0): Promise<string> {
    return new Promise((resolve) => {
      const check = () => (this.output.indexOf(text, from) >= 0 ? resolve(this.output.slice(from)) : this.waiters.push(check));
      check();
    });
  }
}

const kernelCalls: string[] = [];
const fakeKernel = fakePeer('kernel', kernelInterface, {
  list: () => ({ rows: [{ name: 'log', kind: 'server' as const, generation: 2, state: 'running', restarts: 1, uptimeMs: 61_000, messages: 42, bulk: 3, heapBytes: 25_000_000 }] }),
  restart: ({ name }) => {
    kernelCalls.push(`restart ${name}`);
    if (name !== 'log') throw new NotFoundError(`no server or driver named "${name}" (see ps)`);
    return { message: `${name}: generation 3 running` };
  },
  shutdown: ({ status }) => {
    kernelCalls.push(`shutdown ${status}`);
    return { message: 'shutting down' };
  },
  waitForBoot: () => ({ bootMs: 1 }),
});
const fakeLog = fakePeer('log', logInterface, {
  read: ({ count }) => ({ lines: ['one', 'two', 'three'].slice(-(count ?? 3)) }),
  follow: () => ({ sequence: 0 }),
});

const fakeDrivers = fakePeer('drivers', driversInterface, {
  devices: () => ({ rows: [{ path: '/soc/virtio_mmio@10005000', compatible: ['virtio,mmio'], base: 0x10005000, size: 0x1000, driver: 'virtio-blk', state: 'running', generation: 1, serves: ['block'] }] }),
  drivers: () => ({ rows: [{ name: 'virtio-blk', version: '1.0.0', source: 'boot', instances: ['virtio-blk'] }] }),
});

async function startConsole() {
  const main = new FakeTerminal('tty0');
  const control = new FakeTerminal('tty1');
  harness = await ServerHarness.start({
    module: 'servers/console/main',
    name: 'console',
    config: { terminals: [
      { device: 'tty0', echo: true, endOfInputShutsDown: true },
      { device: 'tty1', echo: false, endOfInputShutsDown: false },
    ] },
    peers: [fakeKernel, fakeLog, fakeDrivers, main.peer(), control.peer()],
  });
  await main.reading;
  await main.until('baton> ');
  const type = (terminal: FakeTerminal, text: string) => terminal.type(text);
  return { main, control, type, harness };
}

describe('console server', () => {
  it('console prints the process table for ps', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'ps\r');
    const text = await main.until('baton> ', from);
    expect(text).toContain('ps\r\n');
    expect(text).toMatch(/NAME\s+KIND\s+GEN\s+STATE\s+RESTARTS\s+UPTIME\s+MSGS\s+BULK\s+HEAP/);
    expect(text).toMatch(/log\s+server\s+2\s+running\s+1\s+1m01s\s+42\s+3\s+23\.8MiB/);
  });

  it('console reports an unknown command in one line and returns to the prompt', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'frobnicate\n');
    const text = await main.until('baton> ', from);
    expect(text).toBe('frobnicate\r\nerror: unknown command "frobnicate" (try help)\r\nbaton> ');
  });

  it('console reports a service error for an unknown name', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'restart nosuch\n');
    expect(await main.until('baton> ', from)).toContain('error: no server or driver named "nosuch" (see ps)');
  });

  it('console runs lines typed together in order', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'restart log\ndmesg -n 2\n');
    const text = await main.until('three', from);
    expect(text.indexOf('log: generation 3 running')).toBeLessThan(text.indexOf('two\r\nthree'));
  });

  it('console answers on the control terminal without echo, after a first prompt that says it is ready', async () => {
    const { control, type } = await startConsole();
    expect(await control.until('baton> ')).toBe('baton> ');
    const from = control.output.length;
    type(control, 'dmesg -n 1\n');
    expect(await control.until('baton> ', from)).toBe('three\r\nbaton> ');
    expect(control.output.slice(from)).not.toContain('dmesg -n 1');
  });

  it('console shuts the system down at end of input on the main terminal', async () => {
    const { main } = await startConsole();
    kernelCalls.length = 0;
    main.type('hangup');
    await main.until('shutting down');
    expect(kernelCalls).toEqual(['shutdown 0']);
  });

  it('console refuses extra words with the usage, and runs nothing', async () => {
    const { main, type } = await startConsole();
    kernelCalls.length = 0;
    const from = main.output.length;
    type(main, 'shutdown ps\n');
    expect(await main.until('baton> ', from)).toBe('shutdown ps\r\nerror: shutdown: unexpected "ps" (shutdown takes no arguments)\r\nusage: shutdown\r\nbaton> ');
    const next = main.output.length;
    type(main, 'ps x\n');
    expect(await main.until('baton> ', next)).toContain('error: ps: unexpected "x" (ps takes no arguments)\r\nusage: ps\r\n');
    expect(kernelCalls).toEqual([]);
  });

  it('console says which disks there are when a command names one that is not', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'blk read nosuchdisk 0\n');
    expect(await main.until('baton> ', from)).toContain(
      'error: blk read: no disk named "nosuchdisk" (the disks: virtio-blk)\r\nusage: blk read DISK SECTOR [COUNT]\r\n');
  });

  it('console shows one command\'s usage with help NAME', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'help dmesg\n');
    expect(await main.until('baton> ', from)).toBe(
      'help dmesg\r\nusage: dmesg [-n N]\r\nthe kernel and server log (the last N lines)\r\n  N  a whole number, 1 or more\r\nbaton> ');
    const next = main.output.length;
    type(main, 'help nosuch\n');
    expect(await main.until('baton> ', next)).toContain('error: no command named "nosuch" (try help)');
  });

  it('console completes command names, then server, driver and disk names, on Tab', async () => {
    const { main, type } = await startConsole();
    const cases: Array<[string, string]> = [
      ['res\t', 'tart '],
      ['restart l\t', 'og '],
      ['blk read v\t', 'irtio-blk '],
      ['unload virtio-b\t', 'lk '],
      ['help dm\t', 'esg '],
    ];
    for (const [keys, completion] of cases) {
      const from = main.output.length;
      type(main, keys);
      await main.until(completion, from);
      type(main, '\x03'); // abandon the line for the next case
      await main.until('^C\r\nbaton> ', from);
    }
    const from = main.output.length;
    type(main, 's\t');
    expect(await main.until('\r\nbaton> s', from)).toBe('s\r\nsha256sum  shutdown  start  stat  stop  sync\r\nbaton> s');
  });

  it('console runs a line completed with Tab, with what was typed after the Tab', async () => {
    const { main, type } = await startConsole();
    const from = main.output.length;
    type(main, 'dmes\t-n 1\n');
    expect(await main.until('baton> ', from)).toBe('dmesg -n 1\r\nthree\r\nbaton> ');
  });
});
