import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStartOptions, UsageError } from './options.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function ramImage(): string {
  const folder = mkdtempSync(join(tmpdir(), 'baton-options-'));
  folders.push(folder);
  const path = join(folder, 'ram.img');
  writeFileSync(path, new Uint8Array(32 * 1024 * 1024));
  return path;
}

function refusal(argv: string[]): string {
  try {
    parseStartOptions(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('parseStartOptions', () => {
  it('--kho-fdt and --kho-scratch each say the other is needed too', () => {
    const image = ramImage();
    expect(refusal(['--ram', image, '--kho-fdt', '0x80000000'])).toMatch(/^--kho-fdt needs --kho-scratch ADDR,LEN too: an incoming handover is given by both/);
    expect(refusal(['--ram', image, '--kho-scratch', '0x80001000,48'])).toMatch(/^--kho-scratch needs --kho-fdt ADDR too/);
    expect(parseStartOptions(['--ram', image, '--kho-fdt', '0x80000000', '--kho-scratch', '0x80001000,48']).incomingHandover)
      .toEqual({ fdt: 0x8000_0000, scratch: 0x8000_1000, scratchLength: 48 });
  });

  it('--cpus sets the board\'s harts, 2 by default, and refuses what is not 1..64', () => {
    expect(parseStartOptions([]).cpus).toBe(2);
    expect(parseStartOptions(['--cpus', '4']).cpus).toBe(4);
    for (const text of ['0', '65', 'two', '1.5']) expect(refusal(['--cpus', text])).toMatch(new RegExp(`^--cpus ${text.replace('.', '\\.')}: the board has 1 to 64 harts`));
  });

  it('--device adds the board\'s device kinds in order and refuses others, listing the kinds', () => {
    expect(parseStartOptions(['--device', 'virtio-rng', '--device', 'virtio-rng']).devices).toEqual(['virtio-rng', 'virtio-rng']);
    expect(parseStartOptions([]).devices).toEqual([]);
    expect(refusal(['--device', 'virtio-gpu'])).toMatch(/^--device virtio-gpu: no such device kind; the board has:\n {2}virtio-rng /);
    expect(refusal(Array.from({ length: 60 }, () => ['--device', 'virtio-rng']).flat())).toMatch(/virtio devices do not fit the board's 62 slots/);
  });

  it('--net socket:PATH gives the network device its LAN, dump, impairments and seed; its companions need it', () => {
    expect(parseStartOptions([]).network).toBeUndefined();
    const network = parseStartOptions(['--net', 'socket:/tmp/lan.sock', '--net-dump', '/tmp/a.pcap', '--net-loss', '5%', '--net-reorder', '0.5%', '--net-duplicate', '1', '--net-seed', '42']).network;
    expect(network).toEqual({ backend: { kind: 'socket', path: '/tmp/lan.sock' }, dump: '/tmp/a.pcap', loss: 0.05, reorder: 0.005, duplicate: 0.01, seed: 42 });
    expect(parseStartOptions(['--net', 'socket:/tmp/lan.sock']).network).toMatchObject({ loss: 0, reorder: 0, duplicate: 0, seed: 1, dump: undefined });
    expect(refusal(['--net-dump', '/tmp/a.pcap'])).toMatch(/^--net-dump needs --net socket:PATH or --net tap:IFNAME/);
    expect(refusal(['--net', 'socket:'])).toMatch(/^--net socket:: give socket:PATH/);
    expect(refusal(['--net', 'udp:1.2.3.4'])).toMatch(/give socket:PATH .* or tap:IFNAME/);
    expect(refusal(['--net', 'tap:a-name-far-too-long'])).toMatch(/at most 15 characters/);
    expect(refusal(['--net', 'socket:/x', '--net-loss', '101%'])).toMatch(/^--net-loss 101%: a percentage from 0% to 100%/);
    expect(refusal(['--net', 'socket:/x', '--net-loss', 'lots'])).toMatch(/^--net-loss lots: a percentage/);
    expect(refusal(['--net', 'socket:/x', '--net-seed=-1'])).toMatch(/^--net-seed -1: a whole number/);
  });

  it('--http takes a port (default any free one, 0) and --no-http turns the live view off', () => {
    expect(parseStartOptions([]).httpPort).toBe(0);
    expect(parseStartOptions(['--http', '8080']).httpPort).toBe(8080);
    expect(parseStartOptions(['--no-http']).httpPort).toBeUndefined();
    expect(refusal(['--http', 'eighty'])).toMatch(/^--http eighty: not a port \(0 to 65535/);
    expect(refusal(['--http', '70000'])).toMatch(/^--http 70000: not a port/);
    expect(refusal(['--http', '80', '--no-http'])).toMatch(/^--http and --no-http: choose one/);
  });

  it('--root names a disk by its image or its name in the system, as the kernel\'s root= argument', () => {
    const bootargs = (argv: string[]) => parseStartOptions(argv).bootargs;
    expect(bootargs(['--disk', '/a.img', '--disk', '/b.img,ro', '--root', '/b.img'])).toMatch(/ root=virtio-blk\.1( |$)/);
    expect(bootargs(['--disk', '/a.img', '--disk', '/b.img', '--root', 'virtio-blk.0'])).toMatch(/ root=virtio-blk\.0( |$)/);
    expect(bootargs(['--disk', '/a.img', '--root', '/a.img'])).toMatch(/ root=virtio-blk( |$)/);
    expect(bootargs(['--root', 'virtio-blk'])).toMatch(/ root=virtio-blk( |$)/);
    expect(bootargs(['--disk', '/a.img'])).not.toMatch(/root=/);
    expect(refusal(['--disk', '/a.img', '--root', '/c.img'])).toBe('--root /c.img: neither a --disk image nor a disk name (the disks: virtio-blk)');
    expect(refusal(['--disk', '/a.img', '--disk', '/b.img', '--root', 'virtio-blk'])).toMatch(/the disks: virtio-blk\.0, virtio-blk\.1\)$/);
  });
});
