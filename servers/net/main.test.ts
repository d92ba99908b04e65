// The network server alone in a worker: its netdev is played by the test, with a second
// stack (a peer host) on the other end of the wire.
import { afterEach, describe, expect, it } from 'vitest';
import { netdevInterface } from '../../ipc/interfaces/netdev.js';
import { netInterface, NoNetworkError } from '../../ipc/interfaces/net.js';
import { InvalidArgumentError } from '../../ipc/errors.js';
import { errnoErrors } from '../../ipc/interfaces/errno.js';
import { socketInterface } from '../../ipc/interfaces/socket.js';
import { fakePeer, ServerHarness } from '../../test/harness/server_harness.js';
import { parseIpv4 } from './address.js';
import { NetworkStack } from './stack.js';
import { realTimers } from './timers.js';

let harness: ServerHarness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const SERVER_MAC = Uint8Array.of(0x02, 0xba, 0, 0, 0, 0x0f);
const PEER_MAC = Uint8Array.of(0x02, 0xba, 0, 0, 0, 0x10);

/** A fake virtio-net whose wire ends in a peer stack at 10.0.2.16 in this thread. */
function fakeNetdev(options: { answer?: boolean } = {}) {
  const toServer: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  const peer = new NetworkStack({
    mac: PEER_MAC, timers: realTimers,
    transmit: (frame) => { toServer.push(frame); wake?.(); },
  });
  peer.setAddress({ address: parseIpv4('10.0.2.16')!, prefixLength: 24 });
  const sent: Uint8Array[] = [];
  const netdev = fakePeer('virtio-net', netdevInterface, {
    info: () => ({ mac: SERVER_MAC, mtu: 1500, linkUp: true, counts: { framesSent: sent.length, framesReceived: 0, receiveDropped: 0 } }),
    send: ({ frames }) => {
      sent.push(...frames);
      if (options.answer ?? true) for (const frame of frames) peer.receive(frame);
      return { sent: frames.length };
    },
    receive: async ({ maximumFrames, waitMs }) => {
      if (toServer.length === 0) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, waitMs); });
      wake = undefined;
      return { frames: toServer.splice(0, maximumFrames), linkUp: true };
    },
  });
  return { netdev, peer, sent };
}

describe('net server', () => {
  it('net.ping gets the peer\'s replies over ARP, and status shows the address, the learnt neighbour and counters', async () => {
    const { netdev } = fakeNetdev();
    harness = await ServerHarness.start({ module: 'servers/net/main', name: 'net', config: { ip: '10.0.2.15/24', gateway: '10.0.2.1', device: 'virtio-net' }, peers: [netdev] });
    const net = harness.client(netInterface);
    const result = await net.ping({ address: '10.0.2.16', count: 3, intervalMs: 10, timeoutMs: 5000 }, { timeoutMs: 20_000 });
    expect(result.sent).toBe(3);
    expect(result.replies.map((reply) => [reply.sequence, reply.ttl, reply.bytes])).toEqual([[1, 64, 64], [2, 64, 64], [3, 64, 64]]);
    const status = await net.status({});
    expect(status).toMatchObject({ device: 'virtio-net', mac: '02:ba:00:00:00:0f', mtu: 1500, linkUp: true, address: '10.0.2.15/24', gateway: '10.0.2.1' });
    expect(status.neighbours.map((row) => [row.address, row.mac])).toEqual([['10.0.2.16', '02:ba:00:00:00:10']]);
    expect(status.counts['stack.icmpIn']).toBe(3);
  });

  it('net.ping to a host that does not answer ARP reports it unreachable; a non-address is refused', async () => {
    const { netdev } = fakeNetdev({ answer: false });
    harness = await ServerHarness.start({ module: 'servers/net/main', name: 'net', config: { ip: '10.0.2.15/24' }, peers: [netdev] });
    const net = harness.client(netInterface);
    const result = await net.ping({ address: '10.0.2.99', count: 1, intervalMs: 10, timeoutMs: 4000 }, { timeoutMs: 20_000 });
    expect(result.replies).toEqual([]);
    expect(result.errors).toEqual(['no ARP reply for 10.0.2.99 or its gateway: host unreachable']);
    await expect(net.ping({ address: 'example.org', count: 1, intervalMs: 10, timeoutMs: 10 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('socket: connect, send and receive to the end with a peer\'s listener; a closed port is ECONNREFUSED; a socket not ours is EBADF', async () => {
    const { netdev, peer } = fakeNetdev();
    harness = await ServerHarness.start({ module: 'servers/net/main', name: 'net', config: { ip: '10.0.2.15/24' }, peers: [netdev] });
    const sockets = harness.client(socketInterface);
    const listener = peer.tcp.listen(7000);
    const { socket } = await sockets.connect({ address: '10.0.2.16', port: 7000, timeoutMs: 10_000 }, { timeoutMs: 15_000 });
    await listener.whenReady();
    const accepted = listener.accept()!;
    await sockets.send({ socket, data: new TextEncoder().encode('ping over tcp') });
    const deadline = Date.now() + 10_000;
    while (accepted.readableBytes < 13) {
      if (Date.now() > deadline) throw new Error('the peer never got the bytes');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(new TextDecoder().decode(accepted.read())).toBe('ping over tcp');
    accepted.write(new TextEncoder().encode('pong'));
    accepted.close();
    let text = '';
    for (let ended = false; !ended;) {
      const reply = await sockets.receive({ socket, maximumBytes: 100, waitMs: 2000 });
      text += new TextDecoder().decode(reply.data);
      ended = reply.ended;
    }
    expect(text).toBe('pong');
    expect((await sockets.list({})).rows.map((row) => row.state)).toContain('CLOSE-WAIT');
    await sockets.close({ socket });
    await expect(sockets.connect({ address: '10.0.2.16', port: 7001, timeoutMs: 10_000 }, { timeoutMs: 15_000 })).rejects.toBeInstanceOf(errnoErrors.ECONNREFUSED);
    await expect(sockets.send({ socket: 999, data: new Uint8Array(1) })).rejects.toBeInstanceOf(errnoErrors.EBADF);
  });

  it('without a network device the server runs: status has no device and ping says there is no network', async () => {
    harness = await ServerHarness.start({ module: 'servers/net/main', name: 'net', config: { ip: '10.0.2.15/24' } });
    const net = harness.client(netInterface);
    expect(await net.status({})).toEqual({ linkUp: false, neighbours: [], counts: {} });
    await expect(net.ping({ address: '10.0.2.16', count: 1, intervalMs: 10, timeoutMs: 10 })).rejects.toBeInstanceOf(NoNetworkError);
  });

  it('a malformed net.ip is a warning, and the interface stays without an address', async () => {
    const { netdev } = fakeNetdev();
    harness = await ServerHarness.start({ module: 'servers/net/main', name: 'net', config: { ip: '10.0.2.300/24' }, peers: [netdev] });
    await harness.logged((record) => record.level === 40 && /net.ip=10.0.2.300\/24 is not ADDRESS\/PREFIX/.test(record.msg));
    const status = await harness.client(netInterface).status({});
    expect(status.address).toBeUndefined();
    expect(status.mac).toBe('02:ba:00:00:00:0f');
  });
});
