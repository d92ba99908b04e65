// The initial stack of a new program, as Linux's create_elf_tables lays it out for RV32
// (../shared/RV32-LINUX-ABI.md): at sp (16-byte aligned) argc, then argv[0..argc-1], NULL,
// envp[..], NULL, the auxiliary vector as (type, value) u32 pairs ending in AT_NULL; above
// them the 16 AT_RANDOM bytes, then the strings (argv, envp, and AT_EXECFN's path last, just
// under the top). buildInitialStack returns the bytes from sp to the top for the loader to
// write into the stack's pages.

export const AuxType = {
  AT_NULL: 0, AT_PHDR: 3, AT_PHENT: 4, AT_PHNUM: 5, AT_PAGESZ: 6, AT_BASE: 7, AT_FLAGS: 8, AT_ENTRY: 9,
  AT_UID: 11, AT_EUID: 12, AT_GID: 13, AT_EGID: 14, AT_HWCAP: 16, AT_CLKTCK: 17, AT_SECURE: 23, AT_RANDOM: 25, AT_EXECFN: 31,
} as const;

/** Linux's riscv hwcap: one bit per single-letter extension ('a' = bit 0); the hart is RV32IMAC. */
export const HWCAP_RV32IMAC = [...'imac'].reduce((bits, letter) => bits | (1 << (letter.charCodeAt(0) - 97)), 0);
export const PAGE_SIZE = 4096;
/** USER_HZ, what times() counts in. */
export const CLOCK_TICKS = 100;
/** The most bytes arguments, environment and vectors may take (Linux's minimum ARG_MAX is 128 KiB). */
export const ARGUMENT_BYTES_LIMIT = 128 * 1024;

export interface InitialStackInput {
  /** The first address above the stack (page-aligned). */
  readonly top: number;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  /** The path exec was given (AT_EXECFN). */
  readonly executablePath: string;
  readonly programHeaders: { readonly address: number; readonly entrySize: number; readonly count: number };
  readonly entry: number;
  /** 16 random bytes (AT_RANDOM: picolibc and glibc seed their stack protector from them). */
  readonly random: Uint8Array;
}

export interface InitialStack {
  readonly stackPointer: number;
  /** The stack's contents from stackPointer up to top. */
  readonly bytes: Uint8Array;
  readonly argvAddress: number;
  readonly envpAddress: number;
  readonly auxvAddress: number;
  readonly randomAddress: number;
}

/** The arguments and environment do not fit (exec answers E2BIG). */
export class ArgumentsTooLongError extends Error {
  constructor(bytes: number) {
    super(`arguments and environment take ${bytes} bytes, more than ${ARGUMENT_BYTES_LIMIT}`);
    this.name = 'ArgumentsTooLongError';
  }
}

const encoder = new TextEncoder();

export function buildInitialStack(input: InitialStackInput): InitialStack {
  if (input.random.length !== 16) throw new RangeError(`AT_RANDOM takes 16 bytes, not ${input.random.length}`);
  if (input.top % 16 !== 0) throw new RangeError('the stack top must be 16-byte aligned');
  const strings = [...input.argv, ...input.envp, input.executablePath].map((text) => {
    if (text.includes('\0')) throw new RangeError('an argument or environment string holds a NUL');
    return encoder.encode(text + '\0');
  });
  const stringBytes = strings.reduce((sum, bytes) => sum + bytes.length, 0);
  // Strings end one word under the top (Linux leaves the last word as an end marker).
  const stringsAt = input.top - 4 - stringBytes;
  const randomAddress = (stringsAt - 16) & ~15;
  const auxv: Array<[number, number]> = [
    [AuxType.AT_HWCAP, HWCAP_RV32IMAC], [AuxType.AT_PAGESZ, PAGE_SIZE], [AuxType.AT_CLKTCK, CLOCK_TICKS],
    [AuxType.AT_PHDR, input.programHeaders.address], [AuxType.AT_PHENT, input.programHeaders.entrySize], [AuxType.AT_PHNUM, input.programHeaders.count],
    [AuxType.AT_BASE, 0], [AuxType.AT_FLAGS, 0], [AuxType.AT_ENTRY, input.entry],
    [AuxType.AT_UID, 0], [AuxType.AT_EUID, 0], [AuxType.AT_GID, 0], [AuxType.AT_EGID, 0], [AuxType.AT_SECURE, 0],
    [AuxType.AT_RANDOM, randomAddress], [AuxType.AT_EXECFN, 0], [AuxType.AT_NULL, 0],
  ];
  const argc = input.argv.length, envc = input.envp.length;
  const vectorWords = 1 + argc + 1 + envc + 1 + auxv.length * 2;
  const stackPointer = (randomAddress - vectorWords * 4) & ~15;
  const total = input.top - stackPointer;
  if (total > ARGUMENT_BYTES_LIMIT) throw new ArgumentsTooLongError(total);

  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const at = (address: number) => address - stackPointer;
  const addresses: number[] = [];
  let cursor = stringsAt;
  for (const string of strings) {
    bytes.set(string, at(cursor));
    addresses.push(cursor);
    cursor += string.length;
  }
  const executableAddress = addresses.at(-1)!;
  const fill = auxv.find((entry) => entry[0] === AuxType.AT_EXECFN)!;
  fill[1] = executableAddress;
  bytes.set(input.random, at(randomAddress));

  let word = stackPointer;
  const put = (value: number) => { view.setUint32(at(word), value >>> 0, true); word += 4; };
  put(argc);
  const argvAddress = word;
  for (let index = 0; index < argc; index++) put(addresses[index]!);
  put(0);
  const envpAddress = word;
  for (let index = 0; index < envc; index++) put(addresses[argc + index]!);
  put(0);
  const auxvAddress = word;
  for (const [type, value] of auxv) { put(type); put(value); }
  return { stackPointer, bytes, argvAddress, envpAddress, auxvAddress, randomAddress };
}
