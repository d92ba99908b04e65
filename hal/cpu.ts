// Hardware threads: the board's processors are Node worker threads.
//
// The kernel and every server run on one. This file is the only place that touches
// worker_threads, so layers above stay free of host APIs: they start threads and talk to
// their parent through these two small types.

import { getHeapStatistics } from 'node:v8';
import { Worker, parentPort, workerData, isMainThread } from 'node:worker_threads';

export interface ThreadEvents {
  /** The thread's code threw an uncaught error (the thread is exiting). */
  error(error: Error): void;
  /** The thread has stopped; `code` is its exit code (1 after an uncaught error). */
  exit(code: number): void;
  message(message: unknown): void;
  online(): void;
}

export interface StartThreadOptions {
  readonly name: string;
  /** Structured-cloned into the thread; SharedArrayBuffers inside are shared, not copied. */
  readonly data?: unknown;
  /** Limit in MiB of the thread's old-generation heap (where long-lived objects go); undefined for Node's default. */
  readonly heapMiB?: number;
}

/** A started thread, as seen by whoever started it. */
export class HardwareThread {
  readonly name: string;
  private readonly worker: Worker;
  private exited = false;
  private exitCode: number | undefined;

  constructor(entry: URL, options: StartThreadOptions) {
    this.name = options.name;
    this.worker = new Worker(entry, {
      workerData: options.data,
      name: options.name,
      stdout: false,
      stderr: false,
      ...(options.heapMiB ? { resourceLimits: { maxOldGenerationSizeMb: options.heapMiB } } : {}),
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
    });
    // An 'error' event without a listener would be rethrown in this thread: always listen.
    this.worker.on('error', () => undefined);
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  get hasExited(): boolean {
    return this.exited;
  }

  on<E extends keyof ThreadEvents>(event: E, listener: ThreadEvents[E]): this {
    this.worker.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof ThreadEvents>(event: E, listener: ThreadEvents[E]): this {
    this.worker.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  post(message: unknown): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  /** Stops the thread at once wherever it is; resolves when it has exited. */
  async terminate(): Promise<number> {
    if (this.exited) return this.exitCode ?? 0;
    const exited = new Promise<number>((resolve) => this.worker.once('exit', resolve));
    await this.worker.terminate();
    return exited;
  }

  /** Lets the host process exit while this thread still runs (for idle spares). */
  unref(): void {
    this.worker.unref();
  }

  ref(): void {
    this.worker.ref();
  }
}

/**
 * True if `error` (a thread's 'error' event) says the host ended the thread because its
 * JavaScript heap reached the thread's limit (Node's ERR_WORKER_OUT_OF_MEMORY).
 */
export function isOutOfMemory(error: Error): boolean {
  return (error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

/** The running thread's own view: its start data and the channel to its parent. */
export interface CurrentThread {
  readonly isMain: boolean;
  readonly data: unknown;
  post(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Stop receiving messages so the thread can end when its work is done. */
  close(): void;
  /** From now on, stack traces of modules loaded later point into their sources (source maps). */
  mapStackTraces(): void;
  /** Bytes of this thread's JavaScript heap in use (V8's used_heap_size). */
  heapBytes(): number;
}

export function currentThread(): CurrentThread {
  return {
    isMain: isMainThread,
    data: workerData,
    post: (message) => parentPort?.postMessage(message),
    onMessage: (listener) => void parentPort?.on('message', listener),
    close: () => parentPort?.close(),
    mapStackTraces: () => process.setSourceMapsEnabled(true),
    heapBytes: () => getHeapStatistics().used_heap_size,
  };
}
