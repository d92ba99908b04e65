// The supervisor, after MINIX 3's reincarnation server.
//
// Starts each program on a thread shell, tells it which start this is (fresh or
// restart), and watches it: an uncaught error or an exit is a crash; a heartbeat counter
// that stands still for three periods is a hang; a generation not ready within its
// startTimeoutMs (an init that never resolves, a module stuck in a loop at import) is a
// hang at start, and its thread is terminated. Crashed and hung programs are restarted by
// their policy (restart_policy.ts) as a new generation — a generation that never became
// ready is always a quick failure, so backoff and "failed" apply to it; a thread whose
// JavaScript heap outgrows its manifest's heapLimitMiB is ended by the host as out of
// memory, a crash like any other; their channels
// are revoked first so clients see PEER_RESTARTED. Nothing a program does can reach the
// board: every thread error is caught here.

import { isOutOfMemory, type HardwareThread } from '../hal/cpu.js';
import { errorToWire } from '../ipc/errors.js';
import type { Logger } from './userlib/logger.js';
import { HEARTBEAT_BEATS, HEARTBEAT_BULK, HEARTBEAT_HEAP_KIB, HEARTBEAT_MESSAGES, HEARTBEAT_WORDS, parseThreadMessage, type BootInfo, type KernelToThread, type StartKind } from './protocol.js';
import type { Process } from './process.js';
import { decideRestart } from './restart_policy.js';
import { DEFAULT_START_TIMEOUT_MS } from './manifest.js';
import type { ThreadPool } from './thread_pool.js';
import type { NameService } from './name_service.js';
import type { PhysicalMemory } from './physical_memory.js';

/** Missed heartbeat periods before a program counts as hung. */
const HANG_PERIODS = 3;
/** How long a program gets to stop cleanly before it is terminated. */
const STOP_GRACE_MS = 1000;
/** The code of a config refused by its schema (userlib/config.ts): final, never retried. */
const INVALID_CONFIG = 'INVALID_CONFIG';
/** A server refused what it was given (userlib/config.ts StartRefusedError): final too. */
const START_REFUSED = 'START_REFUSED';

export interface SupervisorHost {
  readonly log: Logger;
  readonly pool: ThreadPool;
  readonly names: NameService;
  readonly memory: PhysicalMemory;
  readonly heartbeats: Int32Array;
  nowMs(): number;
  /** The boot information shared by every thread; per-program fields are filled in here. */
  bootInfo(process: Process, start: StartKind): BootInfo;
  /** A program's thread has ended: stop its device DMAing before its memory is reclaimed. */
  quiesce?(process: Process): void;
  /** Log records a program handed the kernel because it could not reach the log server. */
  keepLog?(process: Process, records: readonly unknown[]): void;
  /**
   * For a program whose unread requests the kernel keeps when it ends (the log server's: the
   * records nobody read yet), what takes them; read from its channels once they are closed.
   */
  salvage?(process: Process): ((frames: Uint8Array[]) => void) | undefined;
}

export class Supervisor {
  private readonly host: SupervisorHost;
  readonly processes: Process[] = [];
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private shuttingDown = false;
  private readonly listeners: Array<(process: Process, why?: string) => void> = [];
  private changes = 0;
  private readonly epochWaiters = new Set<() => void>();

  constructor(host: SupervisorHost) {
    this.host = host;
  }

  /** Calls `listener` whenever a program becomes running, restarting (with why) or failed. */
  onStateChange(listener: (process: Process, why?: string) => void): void {
    this.listeners.push(listener);
  }

  private changed(process: Process, why?: string): void {
    for (const listener of this.listeners) listener(process, why);
  }

  add(process: Process): void {
    this.processes.push(process);
    process.onStateSet = () => this.bump();
    this.bump();
  }

  /** Takes `process` out of the list (an unloaded driver instance). */
  remove(process: Process): void {
    const index = this.processes.indexOf(process);
    if (index < 0) return;
    this.processes.splice(index, 1);
    process.onStateSet = undefined;
    this.bump();
  }

  /**
   * Counts changes of the list: a program added or removed, or any program's state set
   * (its generation and restarts change only with its state). Messages and uptime do not count.
   */
  get epoch(): number {
    return this.changes;
  }

  /** Resolves with the epoch once it is past `after`, or after `waitMs` with the epoch as it is. */
  epochAfter(after: number, waitMs: number): Promise<number> {
    if (this.changes > after) return Promise.resolve(this.changes);
    return new Promise((resolve) => {
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(this.changes);
      };
      const timer = setTimeout(() => {
        this.epochWaiters.delete(waiter);
        resolve(this.changes);
      }, waitMs);
      this.epochWaiters.add(waiter);
    });
  }

  private bump(): void {
    this.changes++;
    const waiters = [...this.epochWaiters];
    this.epochWaiters.clear();
    for (const waiter of waiters) waiter();
  }

  find(name: string): Process | undefined {
    return this.processes.find((process) => process.name === name);
  }

  /** Starts the watchdog that checks heartbeats and start timeouts every 100 ms. */
  watch(): void {
    this.watchdog ??= setInterval(() => {
      this.checkStarts();
      this.checkHeartbeats();
    }, 100);
  }

  /** Starts a generation of `process`; resolves once it is ready or has failed to start. */
  async start(process: Process, start: StartKind): Promise<boolean> {
    if (this.shuttingDown) return false;
    process.generation++;
    process.state = 'starting';
    process.intent = 'none';
    process.lastBeats = -1;
    process.stalledChecks = 0;
    process.lastExit = '';
    process.initFailure = undefined;
    Atomics.store(this.host.heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_MESSAGES, 0);
    Atomics.store(this.host.heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_BULK, 0);
    Atomics.store(this.host.heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_HEAP_KIB, 0);
    let thread: HardwareThread;
    try {
      thread = await this.host.pool.take(process.spec.heapLimitMiB);
    } catch (error) {
      this.host.log.error({ error: errorToWire(error) }, `${process.name}: no thread could be started`);
      process.state = 'failed';
      process.settle(false);
      return false;
    }
    const generation = process.generation;
    process.thread = thread;
    process.startedAtMs = this.host.nowMs();
    thread.on('message', (message) => this.receive(process, generation, message));
    thread.on('error', (error) => this.onCrash(process, generation, isOutOfMemory(error)
      ? `out of memory: its JavaScript heap reached ${process.spec.heapLimitMiB === undefined ? 'the host\'s limit' : `its limit of ${process.spec.heapLimitMiB} MiB (heapLimitMiB)`}`
      : `crashed: ${error.message}`));
    thread.on('exit', (code) => this.onExit(process, generation, code));
    this.post(process, { type: 'start', boot: this.host.bootInfo(process, start) });
    return process.whenReady();
  }

  /** Stops `process` cleanly (or terminates it after a grace period); it stays stopped. */
  async stop(process: Process): Promise<void> {
    if (process.restartTimer) clearTimeout(process.restartTimer);
    process.restartTimer = undefined;
    if (!process.thread) {
      process.state = process.state === 'failed' ? 'failed' : 'stopped';
      process.settle(false);
      return;
    }
    process.intent = 'stop';
    process.state = 'stopping';
    await this.endThread(process);
  }

  /** Restart on request: a clean stop, then the next generation with start kind "restart". */
  async restart(process: Process): Promise<boolean> {
    if (process.restartTimer) clearTimeout(process.restartTimer);
    process.restartTimer = undefined;
    if (process.thread) {
      process.intent = 'restart';
      process.state = 'restarting';
      await this.endThread(process);
    }
    process.restarts++;
    process.quickFailures = 0;
    return this.start(process, 'restart');
  }

  /** Makes `process` crash (for `kill`), so the supervisor's crash path runs. */
  kill(process: Process): void {
    const thread = process.thread;
    if (!thread) return;
    this.post(process, { type: 'crash', reason: 'killed on request' });
    // A hung program cannot run its crash handler: terminate it if it has not died soon.
    const generation = process.generation;
    setTimeout(() => {
      if (process.generation === generation && process.thread === thread) void thread.terminate();
    }, STOP_GRACE_MS).unref();
  }

  /** Stops every program, newest first; used by shutdown, reboot and kexec. */
  async stopAll(): Promise<void> {
    await this.stopAllExcept([]);
  }

  /** Stops every program except those serving one of `services`, newest first; nothing restarts afterwards. */
  async stopAllExcept(services: readonly string[]): Promise<void> {
    this.shuttingDown = true;
    if (this.watchdog) clearInterval(this.watchdog);
    // All at once: a stop handler that still needs a stopped service gets PEER_STOPPED.
    const stopping = [...this.processes].filter((process) => !process.spec.serves.some((service) => services.includes(service)));
    await Promise.all(stopping.map((process) => this.stop(process)));
  }

  private post(process: Process, message: KernelToThread): void {
    process.thread?.post(message);
  }

  private receive(process: Process, generation: number, raw: unknown): void {
    if (process.generation !== generation) return;
    const message = parseThreadMessage(raw);
    if (!message) {
      this.host.log.warn({ server: process.name }, `${process.name}: malformed control message ignored`);
      return;
    }
    switch (message.type) {
      case 'ready':
        process.state = 'running';
        this.host.log.info(`${process.name}: generation ${generation} running`);
        process.settle(true);
        this.changed(process);
        return;
      case 'remember':
        process.remembered = message.value;
        return;
      case 'log':
        this.host.keepLog?.(process, message.records);
        return;
      case 'stopped':
        void process.thread?.terminate();
        return;
      case 'init-failed':
        process.initFailure = message.error;
        if (message.error.code === INVALID_CONFIG || message.error.code === START_REFUSED) return; // final: said once, when the thread has exited
        process.lastExit = `init failed: ${message.error.message}${message.where ? ` (${message.where})` : ''}`;
        this.host.log.error({ server: process.name, generation, ...(message.stack ? { stack: message.stack } : {}) },
          `${process.name}: ${process.lastExit}`);
        return;
      case 'lookup':
        this.host.names.lookup(process, message.name, message.interfaceName).then(
          (channel) => this.post(process, { type: 'lookup-reply', id: message.id, channel }),
          (error) => this.post(process, { type: 'lookup-reply', id: message.id, error: errorToWire(error) }),
        );
        return;
      case 'allocate':
        this.host.memory.allocate(process.name, message.bytes, message.alignment).then(
          (address) => this.post(process, { type: 'allocate-reply', id: message.id, address }),
          (error: unknown) => this.post(process, { type: 'allocate-reply', id: message.id, error: error instanceof RangeError ? { code: 'OUT_OF_MEMORY', message: error.message } : errorToWire(error) }),
        );
        return;
      default:
        return;
    }
  }

  private onCrash(process: Process, generation: number, reason: string): void {
    if (process.generation !== generation) return;
    // An init failure already said why (with where); the thread's error is that same throw.
    if (!process.lastExit.startsWith('init failed')) process.lastExit = reason;
  }

  private onExit(process: Process, generation: number, code: number): void {
    if (process.generation !== generation || process.thread === undefined) return;
    const ranForMs = this.host.nowMs() - process.startedAtMs;
    const becameReady = process.state !== 'starting';
    process.thread = undefined;
    this.host.quiesce?.(process);
    // A program that remembers where its state is keeps its memory for its next generation.
    if (process.remembered === 0) {
      this.host.memory.release(process.name).catch((error: unknown) =>
        this.host.log.warn(`${process.name}: its memory could not be reclaimed: ${(error as Error).message}`));
    }
    if (process.intent === 'stop' || process.intent === 'restart' || this.shuttingDown) {
      const stoppedFor = process.intent === 'restart' ? 'peer-restarted' : 'peer-stopped';
      this.host.names.revoke(process, stoppedFor, process.generation + (stoppedFor === 'peer-restarted' ? 1 : 0), this.host.salvage?.(process));
      if (process.intent !== 'restart') {
        process.state = 'stopped';
        process.settle(false);
      }
      return;
    }
    if (process.initFailure?.code === INVALID_CONFIG || process.initFailure?.code === START_REFUSED) {
      // The same config would fail the same way: refuse it once, clearly, and keep the system up.
      this.host.names.revoke(process, 'peer-stopped', process.generation);
      process.state = 'failed';
      process.lastExit = process.initFailure.message;
      this.host.log.error(process.initFailure.code === INVALID_CONFIG
        ? `${process.initFailure.message}; not started (fix its manifest or boot arguments)`
        : `${process.name}: ${process.initFailure.message}; not started`);
      process.settle(false);
      this.changed(process);
      return;
    }
    const reason = process.lastExit || `exited with code ${code}`;
    process.lastExit = reason;
    const decision = decideRestart(process.spec.restart, process.quickFailures, { ranForMs, becameReady });
    process.quickFailures = decision.quickFailures;
    if (decision.action === 'give-up') {
      this.host.names.revoke(process, 'peer-stopped', process.generation, this.host.salvage?.(process));
      process.state = 'failed';
      this.host.log.error(`${process.name}: ${reason}; marked failed (${decision.reason})`);
      process.settle(false);
      this.changed(process);
      return;
    }
    this.host.names.revoke(process, 'peer-restarted', process.generation + 1, this.host.salvage?.(process));
    process.state = 'restarting';
    process.restarts++;
    this.changed(process, reason);
    this.host.log.warn(`${process.name}: generation ${process.generation} ${reason}; restarting in ${decision.delayMs} ms`);
    process.restartTimer = setTimeout(() => {
      process.restartTimer = undefined;
      void this.start(process, 'restart');
    }, decision.delayMs);
  }

  /** Terminates a generation not ready within its startTimeoutMs: a hang at start, for the restart policy. */
  private checkStarts(): void {
    const now = this.host.nowMs();
    for (const process of this.processes) {
      if (process.state !== 'starting' || !process.thread || process.lastExit.startsWith('not ready')) continue;
      const timeout = process.spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
      if (now - process.startedAtMs <= timeout) continue;
      process.lastExit = `not ready after ${timeout} ms: treated as hung`;
      this.host.log.error({ server: process.name, generation: process.generation }, `${process.name}: generation ${process.generation} ${process.lastExit}`);
      // terminate() ends a thread wherever it is, a loop at import included.
      void process.thread.terminate();
    }
  }

  private checkHeartbeats(): void {
    const now = this.host.nowMs();
    for (const process of this.processes) {
      if (process.state !== 'running' || !process.thread) continue;
      const beats = Atomics.load(this.host.heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_BEATS);
      if (beats !== process.lastBeats) {
        process.lastBeats = beats;
        process.stalledChecks = 0;
        continue;
      }
      process.stalledChecks++;
      const stalledMs = process.stalledChecks * 100;
      if (stalledMs >= HANG_PERIODS * process.spec.heartbeatMs && now - process.startedAtMs > HANG_PERIODS * process.spec.heartbeatMs) {
        process.lastExit = `hung: no heartbeat for ${Math.round(stalledMs)} ms`;
        void process.thread.terminate();
      }
    }
  }

  private async endThread(process: Process): Promise<void> {
    const thread = process.thread;
    if (!thread) return;
    const exited = new Promise<void>((resolve) => thread.on('exit', () => resolve()));
    this.post(process, { type: 'stop' });
    const timer = setTimeout(() => void thread.terminate(), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

export function messagesHandled(heartbeats: Int32Array, process: Process): number {
  return Atomics.load(heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_MESSAGES);
}

/** Bytes of JavaScript heap `process`'s thread uses, as of its last heartbeat (0 before its first). */
export function heapBytes(heartbeats: Int32Array, process: Process): number {
  return Atomics.load(heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_HEAP_KIB) * 1024;
}

/** Messages `process` moved through lent RAM pages this generation, as of its last heartbeat. */
export function bulkMessages(heartbeats: Int32Array, process: Process): number {
  return Atomics.load(heartbeats, process.slot * HEARTBEAT_WORDS + HEARTBEAT_BULK);
}
