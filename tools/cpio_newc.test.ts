// newc archives as GNU cpio reads and writes them: what encodeNewc writes, `cpio -t` lists
// and `cpio -i` unpacks byte-exact; what `cpio -o -H newc` writes, decodeNewc reads.

import { describe, expect, it } from 'vitest';
import { decodeNewc, encodeNewc, type CpioMember } from '../hal/cpio_newc.js';
import { cpioMissing, cpioList, cpioCreate, cpioExtract } from '../test/harness/cpio_tool.js';

const text = (value: string) => new TextEncoder().encode(value);
const members: CpioMember[] = [
  { name: 'etc', mode: 0o040755, modifyTime: 1_700_000_000, data: new Uint8Array(0) },
  { name: 'etc/motd', mode: 0o100644, modifyTime: 1_700_000_000, data: text('welcome\n') },
  { name: 'bin', mode: 0o040755, data: new Uint8Array(0) },
  { name: 'bin/odd-size', mode: 0o100755, data: Uint8Array.from({ length: 1001 }, (_, index) => index & 0xff) },
  { name: 'init', mode: 0o120777, data: text('bin/odd-size') },
];
const title = (name: string) => (cpioMissing ? `${name} (skipped: ${cpioMissing})` : name);

describe('newc', () => {
  it('decodes what it encodes, member by member', () => {
    const decoded = decodeNewc(encodeNewc(members));
    expect(decoded.map((member) => [member.name, member.mode, [...member.data]])).toEqual(members.map((member) => [member.name, member.mode, [...member.data]]));
  });

  it('is deterministic: the same members give the same bytes', () => {
    expect(encodeNewc(members)).toEqual(encodeNewc(members));
  });

  it('names what is malformed', () => {
    const archive = encodeNewc(members);
    expect(() => decodeNewc(archive.subarray(0, 200))).toThrow(/runs past the archive|without a trailer/);
    const broken = archive.slice();
    broken[0] = 0x39;
    expect(() => decodeNewc(broken)).toThrow(/no newc magic at byte 0/);
  });

  it.skipIf(cpioMissing)(title('is listed by cpio -t and unpacked byte-exact by cpio -i'), () => {
    const archive = encodeNewc(members);
    expect(cpioList(archive)).toEqual(members.map((member) => member.name));
    const unpacked = cpioExtract(archive);
    expect(unpacked.get('etc/motd')).toEqual(text('welcome\n'));
    expect(unpacked.get('bin/odd-size')).toEqual(members[3]!.data);
    expect(unpacked.get('init')).toEqual(text('-> bin/odd-size'));
  });

  it.skipIf(cpioMissing)(title('reads what cpio -o -H newc writes'), () => {
    const archive = cpioCreate([{ name: 'a.txt', content: text('from GNU cpio\n') }, { name: 'b.bin', content: new Uint8Array(3) }]);
    const decoded = decodeNewc(archive);
    expect(decoded.map((member) => member.name)).toEqual(['a.txt', 'b.bin']);
    expect(decoded[0]!.data).toEqual(text('from GNU cpio\n'));
    expect(decoded[0]!.mode & 0o170000).toBe(0o100000);
  });
});
