// Where a thread's log records go: straight to the log server over its channel while that
// is open, and to the kernel (a `log` control message) whenever it is not — before the first
// lookup has answered, while the log server restarts, is stopped or has failed. The kernel
// keeps those and hands them to the log server's next generation (microkernel/log_buffer.ts),
// so a record is not lost because the log server was down when it was written.

import type { ChannelDescriptor } from '../../ipc/channel.js';
import type { ClientChannel } from '../../ipc/client_channel.js';
import type { Endpoint } from '../../ipc/endpoint.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { MessageTooLargeError } from '../../ipc/errors.js';
import type { LogRecordData } from './logger.js';

export interface LogLinkOptions {
  readonly endpoint: Endpoint;
  /** A channel to the log service (resolves once it runs; rejects while it is stopped or failed). */
  lookup(): Promise<ChannelDescriptor>;
  /** Hands records to the kernel, which keeps them for the log server. */
  toKernel(records: LogRecordData[]): void;
}

export class LogLink {
  private readonly options: LogLinkOptions;
  private channel: ClientChannel | undefined;
  private connecting = false;

  constructor(options: LogLinkOptions) {
    this.options = options;
  }

  /** Sends one batch (as the logger makes them); never throws. */
  write(records: LogRecordData[]): void {
    const channel = this.channel;
    if (channel?.open) {
      try {
        channel.send(logInterface, 'write', { records });
        return;
      } catch (error) {
        // Too large for this channel's ring (small ipc.ring_bytes): the kernel's control channel carries it.
        if (!(error instanceof MessageTooLargeError) && channel.open) return;
      }
    }
    this.options.toKernel(records);
    this.connect();
  }

  private connect(): void {
    if (this.connecting || this.channel?.open) return;
    this.connecting = true;
    this.options.lookup().then(
      (descriptor) => {
        this.channel = this.options.endpoint.attachClient(descriptor);
      },
      () => {
        // Stopped or failed: records go to the kernel until a later write finds it again.
      },
    ).finally(() => {
      this.connecting = false;
    });
  }
}
