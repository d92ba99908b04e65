// Whole-system tests of a server's config: declared by the server as TypeBox data, set by
// its folder manifest, the boot manifest and `NAME.key=value` boot arguments, and checked
// before the server's init runs: a manifest config that fails is final, a boot argument that
// fails is ignored with a warning naming it.

import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from '../harness/system.js';

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('server config', () => {
  it('a boot argument that fails the server\'s config schema is ignored with a warning naming it; the server starts with its manifest config', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs', 'kho-test.maximumOrder=99']);
    const ps = await system.command('ps');
    expect(ps).toMatch(/kho-test\s+server\s+1\s+running/);
    const dmesg = await system.command('dmesg');
    expect(dmesg).toMatch(/warn  kho-test#1: boot argument kho-test\.maximumOrder=99: field "maximumOrder": expected integer to be less or equal to 10 \(got 99\); ignored/);
    expect(await system.command('random 4')).toMatch(/^[0-9a-f]{8}$/m);
  });

  it('a boot argument naming a field the server does not declare is named in a warning (a misspelt key does not pass silently), even for the memory server', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs', 'kho-test.maximumbytes=4096 memory.foo=bar']);
    const ps = await system.command('ps');
    expect(ps).toMatch(/kho-test\s+server\s+1\s+running/);
    expect(ps).toMatch(/memory\s+server\s+1\s+running/);
    const dmesg = await system.command('dmesg');
    expect(dmesg).toMatch(/warn  kho-test#1: boot argument kho-test\.maximumbytes=4096: field "maximumbytes": is not a config field of kho-test .*; ignored/);
    expect(dmesg).toMatch(/warn  memory#1: boot argument memory\.foo=bar: field "foo": is not a config field of memory .*; ignored/);
  });

  it('a boot argument that converts to the declared type is taken (text "false" for a boolean)', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs', 'kho-test.verify=false kho-test.maximumBytes=65536']);
    expect(await system.command('ps')).toMatch(/kho-test\s+server\s+1\s+running/);
  });
});
