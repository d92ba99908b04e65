// The network server: baton's own TCP/IP stack (stack.ts and one file per protocol) on
// the netdev service of the board's network device, serving `net` (status, ping) and
// `socket` (TCP connections and listeners, sockets.ts).
//
// Config (manifest.json, or --bootargs net.ip=10.0.2.15/24 net.gateway=10.0.2.2):
//   ip       the interface's address and prefix, "ADDRESS/PREFIX" ('' for none)
//   gateway  the default router ('' for none)
//   device   the netdev instance to run on (default virtio-net)
// With no network device (booted without --net) the server runs and says so: status
// has no device, ping answers that there is no network. It looks for the device again
// whenever it is asked and has none.

import { defineServer } from '../../microkernel/userlib/server.js';
import { Type } from '../../ipc/typebox.js';
import { netdevInterface } from '../../ipc/interfaces/netdev.js';
import { netInterface, NoNetworkError } from '../../ipc/interfaces/net.js';
import { socketInterface } from '../../ipc/interfaces/socket.js';
import { socketHandlers } from './sockets.js';
import { InvalidArgumentError } from '../../ipc/errors.js';
import { formatIpv4, formatMac, parseCidr, parseIpv4 } from './address.js';
import { DeviceLink } from './device_link.js';
import { ping } from './ping.js';
import { NetworkStack, type InterfaceAddress } from './stack.js';
import { realTimers } from './timers.js';

const netConfig = Type.Object({
  ip: Type.String({ default: '' }),
  gateway: Type.String({ default: '' }),
  device: Type.String({ default: 'virtio-net', minLength: 1 }),
}, { additionalProperties: false });

let link: DeviceLink | undefined;

export default defineServer({
  config: netConfig,
  init(context) {
    const { config, log } = context;
    const address = configuredAddress(config.ip, config.gateway);
    if (typeof address === 'string') log.warn(address);
    const netdev = context.connect(netdevInterface, config.device);
    let stack: NetworkStack | undefined;
    let attaching: Promise<NetworkStack | undefined> | undefined;

    /** The stack on the device, made the first time the device answers. */
    const attach = (): Promise<NetworkStack | undefined> => {
      if (stack) return Promise.resolve(stack);
      attaching ??= (async () => {
        try {
          const info = await netdev.info({}, { timeoutMs: 5000 });
          const deviceLink = (link = new DeviceLink(netdev, log, (frame) => stack?.receive(frame)));
          deviceLink.linkUp = info.linkUp;
          stack = new NetworkStack({
            mac: info.mac, mtu: info.mtu, timers: realTimers,
            transmit: (frame) => deviceLink.transmit(frame),
            note: (message) => log.info(`net: ${message}`),
          });
          void deviceLink.receiveLoop();
          if (typeof address === 'object') stack.setAddress(address);
          else log.info(`net: ${formatMac(info.mac)} on ${config.device} has no address (boot with --bootargs net.ip=ADDRESS/PREFIX)`);
          return stack;
        } catch (error) {
          log.info({ error: (error as Error).message }, `net: no network device (${config.device}); boot with --net socket:PATH for one`);
          return undefined;
        } finally {
          attaching = undefined;
        }
      })();
      return attaching;
    };
    void attach();

    context.serve(socketInterface, socketHandlers(attach, (call) => context.isOpen(call), realTimers));
    context.serve(netInterface, {
      status: async () => {
        const current = await attach();
        if (current === undefined) return { linkUp: false, neighbours: [], counts: {} };
        const local = current.address;
        return {
          device: config.device,
          mac: formatMac(current.mac),
          mtu: current.mtu,
          linkUp: link?.linkUp ?? false,
          ...(local ? { address: `${formatIpv4(local.address)}/${local.prefixLength}` } : {}),
          ...(local?.gateway !== undefined ? { gateway: formatIpv4(local.gateway) } : {}),
          neighbours: current.arp.list(),
          counts: flattenCounts(current, link?.dropped ?? 0),
        };
      },
      ping: async (request) => {
        const current = await attach();
        if (current === undefined) throw new NoNetworkError('no network device: boot with --net socket:PATH');
        if (parseIpv4(request.address) === undefined) throw new InvalidArgumentError(`"${request.address}" is not an IPv4 address`);
        return ping(current, realTimers, request);
      },
    });
  },
  stop() {
    link?.stop();
  },
});

/** The interface address from config, or why it cannot be used. */
function configuredAddress(ip: string, gateway: string): InterfaceAddress | string | undefined {
  if (ip === '') return undefined;
  const cidr = parseCidr(ip);
  if (cidr === undefined) return `net.ip=${ip} is not ADDRESS/PREFIX (e.g. 10.0.2.15/24): the interface has no address`;
  if (gateway === '') return cidr;
  const router = parseIpv4(gateway);
  if (router === undefined) return `net.gateway=${gateway} is not an IPv4 address: the interface has no address`;
  return { ...cidr, gateway: router };
}

function flattenCounts(stack: NetworkStack, sendDropped: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [name, value] of Object.entries(stack.counts)) counts[`stack.${name}`] = value;
  for (const [name, value] of Object.entries(stack.arp.counts)) counts[`arp.${name}`] = value;
  for (const [name, value] of Object.entries(stack.reassembly.counts)) counts[`reassembly.${name}`] = value;
  counts['device.sendDropped'] = sendDropped;
  return counts;
}
