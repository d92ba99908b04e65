// The host's device tree compiler (dtc), as an outside checker of the blobs baton writes.
//
// Optional: hasDtc() says whether /usr/bin/dtc (or dtc on PATH) runs. A check that needs it
// and cannot run says so in the test output: hasDtc() prints once that dtc is missing, and
// whenDtc() names each check it skips. Blobs and sources go through stdin/stdout, so no
// files are left behind.

import { spawnSync } from 'node:child_process';

export interface DtcResult {
  /** dtc's exit status (0 on success). */
  status: number;
  stdout: Buffer;
  /** Warnings and errors, empty when dtc had nothing to say. */
  stderr: string;
}

let available: boolean | undefined;

/** Whether the dtc command can be run on this host (checked once; says so on stderr when it cannot). */
export function hasDtc(): boolean {
  if (available === undefined) {
    available = spawnSync('dtc', ['--version']).status === 0;
    if (!available) console.warn('dtc is not installed (package device-tree-compiler): the checks against dtc are skipped');
  }
  return available;
}

const skippedChecks = new Set<string>();

/**
 * Runs `check`, which needs dtc, if dtc is installed (`available`) and returns true;
 * otherwise prints once that the check `what` was skipped, and why, and returns false.
 */
export function whenDtc(what: string, check: () => void, available = hasDtc()): boolean {
  if (available) {
    check();
    return true;
  }
  if (!skippedChecks.has(what)) {
    skippedChecks.add(what);
    console.warn(`skipped, dtc is not installed: ${what}`);
  }
  return false;
}

/** Runs `dtc -I <input> -O <output> <extra...>` over `source` (stdin). */
export function runDtc(input: 'dts' | 'dtb', output: 'dts' | 'dtb', source: Uint8Array | string, extra: string[] = []): DtcResult {
  const result = spawnSync('dtc', ['-I', input, '-O', output, ...extra, '-'], { input: source, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr.toString('utf-8') };
}

/** Decompiles a blob: its DTS text and dtc's warnings. */
export function dtcDecompile(blob: Uint8Array): { dts: string; stderr: string; status: number } {
  const result = runDtc('dtb', 'dts', blob);
  return { dts: result.stdout.toString('utf-8'), stderr: result.stderr, status: result.status };
}

/** Compiles DTS source to a blob (`extra`: more dtc options, e.g. ['-p', '64']); throws with dtc's message if it fails. */
export function dtcCompile(source: string, extra: string[] = []): Uint8Array {
  const result = runDtc('dts', 'dtb', source, extra);
  if (result.status !== 0) throw new Error(`dtc failed (${result.status}): ${result.stderr}`);
  return new Uint8Array(result.stdout);
}
