import { describe, expect, it } from 'vitest';
import { DoorbellPage } from '../hal/doorbells.js';
import { channelStatus, type ChannelDescriptor } from '../ipc/channel.js';
import { PermissionDeniedError, PeerStoppedError } from '../ipc/errors.js';
import { NameService } from './name_service.js';
import { Process } from './process.js';
import type { ProgramSpec } from './manifest.js';

function spec(name: string, serves: string[], talksTo: string[]): ProgramSpec {
  return {
    name, kind: 'server', version: '1', entry: 'file:///nowhere.js', serves, talksTo, heartbeatMs: 500, config: {},
    restart: { policy: 'always', maximumQuickFailures: 5, minimumRunMs: 5000, backoffInitialMs: 100, backoffCapMs: 5000 },
  } as ProgramSpec;
}

function world() {
  const processes = [
    new Process('console', spec('console', [], ['kernel', 'disk']), 2),
    new Process('disk', spec('disk', ['block'], []), 3),
    new Process('log', spec('log', ['log'], []), 4),
    new Process('stopped', spec('stopped', ['block'], []), 5),
  ];
  for (const process of processes) if (process.name !== 'stopped') process.state = 'running';
  const attached: Array<{ server: string; channel: ChannelDescriptor; client: string }> = [];
  const warnings: string[] = [];
  const doorbells = new DoorbellPage();
  const names = new NameService({
    doorbells,
    kernelSlot: 1,
    find: (name) => processes.find((process) => process.name === name),
    attach: (server, channel, client) => attached.push({ server: server === 'kernel' ? 'kernel' : server.name, channel, client }),
    warn: (message) => warnings.push(message),
  });
  const find = (name: string) => processes.find((process) => process.name === name)!;
  return { names, attached, warnings, find };
}

describe('NameService', () => {
  it('NameService grants a channel to a service listed in talksTo and attaches its server end', async () => {
    const { names, attached, find } = world();
    const channel = await names.lookup(find('console'), 'disk', 'block');
    expect(channel.clientSlot).toBe(find('console').slot);
    expect(channel.serverSlot).toBe(find('disk').slot);
    expect(attached).toEqual([{ server: 'disk', channel, client: 'console' }]);
  });

  it('NameService refuses a service not in talksTo with PERMISSION_DENIED and logs it', async () => {
    const { names, attached, warnings, find } = world();
    await expect(names.lookup(find('disk'), 'console', 'block')).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(attached).toEqual([]);
    expect(warnings).toEqual(['permission denied: disk may not talk to console']);
  });

  it('NameService lets everyone reach the log service', async () => {
    const { names, find } = world();
    await expect(names.lookup(find('disk'), 'log', 'log')).resolves.toMatchObject({ interfaceName: 'log' });
  });

  it('NameService refuses an interface the target does not serve, and unknown names', async () => {
    const { names, find } = world();
    await expect(names.lookup(find('console'), 'disk', 'chardev')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(names.lookup(find('console'), 'nosuch', 'block')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('NameService reports a stopped target as PEER_STOPPED', async () => {
    const { names, find } = world();
    find('console').spec.talksTo.push('stopped');
    await expect(names.lookup(find('console'), 'stopped', 'block')).rejects.toBeInstanceOf(PeerStoppedError);
  });

  it('NameService.revoke closes every channel of a dead server with the new generation', async () => {
    const { names, find } = world();
    const channel = await names.lookup(find('console'), 'disk', 'block');
    expect(names.revoke(find('disk'), 'peer-restarted', 2)).toBe(1);
    expect(channelStatus(channel)).toMatchObject({ open: false, reason: 'peer-restarted', generation: 2 });
    expect(names.openChannels).toBe(0);
  });
});
