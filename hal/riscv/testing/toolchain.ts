// The cross toolchain and qemu-riscv32, for tests and benchmarks that run real programs:
// Debian's gcc-riscv64-unknown-elf with picolibc-riscv64-unknown-elf, and qemu-user.
//
// buildFixture compiles one C file of fixtures/ with the start file, system interface and
// linker script beside it into a static RV32 Linux ELF (-march=rv32imac_zicsr_zifencei
// -mabi=ilp32), cached under $TMPDIR/baton-hart-fixtures by a hash of the sources and
// flags. picolibc's multilib is named explicitly (rv32imac/ilp32): the specs file does not
// match -march strings with _zicsr_zifencei. Each tool found missing is named once on stderr.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GCC = 'riscv64-unknown-elf-gcc';
export const QEMU = 'qemu-riscv32';
const PICOLIBC = '/usr/lib/picolibc/riscv64-unknown-elf';
/** libgcc of the rv32imac/ilp32 multilib, as gcc names it (its version is in the path). */
function libgcc(): string {
  return spawnSync(GCC, ['-march=rv32imac', '-mabi=ilp32', '-print-libgcc-file-name'], { encoding: 'utf8' }).stdout.trim();
}
export const MARCH = 'rv32imac_zicsr_zifencei';

/** The fixtures folder in the source tree (this file runs from build/ or, under vitest, from the source). */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url)).replace('/build/hal/', '/hal/');

const said = new Set<string>();
function missing(tool: string, why: string): false {
  if (!said.has(tool)) {
    said.add(tool);
    console.warn(`${tool} is not usable (${why}): the checks that need it are skipped`);
  }
  return false;
}

let compilerState: boolean | undefined;
/** Whether the cross compiler and picolibc are installed (says once on stderr when not). */
export function hasCompiler(): boolean {
  if (compilerState === undefined) {
    const runs = spawnSync(GCC, ['--version']).status === 0;
    compilerState = !runs ? missing(GCC, 'package gcc-riscv64-unknown-elf')
      : !existsSync(`${PICOLIBC}/lib/rv32imac/ilp32/libc.a`) ? missing('picolibc', 'package picolibc-riscv64-unknown-elf')
        : !libgcc().includes('rv32imac') || !existsSync(libgcc()) ? missing('libgcc for rv32imac/ilp32', `gcc names ${libgcc() || 'none'}`) : true;
  }
  return compilerState;
}

let qemuState: boolean | undefined;
export function hasQemu(): boolean {
  if (qemuState === undefined) qemuState = spawnSync(QEMU, ['--version']).status === 0 || missing(QEMU, 'package qemu-user');
  return qemuState;
}

/**
 * Compiles NAME.c (from fixtures/, or from `directory`: another folder's test programs) with
 * fixtures' start file, system interface and linker script into a static ELF; returns its
 * path (cached). Throws with gcc's message on failure.
 */
export function buildFixture(name: string, directory = FIXTURES): string {
  const sources = [join(directory, `${name}.c`), ...['sys.c', 'start.S'].map((file) => join(FIXTURES, file))];
  const script = join(FIXTURES, 'link.ld');
  const flags = [`-march=${MARCH}`, '-mabi=ilp32', '-O2', '-static', '-nostdlib', '-ffreestanding', '-fno-builtin-printf',
    '-isystem', `${PICOLIBC}/include`, '-ftls-model=local-exec', '-T', script];
  const hash = createHash('sha256');
  for (const file of [...sources, script]) hash.update(readFileSync(file));
  hash.update(flags.join(' '));
  const cache = join(process.env['TMPDIR'] ?? tmpdir(), 'baton-hart-fixtures');
  mkdirSync(cache, { recursive: true });
  const output = join(cache, `${name}-${hash.digest('hex').slice(0, 16)}.elf`);
  if (existsSync(output)) return output;
  const partial = `${output}.${process.pid}.partial`;
  const result = spawnSync(GCC, [...flags, ...sources, `${PICOLIBC}/lib/rv32imac/ilp32/libc.a`, libgcc(), '-o', partial], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${GCC} failed on ${name}.c:\n${result.stderr}`);
  renameSync(partial, output);
  return output;
}

export interface ProgramResult {
  readonly stdout: string;
  /** The exit status, or 128 + the signal number for a program killed by a signal (as a shell reports it). */
  readonly status: number;
}

const SIGNALS: Record<string, number> = { SIGILL: 4, SIGTRAP: 5, SIGBUS: 7, SIGSEGV: 11 };

/** Runs `elf` under qemu-riscv32 with `args`. */
export function runUnderQemu(elf: string, args: readonly string[] = []): ProgramResult {
  const result = spawnSync(QEMU, [elf, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  const status = result.signal ? 128 + (SIGNALS[result.signal] ?? 0) : result.status ?? -1;
  return { stdout: result.stdout, status };
}

/** The bytes of a built program (for loaders under test that take the file, not its path). */
export function readProgram(elf: string): Uint8Array {
  return new Uint8Array(readFileSync(elf));
}
