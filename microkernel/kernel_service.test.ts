// The kernel service's answers to restart, start and stop: a program that does not come
// up is an error (so `npm run ctl` exits 1 with the reason), and the memory service is
// never stopped.

import { describe, expect, it } from 'vitest';
import { StartFailedError, StopRefusedError } from '../ipc/interfaces/kernel.js';
import { kernelHandlers, type KernelServiceHost } from './kernel_service.js';
import { Process } from './process.js';
import type { ProgramSpec } from './manifest.js';
import type { Supervisor } from './supervisor.js';

function program(name: string, serves: string[]): Process {
  const process = new Process(name, { name, serves } as unknown as ProgramSpec, 1);
  process.state = 'running';
  process.generation = 1;
  return process;
}

/** A supervisor whose starts end as `outcome` says, recording the stops it was asked for. */
function host(processes: Process[], outcome: boolean, stopped: string[]): KernelServiceHost {
  const supervisor = {
    processes,
    find: (name: string) => processes.find((process) => process.name === name),
    restart: async (process: Process) => { process.state = outcome ? 'running' : 'failed'; if (outcome) process.generation++; return outcome; },
    start: async (process: Process) => { process.state = outcome ? 'running' : 'failed'; if (outcome) process.generation++; return outcome; },
    stop: async (process: Process) => { stopped.push(process.name); process.state = 'stopped'; },
  } as unknown as Supervisor;
  return { supervisor } as KernelServiceHost;
}

const call = { channel: 1 } as never;

describe('kernelHandlers', () => {
  it('restart and start that end with the program not running are START_FAILED errors naming its state', async () => {
    const handlers = kernelHandlers(host([program('flaky', [])], false, []));
    await expect(handlers.restart!({ name: 'flaky' }, call)).rejects.toThrow(StartFailedError);
    await expect(handlers.restart!({ name: 'flaky' }, call)).rejects.toThrow('flaky: restart failed (failed)');
    await expect(handlers.start!({ name: 'flaky' }, call)).rejects.toThrow('flaky: start failed (failed)');
  });

  it('restart that comes up answers with the new generation', async () => {
    const handlers = kernelHandlers(host([program('log', ['log'])], true, []));
    expect(await handlers.restart!({ name: 'log' }, call)).toEqual({ message: 'log: generation 2 running' });
  });

  it('refuses to stop the memory service, and stops nothing', async () => {
    const stopped: string[] = [];
    const handlers = kernelHandlers(host([program('memory', ['memory']), program('log', ['log'])], true, stopped));
    await expect(handlers.stop!({ name: 'memory' }, call)).rejects.toThrow(StopRefusedError);
    expect(stopped).toEqual([]);
    expect(await handlers.stop!({ name: 'log' }, call)).toEqual({ message: 'log: stopped' });
    expect(stopped).toEqual(['log']);
  });
});
