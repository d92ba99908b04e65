// The client proxy Endpoint.client returns: connects lazily and survives server restarts.
//
//   first use        → connector.connect()            → attachClient
//   channel closed   → connector.reconnect(previous)  → attachClient   (once, shared by all callers)
//   PEER_RESTARTED   → idempotent op: reconnect and retry once; otherwise reject, carrying the
//                      new generation (the next call reconnects)
//
// A call whose channel is open goes straight to the ring, without an extra promise hop.

import type { ChannelDescriptor } from './channel.js';
import { buildProxy, type ClientChannel } from './client_channel.js';
import { compileInterface, explainMismatch, type CallOptions, type ClientOf, type CompiledOperation, type InterfaceDefinition } from './define.js';
import { InvalidArgumentError, PeerRestartedError } from './errors.js';

/** How a client obtains (and after a restart, re-obtains) its channel, usually from the kernel. */
export interface Connector {
  connect(): Promise<ChannelDescriptor>;
  /** Called with the dead channel's descriptor after the server restarted or the channel closed. */
  reconnect(previous: ChannelDescriptor): Promise<ChannelDescriptor>;
}

/** What the proxy needs from its Endpoint. */
export interface ConnectingHost {
  attachClient(descriptor: ChannelDescriptor): ClientChannel;
  fault(error: unknown, where: string): void;
}

export function createConnectedClient<D extends InterfaceDefinition>(host: ConnectingHost, definition: D, connector: Connector): ClientOf<D> {
  const compiled = compileInterface(definition);
  let channel: ClientChannel | undefined;
  let connecting: Promise<ClientChannel> | undefined;

  const openChannel = (): ClientChannel | undefined => (channel?.open ? channel : undefined);

  const connect = (): Promise<ClientChannel> => {
    if (connecting) return connecting;
    const previous = channel;
    connecting = (async () => {
      try {
        const descriptor = previous ? await connector.reconnect(previous.descriptor) : await connector.connect();
        if (descriptor.interfaceName !== compiled.name) {
          throw new InvalidArgumentError(`connector returned a ${descriptor.interfaceName} channel for a ${compiled.name} client`);
        }
        if (previous?.open) previous.detach();
        channel = host.attachClient(descriptor);
        return channel;
      } finally {
        connecting = undefined;
      }
    })();
    return connecting;
  };

  const acquire = (): ClientChannel | Promise<ClientChannel> => openChannel() ?? connect();

  const attempt = (operation: CompiledOperation, args: unknown, options?: CallOptions): Promise<unknown> => {
    const ready = acquire();
    return ready instanceof Promise
      ? ready.then((opened) => opened.callOperation(operation, args, options))
      : ready.callOperation(operation, args, options);
  };

  const call = (operation: CompiledOperation, args: unknown, options?: CallOptions): Promise<unknown> => {
    const first = attempt(operation, args, options);
    if (!operation.idempotent) return first;
    return first.catch((error: unknown) => {
      if (!(error instanceof PeerRestartedError)) throw error;
      return attempt(operation, args, options);
    });
  };

  const send = (operation: CompiledOperation, args: unknown): void => {
    const opened = openChannel();
    if (opened) {
      opened.sendOperation(operation, args);
      return;
    }
    const mismatch = explainMismatch(operation.args, args);
    if (mismatch !== undefined) throw new InvalidArgumentError(`invalid arguments for ${compiled.name}.${operation.name}: ${mismatch}`);
    connect().then(
      (connected) => connected.sendOperation(operation, args),
    ).catch((error: unknown) => host.fault(error, `send ${compiled.name}.${operation.name} while connecting`));
  };

  return buildProxy<D>(compiled, call, send);
}
