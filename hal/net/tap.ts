// `--net tap:IFNAME`: the board's network device on a Linux TAP device, so the host's own
// network stack is the peer (as QEMU's `-netdev tap`). Needs CAP_NET_ADMIN (root).
//
// Node cannot open a TAP device by itself: that takes ioctl(TUNSETIFF) on /dev/net/tun.
// The choices were an FFI package with native binaries (koffi) for that one ioctl, with a
// libuv thread blocked in read() per device; or socat, the host tool the tests use anyway,
// which opens the TAP and relays each frame as one UDP datagram on the loopback (datagrams
// keep frame boundaries, which a pipe would not). baton takes socat: no native code in its
// dependencies, and socat is in every distribution (package socat).
//
// The relay lives exactly as long as the board: socat runs under a small sh that kills it
// when its standard input — a pipe from the board — closes, which happens at close() and
// when the board's process dies in any way. Only frames from socat's own port are taken.

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import type { NetworkLink } from './link.js';

const LOOPBACK = '127.0.0.1';
/** sh script: $1 interface, $2 the board's port, $3 socat's port. socat dies with the board's pipe. */
// (A background job's stdin is /dev/null in sh, so the pipe is kept as descriptor 3 for it.)
const RELAY = 'exec 3<&0; socat -d -d "TUN,tun-type=tap,tun-name=$1,iff-no-pi,iff-up" "UDP4-DATAGRAM:127.0.0.1:$2,bind=127.0.0.1:$3" </dev/null & relay=$!; '
  + '(read ignored <&3; kill $relay 2>/dev/null) & wait $relay';
const READY = 'starting data transfer loop';
const START_TIMEOUT_MS = 10_000;

function bindLoopback(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, LOOPBACK, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

export class TapLink implements NetworkLink {
  readonly description: string;
  private handler: ((frame: Uint8Array) => void) | undefined;
  private linkHandler: ((up: boolean) => void) | undefined;
  private running = true;
  private closed = false;

  private constructor(readonly interfaceName: string, private readonly socket: Socket, private readonly relay: ChildProcess, private readonly relayPort: number) {
    this.description = `tap:${interfaceName}`;
    socket.on('message', (message, from) => {
      if (from.port === relayPort && from.address === LOOPBACK) this.handler?.(new Uint8Array(message));
    });
    socket.on('error', () => undefined);
    relay.once('exit', () => {
      if (!this.running) return;
      this.running = false;
      this.linkHandler?.(false);
    });
  }

  /** Creates TAP device `interfaceName` through socat; rejects with socat's reason (no permission, name in use, no socat). */
  static async open(interfaceName: string): Promise<TapLink> {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(interfaceName)) throw new Error(`"${interfaceName}" is not an interface name`);
    const socket = await bindLoopback();
    const probe = await bindLoopback();
    const relayPort = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const relay = spawn('sh', ['-c', RELAY, 'sh', interfaceName, String(socket.address().port), String(relayPort)], { stdio: ['pipe', 'ignore', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let said = '';
        const timer = setTimeout(() => reject(new Error(`socat did not start the TAP relay within ${START_TIMEOUT_MS} ms: ${said.trim()}`)), START_TIMEOUT_MS);
        relay.stderr!.on('data', (chunk: Buffer) => {
          said += chunk.toString();
          if (said.includes(READY)) {
            clearTimeout(timer);
            resolve();
          }
        });
        relay.once('error', (error) => { clearTimeout(timer); reject(new Error(`cannot run socat (package socat): ${error.message}`)); });
        relay.once('exit', (code) => {
          clearTimeout(timer);
          const reason = said.split('\n').filter((line) => / E /.test(line)).map((line) => line.replace(/^.* E /, '')).join('; ') || said.trim();
          reject(new Error(code === 127 ? 'socat is not installed (package socat)' : `socat could not open TAP ${interfaceName} (it needs CAP_NET_ADMIN): ${reason}`));
        });
      });
    } catch (error) {
      relay.stdin!.end();
      socket.close();
      throw error;
    }
    relay.stderr!.resume();
    return new TapLink(interfaceName, socket, relay, relayPort);
  }

  get up(): boolean {
    return this.running;
  }

  send(frame: Uint8Array): void {
    if (this.running) this.socket.send(frame, this.relayPort, LOOPBACK);
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
  }

  onLinkChange(handler: (up: boolean) => void): void {
    this.linkHandler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    this.relay.stdin?.end();
    this.socket.close();
  }
}
