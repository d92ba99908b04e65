// The KHO kernel parameters, read from the bootargs string (/chosen bootargs):
//
//   kho=on|off          enable KHO (kstrtobool: y/Y/1/on → true, n/N/0/off → false)
//   kho_scratch=VALUE   scratch sizing, see scratch.ts (N% or L,G,N)
//   kho_poison[=BOOL]   baton's own: poison every page not handed over at kexec
//
// A malformed value is reported in `errors` and the parameter keeps its default, as an
// early_param that returns an error does; parsing never throws.

import { isKhoError } from './errors.js';
import { DEFAULT_SCRATCH_CONFIG, parseKhoScratch, type ScratchConfig } from './scratch.js';

export interface KhoBootOptions {
  readonly enabled: boolean;
  readonly scratch: ScratchConfig;
  readonly poison: boolean;
  /** The kho_scratch= argument as given (the last one that parsed), for boot messages; undefined: the default. */
  readonly scratchArgument?: string;
  /** One message per parameter that could not be parsed. */
  readonly errors: readonly string[];
}

/** The kernel's kstrtobool, or undefined for a value it rejects. */
export function parseBoolean(value: string): boolean | undefined {
  const first = value[0]?.toLowerCase();
  if (first === 'y' || first === '1') return true;
  if (first === 'n' || first === '0') return false;
  if (first === 'o') {
    const second = value[1]?.toLowerCase();
    if (second === 'n') return true;
    if (second === 'f') return false;
  }
  return undefined;
}

/** Reads kho=, kho_scratch= and kho_poison from `bootargs`; later occurrences win. */
export function parseKhoBootargs(bootargs: string, defaultEnabled = false): KhoBootOptions {
  let enabled = defaultEnabled;
  let scratch = DEFAULT_SCRATCH_CONFIG;
  let poison = false;
  let scratchArgument: string | undefined;
  const errors: string[] = [];
  for (const word of bootargs.split(/\s+/)) {
    const equals = word.indexOf('=');
    const name = equals < 0 ? word : word.slice(0, equals);
    const value = equals < 0 ? undefined : word.slice(equals + 1);
    if (name === 'kho') {
      const parsed = value === undefined ? undefined : parseBoolean(value);
      if (parsed === undefined) errors.push(`kho=${value ?? ''}: expected on or off`);
      else enabled = parsed;
    } else if (name === 'kho_scratch') {
      try {
        scratch = parseKhoScratch(value ?? '');
        scratchArgument = word;
      } catch (error) {
        if (!isKhoError(error)) throw error;
        errors.push(error.message);
      }
    } else if (name === 'kho_poison') {
      const parsed = value === undefined ? true : parseBoolean(value);
      if (parsed === undefined) errors.push(`kho_poison=${value}: expected on or off`);
      else poison = parsed;
    }
  }
  return { enabled, scratch, poison, ...(scratchArgument !== undefined ? { scratchArgument } : {}), errors };
}
