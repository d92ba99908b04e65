// Console commands for the network: ip (the interface, its ARP cache, its counters) and
// ping. They speak the network server's `net` interface.

import type { ClientOf } from '../../ipc/define.js';
import { PING_MAXIMUM_COUNT, type netInterface } from '../../ipc/interfaces/net.js';
import { SOCKET_TRANSFER_BYTES, type socketInterface } from '../../ipc/interfaces/socket.js';
import type { Command } from './commands.js';

export interface NetCommandServices {
  readonly net: ClientOf<typeof netInterface>;
  readonly sockets: ClientOf<typeof socketInterface>;
}

/** How long nc waits for a connection, or for the peer to finish. */
const NC_WAIT_MS = 30_000;
const RECEIVE_WAIT_MS = 1000;

/** Reads a connection until the peer closes it (or NC_WAIT_MS passes); returns the text. */
async function readToEnd(sockets: ClientOf<typeof socketInterface>, socket: number): Promise<{ text: string; ended: boolean }> {
  const parts: Uint8Array[] = [];
  const deadline = Date.now() + NC_WAIT_MS;
  for (;;) {
    const { data, ended } = await sockets.receive({ socket, maximumBytes: SOCKET_TRANSFER_BYTES, waitMs: RECEIVE_WAIT_MS });
    if (data.length > 0) parts.push(data);
    if (ended) return { text: decode(parts), ended: true };
    if (Date.now() > deadline) return { text: decode(parts), ended: false };
  }
}

function decode(parts: readonly Uint8Array[]): string {
  const decoder = new TextDecoder();
  return parts.map((part) => decoder.decode(part, { stream: true })).join('') + decoder.decode();
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
  nc: {
    forms: [
      { subcommand: '-l', parameters: [{ name: 'PORT', kind: 'integer', minimum: 1, maximum: 65535 }] },
      { parameters: [
        { name: 'ADDRESS', kind: 'text', describe: 'an IPv4 address, e.g. 10.0.2.16' },
        { name: 'PORT', kind: 'integer', minimum: 1, maximum: 65535 },
        { name: 'TEXT', kind: 'text', rest: true, optional: true, describe: 'a line to send (a newline is added): the rest of the line' },
      ] },
    ],
    summary: 'TCP: -l PORT takes one connection and prints what it sends until it closes; ADDRESS PORT [TEXT] connects, sends TEXT and a newline, and closes',
    run: async (args, { sockets }) => {
      if (args.subcommand === '-l') {
        const port = args.integer('PORT');
        const { socket: listening } = await sockets.listen({ port, backlog: 1 });
        try {
          const deadline = Date.now() + NC_WAIT_MS;
          let accepted: { socket?: number; remote?: string } = {};
          while (accepted.socket === undefined && Date.now() < deadline) accepted = await sockets.accept({ socket: listening, waitMs: RECEIVE_WAIT_MS });
          if (accepted.socket === undefined) return { output: `nc: no connection to port ${port} within ${NC_WAIT_MS / 1000} s` };
          const { text, ended } = await readToEnd(sockets, accepted.socket);
          await sockets.close({ socket: accepted.socket });
          return { output: `connection from ${accepted.remote ?? '?'}\n${text}${ended ? '' : `\n(nc: still open after ${NC_WAIT_MS / 1000} s; closed)`}`.trimEnd() };
        } finally {
          await sockets.close({ socket: listening });
        }
      }
      const { socket } = await sockets.connect({ address: args.word('ADDRESS'), port: args.integer('PORT'), timeoutMs: NC_WAIT_MS }, { timeoutMs: NC_WAIT_MS + 5000 });
      try {
        const text = args.optionalWord('TEXT');
        if (text !== undefined) await sockets.send({ socket, data: new TextEncoder().encode(`${text}\n`) });
        await sockets.close({ socket });
        return { output: '' };
      } catch (error) {
        await sockets.close({ socket });
        throw error;
      }
    },
  },
  netstat: {
    forms: [{ parameters: [] }],
    summary: 'TCP sockets: local and remote address, state',
    run: async (_, { sockets }) => {
      const { rows } = await sockets.list({});
      if (rows.length === 0) return { output: 'no TCP sockets' };
      const widths = [Math.max(5, ...rows.map((row) => row.local.length)), Math.max(6, ...rows.map((row) => row.remote.length))];
      return { output: [['LOCAL', 'REMOTE', 'STATE'], ...rows.map((row) => [row.local, row.remote, row.state])].map(([local, remote, state]) => `${local!.padEnd(widths[0]!)}  ${remote!.padEnd(widths[1]!)}  ${state}`).join('\n') };
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
