// The board's network device for `npm start -- --net ...`: the virtio-net model, its host
// link (a socket LAN or a TAP device), its dump and impairments, and its MAC address.
//
// The MAC comes from the run directory, as a VM's comes from its configuration: the first
// boot with a network writes `machine-id` (16 random bytes in hex, mode 0600, like
// systemd's /etc/machine-id) and every boot in that directory derives the same address
// from it. Two run directories have different ids, so two systems on one LAN differ. The
// address is unicast with the locally administered bit set (02:...), as QEMU's 52:54:00
// prefix is, so it can never clash with a vendor's.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PcapWriter } from '../hal/net/pcap.js';
import { SocketLanLink } from '../hal/net/socket_lan.js';
import { TapLink } from '../hal/net/tap.js';
import type { NetworkLink } from '../hal/net/link.js';
import { VirtioNet } from '../hal/virtio/net.js';
import type { NetworkOption } from './options.js';

export const MACHINE_ID_FILE = 'machine-id';

/** The run directory's machine id, made on first use. */
export function machineId(runDirectory: string): Uint8Array {
  const path = join(runDirectory, MACHINE_ID_FILE);
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{32}$/.test(text)) return Uint8Array.from(Buffer.from(text, 'hex'));
  } catch {
    // Not there yet: made below.
  }
  const id = randomBytes(16);
  writeFileSync(path, `${id.toString('hex')}\n`, { mode: 0o600 });
  return Uint8Array.from(id);
}

/** A locally administered unicast MAC derived from a machine id. */
export function macFromMachineId(id: Uint8Array): Uint8Array {
  const mac = id.slice(0, 6);
  mac[0] = (mac[0]! & 0xfc) | 0x02;
  return mac;
}

/** The device as --dumpdtb describes it: its MAC, no link. */
export function describeNetwork(runDirectory: string): VirtioNet {
  return new VirtioNet({ mac: macFromMachineId(machineId(runDirectory)) });
}

/** Builds the network device; resolves once its link is up (a LAN joined). Throws Error with the reason. */
export async function openNetwork(option: NetworkOption, runDirectory: string, note: (message: string) => void): Promise<VirtioNet> {
  let link: NetworkLink;
  if (option.backend.kind === 'socket') {
    const lan = new SocketLanLink(option.backend.path, { note });
    await lan.ready();
    link = lan;
  } else {
    link = await TapLink.open(option.backend.interfaceName);
  }
  return new VirtioNet({
    mac: macFromMachineId(machineId(runDirectory)),
    link,
    ...(option.dump ? { dump: new PcapWriter(option.dump) } : {}),
    impairment: { loss: option.loss, reorder: option.reorder, duplicate: option.duplicate, seed: option.seed },
  });
}
