// One supervised program instance: a server, or a driver bound to one device.

import type { HardwareThread } from '../hal/cpu.js';
import type { ProgramSpec } from './manifest.js';
import type { DeviceBinding, WireFailure } from './protocol.js';

export type ProcessState = 'starting' | 'running' | 'stopping' | 'stopped' | 'restarting' | 'failed';

export class Process {
  readonly name: string;
  spec: ProgramSpec;
  readonly device: DeviceBinding | undefined;
  /** For a server started per disk (disk_servers.ts): the block service it stands on. */
  disk: string | undefined;
  /** Doorbell slot, kept across generations. */
  readonly slot: number;
  private current: ProcessState = 'stopped';
  /** Called after every change of state (the supervisor counts them: kernel.changes). */
  onStateSet: (() => void) | undefined;
  generation = 0;

  get state(): ProcessState {
    return this.current;
  }

  set state(state: ProcessState) {
    if (state === this.current) return;
    this.current = state;
    this.onStateSet?.();
  }

  restarts = 0;
  quickFailures = 0;
  startedAtMs = 0;
  thread: HardwareThread | undefined;
  /** The word the program asked the kernel to keep for its next generation (0: none). */
  remembered = 0;
  /** Why the last generation ended, for ps and the log. */
  lastExit = '';
  /** What the current generation's init failed with, if it did (INVALID_CONFIG is final: no restart). */
  initFailure: WireFailure | undefined;
  /** Heartbeat bookkeeping: last counter seen and how many checks it stood still. */
  lastBeats = -1;
  stalledChecks = 0;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolved when the current generation reports ready (or fails to). */
  private readyWaiters: Array<(ready: boolean) => void> = [];
  /** Set while a stop or restart was asked for, so the exit is not treated as a crash. */
  intent: 'none' | 'stop' | 'restart' = 'none';

  constructor(name: string, spec: ProgramSpec, slot: number, device?: DeviceBinding) {
    this.name = name;
    this.spec = spec;
    this.slot = slot;
    this.device = device;
  }

  get kind(): 'server' | 'driver' {
    return this.spec.kind;
  }

  /** Resolves true once running, false if it stopped or failed first. */
  whenReady(): Promise<boolean> {
    if (this.state === 'running') return Promise.resolve(true);
    if (this.state === 'stopped' || this.state === 'failed') return Promise.resolve(false);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  settle(ready: boolean): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter(ready);
  }
}
