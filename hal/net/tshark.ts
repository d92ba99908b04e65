// tshark (Wireshark's command-line decoder) as the outside checker of every frame baton
// writes. Optional, as dtc is: hasTshark() says whether it runs, whenTshark() runs a check
// or says which check it skipped and why.
//
// checkCapture() decodes a pcap with checksum validation on for IPv4, UDP and TCP (ICMP is always checked)
// and returns what tshark said was wrong: malformed packets, expert errors and warnings
// (bad checksums are expert errors), so a clean capture gives an empty list.

import { spawnSync } from 'node:child_process';

let available: boolean | undefined;

export function hasTshark(): boolean {
  if (available === undefined) {
    available = spawnSync('tshark', ['--version']).status === 0;
    if (!available) console.warn('tshark is not installed (package tshark): the checks against tshark are skipped');
  }
  return available;
}

const skipped = new Set<string>();

/** Runs `check` if tshark is installed and returns true; otherwise says once that `what` was skipped. */
export async function whenTshark(what: string, check: () => void | Promise<void>, present = hasTshark()): Promise<boolean> {
  if (present) {
    await check();
    return true;
  }
  if (!skipped.has(what)) {
    skipped.add(what);
    console.warn(`skipped, tshark is not installed: ${what}`);
  }
  return false;
}

// ICMP checksums tshark always checks; these turn the check on for the rest.
const CHECKSUM_OPTIONS = ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE', 'tcp.check_checksum:TRUE']
  .flatMap((option) => ['-o', option]);

function runTshark(args: string[]): string {
  const result = spawnSync('tshark', ['-n', ...CHECKSUM_OPTIONS, ...args], { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, HOME: process.env.TMPDIR ?? '/tmp' } });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`tshark ${args.join(' ')} failed (${result.status}): ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** The protocol stack of each frame, as tshark names it: "eth:ethertype:arp", "eth:ethertype:ip:icmp:data". */
export function captureProtocols(path: string): string[] {
  return runTshark(['-r', path, '-T', 'fields', '-e', 'frame.protocols']).split('\n').filter((line) => line.length > 0);
}

/** tshark's field values per frame: `fields` are display-filter field names. */
export function captureFields(path: string, fields: string[]): string[][] {
  const text = runTshark(['-r', path, '-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((field) => ['-e', field])]);
  return text.split('\n').filter((line) => line.length > 0).map((line) => line.split('\t'));
}

/** What tshark found wrong in the capture: one line per malformed packet or expert error/warning; empty when clean. */
export function checkCapture(path: string): string[] {
  const text = runTshark(['-r', path, '-V']);
  const problems: string[] = [];
  let frame = '?';
  for (const line of text.split('\n')) {
    const start = /^Frame (\d+):/.exec(line);
    if (start) frame = start[1]!;
    if (/Malformed Packet|\[Expert Info \((Error|Warning)\//.test(line) || /\[(Checksum Status: Bad|Bad checksum)/i.test(line)) {
      problems.push(`frame ${frame}: ${line.trim()}`);
    }
  }
  return problems;
}
