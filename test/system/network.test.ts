// Whole-system tests of the network: two baton systems on one --net socket: LAN ping
// each other, and every frame one of them dumped decodes in tshark with nothing
// malformed; a system started without --net has no network and says so; the MAC comes
// from the run directory.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeFdt } from '../../hal/fdt/decode.js';
import { findNode, getProperty } from '../../hal/fdt/tree.js';
import { whenDtc } from '../../hal/fdt/dtc.js';
import { readPcap } from '../../hal/net/pcap.js';
import { captureFields, captureProtocols, checkCapture, whenTshark } from '../../hal/net/tshark.js';
import { RunningSystem, runBaton } from '../harness/system.js';
import { spawnSync } from 'node:child_process';

let systems: RunningSystem[] = [];
const folders: string[] = [];
afterEach(async () => {
  await Promise.all(systems.map((system) => system.stop()));
  systems = [];
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function temporaryFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

async function boot(args: string[]): Promise<RunningSystem> {
  const system = await RunningSystem.boot(args);
  systems.push(system);
  return system;
}

describe('network', () => {
  it('two systems on one socket LAN ping each other, and the dump decodes in tshark with nothing malformed', async () => {
    const folder = temporaryFolder('baton-lan-');
    const lan = join(folder, 'lan.sock');
    const dump = join(folder, 'first.pcap');
    const [first, second] = await Promise.all([
      boot(['--net', `socket:${lan}`, '--net-dump', dump, '--bootargs', 'net.ip=10.0.2.15/24']),
      boot(['--net', `socket:${lan}`, '--bootargs', 'net.ip=10.0.2.16/24']),
    ]);
    expect(await first.commandUntil('ip', (output) => output.includes('link up'), 'the link up')).toMatch(/inet 10\.0\.2\.15\/24/);
    const answer = await first.commandUntil('ping 10.0.2.16 -c 3', (output) => / 3 received/.test(output), 'three replies');
    expect(answer).toMatch(/^PING 10\.0\.2\.16: 56 data bytes\n64 bytes from 10\.0\.2\.16: icmp_seq=1 ttl=64 time=/);
    expect(answer).toContain('3 packets transmitted, 3 received, 0% packet loss');
    const secondMac = /link\/ether ([0-9a-f:]{17})/.exec(await second.command('ip'))![1]!;
    expect(await first.command('ip neigh')).toContain(`10.0.2.16 lladdr ${secondMac}`);
    expect(await second.command('ping 10.0.2.15 -c 1')).toContain('1 packets transmitted, 1 received');
    const frames = readPcap(new Uint8Array(readFileSync(dump)));
    expect(frames.length).toBeGreaterThanOrEqual(10);
    await whenTshark('the two-system LAN dump decodes in tshark', () => {
      const protocols = captureProtocols(dump);
      expect(protocols).toContain('eth:ethertype:arp');
      expect(protocols.filter((stack) => stack === 'eth:ethertype:ip:icmp:data').length).toBeGreaterThanOrEqual(8);
      const echoes = captureFields(dump, ['icmp.type', 'ip.src', 'ip.dst']).filter(([type]) => type === '8' || type === '0');
      expect(echoes).toContainEqual(['8', '10.0.2.15', '10.0.2.16']);
      expect(echoes).toContainEqual(['0', '10.0.2.16', '10.0.2.15']);
      expect(checkCapture(dump)).toEqual([]);
    });
    // Two boots on a loaded machine, then the exchange: more than the 60 s default.
  }, 120_000);

  it('nc: a line sent over TCP from one system arrives at the other\'s nc -l, handshake and close clean in tshark', async () => {
    const folder = temporaryFolder('baton-tcp-');
    const lan = join(folder, 'lan.sock');
    const dump = join(folder, 'client.pcap');
    const [client, server] = await Promise.all([
      boot(['--net', `socket:${lan}`, '--net-dump', dump, '--bootargs', 'net.ip=10.0.2.15/24']),
      boot(['--net', `socket:${lan}`, '--bootargs', 'net.ip=10.0.2.16/24']),
    ]);
    await server.commandUntil('ip', (output) => output.includes('link up'), 'the link up');
    const listening = server.ctl(['nc', '-l', '7000']);
    await server.commandUntil('netstat', (output) => /\*:7000\s+\*\s+LISTEN/.test(output), 'the listener');
    expect(await client.command('nc 10.0.2.16 7000 hello over baton tcp')).toBe('');
    const received = await listening;
    expect(received.stdout).toMatch(/^connection from 10\.0\.2\.15:\d+\nhello over baton tcp\n$/);
    expect(await client.commandUntil('netstat', (output) => /TIME-WAIT|no TCP sockets/.test(output), 'the connection closed')).not.toMatch(/ESTABLISHED/);
    await whenTshark('the nc TCP exchange decodes in tshark', () => {
      const flags = captureFields(dump, ['tcp.flags.str']).map(([value]) => value).filter((value) => value !== '');
      expect(flags[0]).toMatch(/S/);
      expect(flags.some((value) => /F/.test(value!))).toBe(true);
      expect(captureFields(dump, ['tcp.payload']).some(([payload]) => payload === Buffer.from('hello over baton tcp\n').toString('hex'))).toBe(true);
      expect(checkCapture(dump)).toEqual([]);
    });
    // Two boots on a loaded machine, then the exchange: more than the 60 s default.
  }, 120_000);

  it('a system started without --net has no network device, and ip and ping say so', async () => {
    const system = await boot([]);
    expect(await system.command('ip')).toBe('no network device (start with --net socket:PATH)');
    expect(await system.command('ping 10.0.2.2 -c 1')).toBe('error: no network device: boot with --net socket:PATH');
    expect(await system.command('ping nowhere')).toMatch(/^error: /);
  });

  it('--net puts a virtio-net node with local-mac-address in the device tree: stable per run directory, different between them', async () => {
    const folder = temporaryFolder('baton-mac-');
    const mac = async (runDirectory: string) => {
      const file = join(folder, 'board.dtb');
      const result = await runBaton(['start', '--run-dir', runDirectory, '--net', `socket:${join(folder, 'lan.sock')}`, '--dumpdtb', file]);
      expect(result.status).toBe(0);
      const tree = decodeFdt(new Uint8Array(readFileSync(file)));
      const node = findNode(tree.root, '/soc/virtio_mmio@10006000');
      whenDtc('dtc decodes the --net blob', () => {
        const dtc = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
        expect(dtc.status).toBe(0);
        expect(dtc.stderr).toBe('');
        expect(dtc.stdout).toMatch(/local-mac-address = \[[0-9a-f ]{17}\];/);
      });
      return [...getProperty(node!, 'local-mac-address')!];
    };
    const first = await mac(join(folder, 'one'));
    expect(first).toHaveLength(6);
    expect(first[0]! & 0x03).toBe(0x02);
    expect(await mac(join(folder, 'one'))).toEqual(first);
    expect(await mac(join(folder, 'two'))).not.toEqual(first);
  });

  it('--net refuses a backend it does not know and companions without --net, before touching anything', async () => {
    const refused = await runBaton(['start', '--net', 'udp:1.2.3.4:5']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--net udp:1.2.3.4:5: give socket:PATH');
    const alone = await runBaton(['start', '--net-loss', '5%']);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain('--net-loss needs --net');
  });
});
