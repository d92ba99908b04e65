// The thread's side of the control protocol: requests to the kernel that carry shared
// memory (name lookups, DMA memory) and the kernel's answers, matched by id.

import type { CurrentThread } from '../../hal/cpu.js';
import type { ChannelDescriptor } from '../../ipc/channel.js';
import { errorFromWire } from '../../ipc/errors.js';
import type { KernelToThread, ThreadToKernel } from '../protocol.js';

type Pending = { resolve(value: unknown): void; reject(error: Error): void };

export class KernelLink {
  private readonly thread: CurrentThread;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(thread: CurrentThread) {
    this.thread = thread;
  }

  post(message: ThreadToKernel): void {
    this.thread.post(message);
  }

  /** A channel to the service `name` speaking `interfaceName`; rejects with PERMISSION_DENIED, NOT_FOUND, PEER_STOPPED. */
  lookup(name: string, interfaceName: string): Promise<ChannelDescriptor> {
    return this.request((id) => ({ type: 'lookup', id, name, interfaceName })) as Promise<ChannelDescriptor>;
  }

  allocate(bytes: number, alignment: number): Promise<number> {
    return this.request((id) => ({ type: 'allocate', id, bytes, alignment })) as Promise<number>;
  }

  /** Routes a reply from the kernel; returns false if the message is not a reply. */
  handleReply(message: KernelToThread): boolean {
    if (message.type !== 'lookup-reply' && message.type !== 'allocate-reply') return false;
    const waiter = this.pending.get(message.id);
    if (!waiter) return true;
    this.pending.delete(message.id);
    if (message.error) waiter.reject(errorFromWire(message.error));
    else waiter.resolve(message.type === 'lookup-reply' ? message.channel : message.address);
    return true;
  }

  private request(build: (id: number) => ThreadToKernel): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.post(build(id));
    });
  }
}
