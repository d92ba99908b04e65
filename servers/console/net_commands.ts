// Console commands for the network: ip (the interface, its ARP cache, its counters) and
// ping. They speak the network server's `net` interface.

import type { ClientOf } from '../../ipc/define.js';
import { PING_MAXIMUM_COUNT, type netInterface } from '../../ipc/interfaces/net.js';
import type { Command } from './commands.js';

export interface NetCommandServices {
  readonly net: ClientOf<typeof netInterface>;
}

type NetCommand = Command<NetCommandServices>;

const PING_INTERVAL_MS = 1000;
const PING_WAIT_MS = 2000;

export const netCommands: Record<string, NetCommand> = {
  ip: {
    forms: [{ parameters: [] }, { subcommand: 'neigh', parameters: [] }, { subcommand: 'stats', parameters: [] }],
    summary: 'the network interface: MAC, link, address; neigh: the ARP cache; stats: the counters',
    run: async (args, { net }) => {
      const status = await net.status({});
      if (status.device === undefined) return { output: 'no network device (start with --net socket:PATH)' };
      switch (args.subcommand) {
        case 'neigh':
          if (status.neighbours.length === 0) return { output: 'the ARP cache is empty' };
          return { output: status.neighbours.map((row) => `${row.address} lladdr ${row.mac}${row.expiresInMs > 0 ? ` (${Math.ceil(row.expiresInMs / 1000)} s)` : ''}`).join('\n') };
        case 'stats':
          return { output: Object.entries(status.counts).filter(([, value]) => value !== 0).map(([name, value]) => `${name.padEnd(32)} ${value}`).join('\n') || 'no traffic yet' };
        default:
          return {
            output: [
              `eth0: ${status.linkUp ? 'link up' : 'link down'}  mtu ${status.mtu}  device ${status.device}`,
              `    link/ether ${status.mac}`,
              status.address ? `    inet ${status.address}${status.gateway ? `  gateway ${status.gateway}` : ''}` : '    no address (boot with --bootargs net.ip=ADDRESS/PREFIX)',
            ].join('\n'),
          };
      }
    },
  },
  ping: {
    forms: [{ parameters: [
      { name: 'ADDRESS', kind: 'text', describe: 'an IPv4 address, e.g. 10.0.2.2' },
      { name: 'N', kind: 'integer', flag: '-c', minimum: 1, maximum: PING_MAXIMUM_COUNT, default: 4, describe: `how many echo requests, a second apart (default 4, at most ${PING_MAXIMUM_COUNT})` },
    ] }],
    summary: 'send ICMP echo requests to ADDRESS and show the replies',
    run: async (args, { net }) => {
      const address = args.word('ADDRESS');
      const count = args.integer('N');
      const result = await net.ping({ address, count, intervalMs: PING_INTERVAL_MS, timeoutMs: PING_WAIT_MS },
        { timeoutMs: count * PING_INTERVAL_MS + PING_WAIT_MS + 5000 });
      const lost = result.sent === 0 ? 100 : Math.round((1 - result.replies.length / result.sent) * 100);
      const times = result.replies.map((reply) => reply.timeMs);
      return {
        output: [
          `PING ${address}: 56 data bytes`,
          ...result.replies.map((reply) => `${reply.bytes} bytes from ${address}: icmp_seq=${reply.sequence} ttl=${reply.ttl} time=${reply.timeMs.toFixed(2)} ms`),
          ...result.errors.map((error) => `error: ${error}`),
          `--- ${address} ping statistics ---`,
          `${result.sent} packets transmitted, ${result.replies.length} received, ${lost}% packet loss`,
          ...(times.length > 0 ? [`rtt min/avg/max = ${Math.min(...times).toFixed(2)}/${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(2)}/${Math.max(...times).toFixed(2)} ms`] : []),
        ].join('\n'),
      };
    },
  },
};
