// The globals every hardware thread has, declared for the layers that run on one.
//
// hal/ and tools/ see Node's own types (@types/node): they touch host resources. ipc/,
// microkernel/, servers/ and drivers/ run on worker threads and see only this: what any
// JavaScript thread offers (timers, a clock, a console, text codecs, URL, random bytes,
// module URLs), and nothing of Node's host APIs (no fs, no process, no worker_threads, no
// Buffer): `import ... from 'node:fs'` there does not compile. Host needs go through hal/
// (hal/cpu.ts starts threads, hal/firmware.ts carries requests to the board,
// hal/json_logger.ts is pino). Not part of hal's own project, whose @types/node declares
// all of this already.

/** What setTimeout and setInterval return: a handle to clear, and to let the thread end while it waits (unref). */
interface ThreadTimer {
  ref(): ThreadTimer;
  unref(): ThreadTimer;
}
declare function setTimeout(callback: (argument: void) => void, milliseconds?: number): ThreadTimer;
declare function setTimeout<A extends unknown[]>(callback: (...args: A) => void, milliseconds?: number, ...args: A): ThreadTimer;
declare function clearTimeout(timer: ThreadTimer | undefined): void;
declare function setInterval(callback: (argument: void) => void, milliseconds?: number): ThreadTimer;
declare function setInterval<A extends unknown[]>(callback: (...args: A) => void, milliseconds?: number, ...args: A): ThreadTimer;
declare function clearInterval(timer: ThreadTimer | undefined): void;
/** Runs `callback` after the I/O already queued (Node and Deno; the fast path for yielding). */
declare function setImmediate(callback: (argument: void) => void): ThreadTimer;
declare function setImmediate<A extends unknown[]>(callback: (...args: A) => void, ...args: A): ThreadTimer;
declare function queueMicrotask(callback: () => void): void;
declare function structuredClone<T>(value: T): T;

interface ThreadPerformance {
  /** Milliseconds since this thread started, with sub-millisecond resolution. */
  now(): number;
  /** When this thread started, in milliseconds since the epoch. */
  readonly timeOrigin: number;
}
declare var performance: ThreadPerformance;

interface ThreadConsole {
  log(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
}
declare var console: ThreadConsole;

interface TextEncoderEncodeIntoResult {
  read: number;
  written: number;
}
interface TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult;
}
declare var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };
interface TextDecodeOptions {
  stream?: boolean;
}
interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
interface TextDecoder {
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBufferView | ArrayBufferLike, options?: TextDecodeOptions): string;
}
declare var TextDecoder: { prototype: TextDecoder; new (label?: string, options?: TextDecoderOptions): TextDecoder };

/** The URL standard's parser (module URLs: `new URL('./x.js', import.meta.url)`). */
interface URL {
  href: string;
  readonly origin: string;
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
  toString(): string;
}
declare var URL: { prototype: URL; new (url: string | URL, base?: string | URL): URL };

/** An ES module's own URL. */
interface ImportMeta {
  readonly url: string;
}

/** Web Crypto's random bytes (no keys, no digests). */
interface ThreadCrypto {
  getRandomValues<T extends ArrayBufferView>(array: T): T;
  randomUUID(): string;
}
declare var crypto: ThreadCrypto;
