import { hostSha256 } from '../../test/harness/host.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sha256 } from './sha256.js';

const host = hostSha256;

describe('Sha256', () => {
  it('gives the FIPS 180-4 digests of "" and "abc"', () => {
    expect(new Sha256().hex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(new TextEncoder().encode('abc')).hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('equals the host\'s digest however the data is cut into pieces', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1000 }), fc.array(fc.nat(1000), { maxLength: 6 }), (data, cuts) => {
      const hash = new Sha256();
      let at = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        const end = Math.min(cut, data.length);
        if (end < at) continue;
        hash.update(data.subarray(at, end));
        at = end;
      }
      hash.update(data.subarray(at));
      expect(hash.hex()).toBe(host(data));
    }));
  });
});
