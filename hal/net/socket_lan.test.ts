// The Unix-socket LAN: hub election, switching between members, hub takeover.
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EthernetSwitch, type SwitchPort } from './ethernet_switch.js';
import { encodeStreamFrame, StreamFrameReader } from './frame_stream.js';
import { SocketLanLink } from './socket_lan.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

function temporaryPath(): string {
  const directory = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'lan-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return join(directory, 'lan.sock');
}

function mac(last: number): number[] {
  return [0x02, 0, 0, 0, 0, last];
}

function frame(destination: number[], source: number[], marker: number): Uint8Array {
  return Uint8Array.from([...destination, ...source, 0x08, 0x00, marker]);
}

const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** A link on the LAN at `path` that records every frame it receives. */
async function member(path: string) {
  const link = new SocketLanLink(path);
  cleanups.push(() => link.close());
  const received: Uint8Array[] = [];
  let waiters: (() => void)[] = [];
  link.onFrame((bytes) => {
    received.push(bytes);
    for (const wake of waiters.splice(0)) wake();
  });
  await link.ready();
  return {
    link, received,
    /** Waits until a frame with `marker` arrived (or fails after 10 s saying which). */
    async receivedMarker(marker: number): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!received.some((bytes) => bytes[14] === marker)) {
        if (Date.now() > deadline) throw new Error(`frame ${marker} never arrived; got ${received.map((bytes) => bytes[14]).join(',')}`);
        await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 100); });
      }
    },
  };
}

describe('StreamFrameReader', () => {
  it('StreamFrameReader cuts frames out of chunks split anywhere, as QEMU stream frames them', () => {
    const bytes = new Uint8Array([...encodeStreamFrame(Uint8Array.of(1, 2, 3)), ...encodeStreamFrame(Uint8Array.of(4))]);
    expect([...bytes.subarray(0, 4)]).toEqual([0, 0, 0, 3]);
    const reader = new StreamFrameReader();
    const frames = [...bytes].flatMap((byte) => reader.push(Uint8Array.of(byte)));
    expect(frames.map((f) => [...f])).toEqual([[1, 2, 3], [4]]);
  });

  it('StreamFrameReader refuses a length beyond 65535', () => {
    expect(() => new StreamFrameReader().push(Uint8Array.of(0, 1, 0, 0))).toThrow(RangeError);
  });
});

describe('EthernetSwitch', () => {
  it('EthernetSwitch floods unknown and broadcast destinations and sends learnt ones to one port', () => {
    const got = new Map<string, number[]>();
    const port = (name: string): SwitchPort => ({ deliver: (bytes) => got.set(name, [...(got.get(name) ?? []), bytes[14]!]) });
    const [a, b, c] = [port('a'), port('b'), port('c')];
    const lan = new EthernetSwitch();
    for (const each of [a, b, c]) lan.add(each);
    lan.forward(a, frame(mac(2), mac(1), 1));
    lan.forward(b, frame(mac(1), mac(2), 2));
    lan.forward(c, frame(BROADCAST, mac(3), 3));
    expect(Object.fromEntries(got)).toEqual({ b: [1, 3], c: [1], a: [2, 3] });
  });

  it('EthernetSwitch forgets addresses after the ageing time and floods again', () => {
    let now = 0;
    const got: string[] = [];
    const lan = new EthernetSwitch({ ageingMs: 1000, now: () => now });
    const ports = ['a', 'b', 'c'].map((name): SwitchPort => ({ deliver: () => got.push(name) }));
    for (const each of ports) lan.add(each);
    lan.forward(ports[1]!, frame(BROADCAST, mac(2), 0));
    got.length = 0;
    lan.forward(ports[0]!, frame(mac(2), mac(1), 1));
    expect(got).toEqual(['b']);
    now = 2000;
    got.length = 0;
    lan.forward(ports[0]!, frame(mac(2), mac(1), 1));
    expect(got).toEqual(['b', 'c']);
  });
});

describe('SocketLanLink', () => {
  it('SocketLanLink: the first on a path becomes the hub, the others members, and frames reach each other', async () => {
    const path = temporaryPath();
    const first = await member(path);
    const second = await member(path);
    const third = await member(path);
    expect([first.link.role, second.link.role, third.link.role]).toEqual(['hub', 'member', 'member']);
    second.link.send(frame(BROADCAST, mac(2), 10));
    await first.receivedMarker(10);
    await third.receivedMarker(10);
    first.link.send(frame(mac(2), mac(1), 11));
    await second.receivedMarker(11);
    third.link.send(frame(mac(2), mac(3), 12));
    await second.receivedMarker(12);
    // Unicast to a learnt address went to its port only.
    expect(third.received.some((bytes) => bytes[14] === 11)).toBe(false);
    expect(second.received.some((bytes) => bytes[14] === 10)).toBe(false);
  });

  it('SocketLanLink: when the hub leaves, a member becomes the hub and the LAN works again', async () => {
    const path = temporaryPath();
    const first = await member(path);
    const second = await member(path);
    const third = await member(path);
    const changes: boolean[] = [];
    second.link.onLinkChange((up) => changes.push(up));
    first.link.close();
    const deadline = Date.now() + 10_000;
    while (!(second.link.up && third.link.up && [second.link.role, third.link.role].includes('hub'))) {
      if (Date.now() > deadline) throw new Error(`no new hub: ${second.link.role}, ${third.link.role}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(changes[0]).toBe(false);
    third.link.send(frame(BROADCAST, mac(3), 20));
    await second.receivedMarker(20);
  });

  it('SocketLanLink takes over a socket file a killed hub left, and never removes a non-socket file', async () => {
    const path = temporaryPath();
    // A hub that died without closing: a child listens on PATH and is killed, leaving the socket file.
    const { spawnSync } = await import('node:child_process');
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const first = await member(path);
    expect(first.link.role).toBe('hub');
    first.link.close();
    const notSocket = temporaryPath();
    writeFileSync(notSocket, 'keep me');
    const link = new SocketLanLink(notSocket);
    cleanups.push(() => link.close());
    await expect(link.ready()).rejects.toThrow(/could neither connect|cannot listen|ECONNREFUSED|EADDRINUSE|not a socket/);
    expect(readFileSync(notSocket, 'utf8')).toBe('keep me');
  });
});
