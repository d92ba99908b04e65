// Thread shells: workers with the server runtime loaded, waiting to be told what to run.
//
// Starting a worker and loading the runtime is most of a server's start-up, so the
// kernel keeps one spare shell warm. A (re)start takes the spare, and a new spare is
// started behind it. A program with a heap limit of its own (its manifest's heapLimitMiB)
// gets a shell started for it with that limit: a worker's resource limits are fixed when
// it starts, so the shared spare cannot be used.

import { HardwareThread } from '../hal/cpu.js';

export class ThreadPool {
  private readonly shellEntry: URL;
  private spare: Promise<HardwareThread> | undefined;
  private closed = false;
  private keepingSpare = false;
  private counter = 0;

  constructor(shellEntry: URL) {
    this.shellEntry = shellEntry;
  }

  /**
   * A shell that has reported ready: the warm spare if there is one, else a new one (so
   * concurrent takes at boot start their threads in parallel). Keeps a spare warming.
   * With `heapMiB`, a new shell whose JavaScript heap is held to that many MiB.
   */
  async take(heapMiB?: number): Promise<HardwareThread> {
    if (heapMiB !== undefined) {
      const shell = await this.launch(heapMiB);
      shell.ref();
      return shell;
    }
    const next = this.spare ?? this.launch();
    this.spare = this.closed || !this.keepingSpare ? undefined : this.launch();
    const shell = await next;
    shell.ref();
    return shell;
  }

  /**
   * From now on keep one spare shell warm. The kernel calls this once boot is done, so the
   * spare's start-up does not compete with the boot's own threads for the CPU.
   */
  keepSpare(): void {
    if (this.keepingSpare || this.closed) return;
    this.keepingSpare = true;
    this.spare ??= this.launch();
  }

  /** Stops the spare; later takes start shells on demand. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    if (spare) await (await spare.catch(() => undefined))?.terminate();
  }

  private launch(heapMiB?: number): Promise<HardwareThread> {
    const shell = new HardwareThread(this.shellEntry, { name: `shell-${++this.counter}`, ...(heapMiB === undefined ? {} : { heapMiB }) });
    shell.unref();
    const ready = new Promise<HardwareThread>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if ((message as { type?: string })?.type === 'shell-ready') resolve(shell);
      };
      shell.on('message', onMessage);
      shell.on('exit', (code) => reject(new Error(`thread shell exited with code ${code} before it was ready`)));
    });
    ready.catch(() => undefined); // a spare nobody takes may fail quietly; take() still sees the rejection
    return ready;
  }
}
