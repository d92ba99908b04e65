// The kernel's own boot arguments (/chosen bootargs) besides KHO's (kho/bootargs.ts):
//
//   ipc.ring_bytes=N    channel rings of N bytes (a power of two, 1024 to 1 MiB) instead of 64 KiB
//   NAME.key=value      set key in the config of the server or driver NAME (as Linux's
//                       module parameters on the command line); a number when it reads as one
//
// A value that is wrong is reported as a warning naming the argument, and the default stays;
// reading never throws.

export const MINIMUM_RING_BYTES = 1024;
export const MAXIMUM_RING_BYTES = 1024 * 1024;

const CONFIG_ARGUMENT = /^([a-z][a-z0-9-]*)\.([A-Za-z][A-Za-z0-9_]*)=(.*)$/;

export interface RingBytesArgument {
  /** The ring size asked for, or undefined for the default. */
  readonly ringBytes: number | undefined;
  readonly warnings: readonly string[];
}

/** Reads `ipc.ring_bytes=`; the last occurrence wins. */
export function readRingBytes(bootargs: string): RingBytesArgument {
  let ringBytes: number | undefined;
  const warnings: string[] = [];
  for (const word of words(bootargs)) {
    if (!word.startsWith('ipc.ring_bytes=')) continue;
    const text = word.slice('ipc.ring_bytes='.length);
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < MINIMUM_RING_BYTES || value > MAXIMUM_RING_BYTES || (value & (value - 1)) !== 0) {
      warnings.push(`${word}: expected a power of two from ${MINIMUM_RING_BYTES} to ${MAXIMUM_RING_BYTES} bytes; rings keep their default size`);
      continue;
    }
    ringBytes = value;
  }
  return { ringBytes, warnings };
}

/** The config `NAME.key=value` arguments give the program called `name` (or whose manifest name is `specName`). */
export function configArguments(bootargs: string, name: string, specName: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const word of words(bootargs)) {
    const match = CONFIG_ARGUMENT.exec(word);
    if (!match || (match[1] !== name && match[1] !== specName)) continue;
    const value = match[3]!;
    config[match[2]!] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return config;
}

/**
 * Warnings for `NAME.key=value` arguments that set nothing: NAME is no program of the boot
 * manifest (`programs`: instance and manifest names), or `knownKeys(NAME)` — when it can
 * tell — does not list the key.
 */
export function configArgumentWarnings(bootargs: string, programs: ReadonlySet<string>, knownKeys: (program: string) => ReadonlySet<string> | undefined = () => undefined): string[] {
  const warnings: string[] = [];
  for (const word of words(bootargs)) {
    const match = CONFIG_ARGUMENT.exec(word);
    if (!match || match[1] === 'ipc') continue;
    const [, program, key] = match as unknown as [string, string, string];
    if (!programs.has(program)) {
      warnings.push(`${word}: no server or driver named ${program} in the boot manifest; ignored`);
      continue;
    }
    const keys = knownKeys(program);
    if (keys !== undefined && !keys.has(key)) warnings.push(`${word}: ${program} has no config key ${key} (it has: ${[...keys].sort().join(', ') || 'none'}); ignored`);
  }
  return warnings;
}

function words(bootargs: string): string[] {
  return bootargs.split(/\s+/).filter(Boolean);
}
