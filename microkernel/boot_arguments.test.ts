import { describe, expect, it } from 'vitest';
import { configArgumentWarnings, configArguments, readRingBytes } from './boot_arguments.js';

describe('boot arguments', () => {
  it('ipc.ring_bytes takes a power of two from 1024 to 1 MiB and names every other value', () => {
    expect(readRingBytes('console=hvc0 ipc.ring_bytes=1024')).toEqual({ ringBytes: 1024, warnings: [] });
    expect(readRingBytes('quiet')).toEqual({ ringBytes: undefined, warnings: [] });
    const wrong = readRingBytes('ipc.ring_bytes=1 ipc.ring_bytes=-5 ipc.ring_bytes=3000 ipc.ring_bytes=4194304 ipc.ring_bytes=');
    expect(wrong.ringBytes).toBeUndefined();
    expect(wrong.warnings.map((warning) => warning.split(':')[0])).toEqual(['ipc.ring_bytes=1', 'ipc.ring_bytes=-5', 'ipc.ring_bytes=3000', 'ipc.ring_bytes=4194304', 'ipc.ring_bytes=']);
    expect(readRingBytes('ipc.ring_bytes=2048 ipc.ring_bytes=7').ringBytes).toBe(2048);
  });

  it('NAME.key=value sets the config of the program by instance or manifest name, numbers as numbers', () => {
    const bootargs = 'log.capacity=500 virtio-console.echo=off kho-test.maximumBytes=0x10 other.key=1';
    expect(configArguments(bootargs, 'log', 'log')).toEqual({ capacity: 500 });
    expect(configArguments(bootargs, 'virtio-console.0', 'virtio-console')).toEqual({ echo: 'off' });
    expect(configArguments(bootargs, 'kho-test', 'kho-test')).toEqual({ maximumBytes: '0x10' });
  });

  it('warns for NAME.key=value naming no program, or a key the program does not declare', () => {
    const programs = new Set(['memory', 'log']);
    const keys = (program: string) => (program === 'memory' ? new Set(['checked']) : undefined);
    expect(configArgumentWarnings('memory.checked=1 log.capacity=5 nosuch.key=1 memory.foo=bar ipc.ring_bytes=1024', programs, keys)).toEqual([
      'nosuch.key=1: no server or driver named nosuch in the boot manifest; ignored',
      'memory.foo=bar: memory has no config key foo (it has: checked); ignored',
    ]);
  });
});
