// Whole-system tests of a server's config: declared by the server as TypeBox data, set by
// its folder manifest, the boot manifest and `NAME.key=value` boot arguments, and checked
// before the server's init runs.

import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from '../harness/system.js';

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('server config', () => {
  it('a boot argument that fails the server\'s config schema refuses to start that server, naming the field; the rest runs', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs', 'kho-test.maximumOrder=99']);
    const ps = await system.command('ps');
    expect(ps).toMatch(/kho-test\s+server\s+1\s+failed/);
    expect(ps).toMatch(/console\s+server\s+1\s+running/);
    const dmesg = await system.command('dmesg');
    expect(dmesg).toContain('kho-test: config field "maximumOrder": expected integer to be less or equal to 10 (got 99); not started (fix its manifest or boot arguments)');
    expect(await system.command('random 4')).toMatch(/^[0-9a-f]{8}$/m);
  });

  it('a boot argument naming a field the server does not declare is refused too (a misspelt key does not pass silently)', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs', 'kho-test.maximumbytes=4096']);
    expect(await system.command('ps')).toMatch(/kho-test\s+server\s+1\s+failed/);
    expect(await system.command('dmesg')).toContain('kho-test: config field "maximumbytes": is not a config field of kho-test');
  });

  it('a boot argument that converts to the declared type is taken (text "false" for a boolean)', async () => {
    system = await RunningSystem.boot(['--manifest', 'kho-test', '--bootargs', 'kho-test.verify=false kho-test.maximumBytes=65536']);
    expect(await system.command('ps')).toMatch(/kho-test\s+server\s+1\s+running/);
  });
});
