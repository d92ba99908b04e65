// The stack of one Ethernet interface: Ethernet II in and out, ARP, IPv4 (checked,
// reassembled), ICMP echo and unreachables, UDP ports. TCP joins here later.
//
//   frame in ─ receive() ─ Ethernet ─┬─ ARP ── cache, replies
//                                    └─ IPv4 ─ checks, reassembly ─┬─ ICMP ─ echo reply, ping replies, unreachables
//                                                                  └─ UDP ── bound ports, else port unreachable
//   sendIpv4() ─ route (on-link or gateway) ─ ARP resolve ─ Ethernet ─ transmit()
//
// The stack is plain code over an injected `transmit` and clock (timers.ts): the network
// server (main.ts) wires it to the netdev service, tests to a scripted peer.

import { BROADCAST_MAC, formatIpv4, formatMac, prefixMask, sameMac, ZERO_MAC, type Ipv4Address } from './address.js';
import { ArpOperation, buildArp, parseArp } from './arp.js';
import { ArpCache } from './arp_cache.js';
import { buildEthernet, EtherType, parseEthernet } from './ethernet.js';
import { buildEcho, buildUnreachable, echoIdentifier, echoSequence, IcmpType, parseIcmp, UnreachableCode, type IcmpMessage } from './icmp.js';
import { buildIpv4, IpProtocol, IPV4_HEADER_BYTES, parseIpv4 } from './ipv4.js';
import { Reassembler } from './reassembly.js';
import type { Timers } from './timers.js';
import { buildUdp, parseUdp, UDP_HEADER_BYTES, type UdpDatagram } from './udp.js';
import { TcpLayer } from './tcp.js';

export interface InterfaceAddress {
  readonly address: Ipv4Address;
  readonly prefixLength: number;
  readonly gateway?: Ipv4Address;
}

export interface StackCounts {
  framesIn: number;
  framesOut: number;
  /** Frames for another MAC, or of a type the stack does not speak (IPv6 among them). */
  framesIgnored: number;
  ipIn: number;
  ipOut: number;
  /** IPv4 packets dropped: malformed header, bad checksum, not for this host. */
  ipBadHeader: number;
  ipBadChecksum: number;
  ipNotForUs: number;
  ipUnknownProtocol: number;
  icmpIn: number;
  icmpOut: number;
  icmpBad: number;
  echoRequestsAnswered: number;
  udpIn: number;
  udpOut: number;
  udpBad: number;
  udpNoPort: number;
}

export type EchoReplyHandler = (reply: { source: Ipv4Address; sequence: number; ttl: number; data: Uint8Array }) => void;
export type UdpHandler = (datagram: UdpDatagram & { source: Ipv4Address; destination: Ipv4Address }) => void;
export type UnreachableHandler = (report: { reporter: Ipv4Address; code: number; quoted: Uint8Array }) => void;

export interface StackOptions {
  readonly mac: Uint8Array;
  readonly mtu?: number;
  readonly timers: Timers;
  transmit(frame: Uint8Array): void;
  /** Told of what a user should see (address changes). */
  note?(message: string): void;
  /** Random numbers in [0, 1) for TCP's initial sequence secret (default Math.random). */
  random?(): number;
}

export class NetworkStack {
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly counts: StackCounts = {
    framesIn: 0, framesOut: 0, framesIgnored: 0, ipIn: 0, ipOut: 0, ipBadHeader: 0, ipBadChecksum: 0, ipNotForUs: 0, ipUnknownProtocol: 0,
    icmpIn: 0, icmpOut: 0, icmpBad: 0, echoRequestsAnswered: 0, udpIn: 0, udpOut: 0, udpBad: 0, udpNoPort: 0,
  };
  readonly arp: ArpCache;
  readonly reassembly: Reassembler;
  readonly tcp: TcpLayer;
  private configured: InterfaceAddress | undefined;
  private readonly transmitFrame: (frame: Uint8Array) => void;
  private readonly note: (message: string) => void;
  private identification = 1;
  private readonly echoHandlers = new Map<number, EchoReplyHandler>();
  private readonly unreachableHandlers = new Set<UnreachableHandler>();
  private readonly udpPorts = new Map<number, UdpHandler>();

  constructor(options: StackOptions) {
    this.mac = options.mac.slice();
    this.mtu = options.mtu ?? 1500;
    this.transmitFrame = options.transmit;
    this.note = options.note ?? (() => undefined);
    this.arp = new ArpCache(options.timers, {
      request: (address) => this.sendArp(ArpOperation.REQUEST, BROADCAST_MAC, ZERO_MAC, address),
      unreachable: (address) => this.note(`${formatIpv4(address)}: no ARP reply (host unreachable)`),
    });
    this.reassembly = new Reassembler(options.timers);
    this.tcp = new TcpLayer({
      localAddress: () => this.configured?.address,
      mtu: this.mtu,
      sendIpv4: (destination, protocol, payload) => this.sendIpv4(destination, protocol, payload),
    }, options.timers, options.random);
  }

  get address(): InterfaceAddress | undefined {
    return this.configured;
  }

  /** Sets (or with undefined removes) the interface's address; announces it with a gratuitous ARP (RFC 5227 §3). */
  setAddress(address: InterfaceAddress | undefined): void {
    this.configured = address;
    this.arp.clear();
    if (address === undefined) return;
    this.note(`address ${formatIpv4(address.address)}/${address.prefixLength} on ${formatMac(this.mac)}${address.gateway !== undefined ? `, gateway ${formatIpv4(address.gateway)}` : ''}`);
    this.sendArp(ArpOperation.REQUEST, BROADCAST_MAC, ZERO_MAC, address.address, address.address);
  }

  /** One frame from the device. Never throws for what is in it. */
  receive(frame: Uint8Array): void {
    this.counts.framesIn++;
    const ethernet = parseEthernet(frame);
    if (ethernet === undefined || !(sameMac(ethernet.destination, this.mac) || sameMac(ethernet.destination, BROADCAST_MAC))) {
      this.counts.framesIgnored++;
      return;
    }
    if (ethernet.type === EtherType.ARP) this.receiveArp(ethernet.payload);
    else if (ethernet.type === EtherType.IPV4) this.receiveIpv4(ethernet.payload);
    else this.counts.framesIgnored++;
  }

  /** Waits for echo replies with `identifier`; returns the function that stops. */
  onEchoReply(identifier: number, handler: EchoReplyHandler): () => void {
    this.echoHandlers.set(identifier, handler);
    return () => this.echoHandlers.delete(identifier);
  }

  onUnreachable(handler: UnreachableHandler): () => void {
    this.unreachableHandlers.add(handler);
    return () => this.unreachableHandlers.delete(handler);
  }

  /** Sends an echo request. */
  sendEchoRequest(destination: Ipv4Address, identifier: number, sequence: number, data: Uint8Array): void {
    this.sendIpv4(destination, IpProtocol.ICMP, buildEcho(IcmpType.ECHO_REQUEST, identifier, sequence, data));
    this.counts.icmpOut++;
  }

  /** Delivers datagrams to `port` to `handler`; false if the port is taken. */
  bindUdp(port: number, handler: UdpHandler): boolean {
    if (this.udpPorts.has(port)) return false;
    this.udpPorts.set(port, handler);
    return true;
  }

  unbindUdp(port: number): void {
    this.udpPorts.delete(port);
  }

  /** A free ephemeral port (RFC 6335: 49152–65535), or undefined when all are bound. */
  ephemeralUdpPort(): number | undefined {
    for (let port = 49152; port <= 65535; port++) if (!this.udpPorts.has(port)) return port;
    return undefined;
  }

  sendUdp(datagram: UdpDatagram, destination: Ipv4Address): void {
    const source = this.requireAddress();
    if (UDP_HEADER_BYTES + datagram.data.length + IPV4_HEADER_BYTES > this.mtu) {
      throw new RangeError(`a UDP datagram of ${datagram.data.length} bytes does not fit the MTU of ${this.mtu} (fragmenting output is not done)`);
    }
    this.sendIpv4(destination, IpProtocol.UDP, buildUdp(datagram, source.address, destination));
    this.counts.udpOut++;
  }

  /** Routes and sends one IPv4 packet (at most the MTU); throws RangeError without an address or when it is too long. */
  sendIpv4(destination: Ipv4Address, protocol: number, payload: Uint8Array): void {
    const local = this.requireAddress();
    if (IPV4_HEADER_BYTES + payload.length > this.mtu) throw new RangeError(`a packet of ${IPV4_HEADER_BYTES + payload.length} bytes is longer than the MTU of ${this.mtu}`);
    const packet = buildIpv4({ source: local.address, destination, protocol, identification: this.nextIdentification(), dontFragment: true }, payload);
    this.counts.ipOut++;
    if (this.isBroadcast(destination)) return this.sendFrame(BROADCAST_MAC, EtherType.IPV4, packet);
    const mask = prefixMask(local.prefixLength);
    const onLink = ((destination ^ local.address) & mask) === 0;
    if (!onLink && local.gateway === undefined) throw new RangeError(`no route to ${formatIpv4(destination)}: not on ${formatIpv4((local.address & mask) >>> 0)}/${local.prefixLength} and no gateway`);
    const nextHop = onLink ? destination : local.gateway!;
    this.arp.resolve(nextHop, (mac) => this.sendFrame(mac, EtherType.IPV4, packet));
  }

  private requireAddress(): InterfaceAddress {
    if (this.configured === undefined) throw new RangeError('the interface has no IPv4 address (boot with net.ip=ADDRESS/PREFIX)');
    return this.configured;
  }

  private nextIdentification(): number {
    const value = this.identification;
    this.identification = (this.identification + 1) & 0xffff;
    return value;
  }

  private isBroadcast(address: Ipv4Address): boolean {
    if (address === 0xffff_ffff) return true;
    const local = this.configured;
    if (local === undefined || local.prefixLength >= 31) return false;
    const host = ~prefixMask(local.prefixLength) >>> 0;
    return ((address ^ local.address) & ~host) === 0 && (address & host) === host;
  }

  private sendFrame(destination: Uint8Array, type: number, payload: Uint8Array): void {
    this.counts.framesOut++;
    this.transmitFrame(buildEthernet(destination, this.mac, type, payload));
  }

  private sendArp(operation: number, destination: Uint8Array, targetMac: Uint8Array, targetAddress: Ipv4Address, senderAddress = this.configured?.address ?? 0): void {
    this.sendFrame(destination, EtherType.ARP, buildArp({ operation, senderMac: this.mac, senderAddress, targetMac, targetAddress }));
  }

  private receiveArp(bytes: Uint8Array): void {
    const packet = parseArp(bytes);
    const local = this.configured;
    if (packet === undefined) return void this.counts.framesIgnored++;
    // RFC 826's merge: update a known sender; add it if the request is for us.
    const forUs = local !== undefined && packet.targetAddress === local.address;
    if (packet.senderAddress !== 0 && (forUs || this.arp.knows(packet.senderAddress))) this.arp.learn(packet.senderAddress, packet.senderMac);
    if (forUs && packet.operation === ArpOperation.REQUEST && packet.senderAddress !== local.address) {
      this.sendArp(ArpOperation.REPLY, packet.senderMac, packet.senderMac, packet.senderAddress);
    }
  }

  private receiveIpv4(bytes: Uint8Array): void {
    this.counts.ipIn++;
    const parsed = parseIpv4(bytes);
    if (!parsed.ok) {
      if (parsed.reason === 'checksum') this.counts.ipBadChecksum++;
      else this.counts.ipBadHeader++;
      return;
    }
    const packet = parsed.packet;
    const local = this.configured;
    if (local === undefined || !(packet.destination === local.address || this.isBroadcast(packet.destination))) {
      this.counts.ipNotForUs++;
      return;
    }
    let datagram = { source: packet.source, destination: packet.destination, protocol: packet.protocol, ttl: packet.ttl, header: packet.header, payload: packet.payload };
    if (packet.moreFragments || packet.fragmentOffset > 0) {
      const whole = this.reassembly.add(packet);
      if (whole === undefined) return;
      datagram = whole;
    }
    switch (datagram.protocol) {
      case IpProtocol.ICMP: return this.receiveIcmp(datagram);
      case IpProtocol.UDP: return this.receiveUdp(datagram);
      case IpProtocol.TCP:
        if (this.isBroadcast(datagram.destination)) return;
        return this.tcp.receive(datagram.source, datagram.destination, datagram.payload);
      default:
        this.counts.ipUnknownProtocol++;
        if (!this.isBroadcast(datagram.destination)) this.sendUnreachable(UnreachableCode.PROTOCOL, datagram);
    }
  }

  private receiveIcmp(datagram: { source: Ipv4Address; destination: Ipv4Address; ttl: number; payload: Uint8Array }): void {
    const message = parseIcmp(datagram.payload);
    if (message === undefined) return void this.counts.icmpBad++;
    this.counts.icmpIn++;
    switch (message.type) {
      case IcmpType.ECHO_REQUEST:
        // RFC 1122 §3.2.2.6: no reply to a broadcast echo is allowed; baton sends none.
        if (this.isBroadcast(datagram.destination)) return;
        this.sendIpv4(datagram.source, IpProtocol.ICMP, buildEcho(IcmpType.ECHO_REPLY, echoIdentifier(message), echoSequence(message), message.data));
        this.counts.icmpOut++;
        this.counts.echoRequestsAnswered++;
        return;
      case IcmpType.ECHO_REPLY:
        this.echoHandlers.get(echoIdentifier(message))?.({ source: datagram.source, sequence: echoSequence(message), ttl: datagram.ttl, data: message.data });
        return;
      case IcmpType.DESTINATION_UNREACHABLE:
        for (const handler of this.unreachableHandlers) handler({ reporter: datagram.source, code: message.code, quoted: message.data });
        return;
      default:
        return;
    }
  }

  private receiveUdp(datagram: { source: Ipv4Address; destination: Ipv4Address; header: Uint8Array; payload: Uint8Array }): void {
    const parsed = parseUdp(datagram.payload, datagram.source, datagram.destination);
    if (!parsed.ok) return void this.counts.udpBad++;
    this.counts.udpIn++;
    const handler = this.udpPorts.get(parsed.datagram.destinationPort);
    if (handler) return handler({ ...parsed.datagram, source: datagram.source, destination: datagram.destination });
    this.counts.udpNoPort++;
    if (!this.isBroadcast(datagram.destination)) this.sendUnreachable(UnreachableCode.PORT, datagram);
  }

  /** RFC 1122 §3.2.2: never about a broadcast, and the quote is the header and 8 bytes. */
  private sendUnreachable(code: number, datagram: { source: Ipv4Address; header: Uint8Array; payload: Uint8Array }): void {
    this.sendIpv4(datagram.source, IpProtocol.ICMP, buildUnreachable(code, datagram.header, datagram.payload));
    this.counts.icmpOut++;
  }
}

export type { IcmpMessage };
