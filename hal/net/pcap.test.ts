// pcap files as QEMU's filter-dump writes them, read back here and by tshark.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Impairment } from './impairment.js';
import { PcapWriter, readPcap } from './pcap.js';
import { captureFields, checkCapture, whenTshark } from './tshark.js';

let directory: string | undefined;
afterEach(() => {
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

/** A broadcast ARP request for 10.0.2.2 from 10.0.2.15 (what every IPv4 host sends first). */
function arpRequest(): Uint8Array {
  return Uint8Array.from([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xba, 0, 0, 0, 1, 0x08, 0x06,
    0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0xba, 0, 0, 0, 1, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2,
    ...new Array(18).fill(0),
  ]);
}

describe('PcapWriter', () => {
  it('PcapWriter writes a capture that readPcap and tshark read frame for frame, clean', async () => {
    directory = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'pcap-'));
    const path = join(directory, 'dump.pcap');
    const writer = new PcapWriter(path);
    writer.write(arpRequest());
    writer.write(arpRequest());
    writer.close();
    const frames = readPcap(new Uint8Array(readFileSync(path)));
    expect(frames.map((bytes) => Buffer.from(bytes).toString('hex'))).toEqual([arpRequest(), arpRequest()].map((bytes) => Buffer.from(bytes).toString('hex')));
    await whenTshark('the pcap writer\'s file decodes in tshark', () => {
      expect(captureFields(path, ['arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4'])).toEqual([['1', '10.0.2.15', '10.0.2.2'], ['1', '10.0.2.15', '10.0.2.2']]);
      expect(checkCapture(path)).toEqual([]);
    });
  });

  it('readPcap refuses what is not a little-endian Ethernet pcap', () => {
    expect(() => readPcap(new Uint8Array(24))).toThrow(RangeError);
  });
});

describe('Impairment', () => {
  const run = (options: ConstructorParameters<typeof Impairment>[0], count: number) => {
    const impairment = new Impairment(options);
    const out: number[] = [];
    for (let index = 0; index < count; index++) impairment.pass(Uint8Array.of(index), (frame) => out.push(frame[0]!));
    impairment.release();
    return { out, counts: impairment.counts };
  };

  it('Impairment with the same seed decides the same fate for every frame', () => {
    const options = { loss: 0.2, reorder: 0.2, duplicate: 0.2, seed: 7 };
    expect(run(options, 200)).toEqual(run(options, 200));
    expect(run(options, 200).out).not.toEqual(run({ ...options, seed: 8 }, 200).out);
  });

  it('Impairment loses, duplicates and reorders about as often as asked, and counts each', () => {
    const { out, counts } = run({ loss: 0.1, duplicate: 0.1, reorder: 0.1, seed: 3 }, 2000);
    expect(counts.lost).toBeGreaterThan(140);
    expect(counts.lost).toBeLessThan(260);
    expect(counts.duplicated).toBeGreaterThan(120);
    expect(counts.reordered).toBeGreaterThan(100);
    expect(out.length).toBe(2000 - counts.lost + counts.duplicated);
    const overtaken = out.filter((value, index) => index > 0 && value < out[index - 1]!).length;
    expect(overtaken).toBeGreaterThan(0);
  });

  it('Impairment passes every frame in order when nothing is asked, and refuses a probability above 1', () => {
    expect(run({}, 50).out).toEqual(Array.from({ length: 50 }, (_, index) => index));
    expect(() => new Impairment({ loss: 1.5 })).toThrow(/probability/);
  });
});
