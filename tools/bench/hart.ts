// Hart benchmarks: million instructions per second of the RISC-V hart (hal/riscv) on a
// compute loop, a C sha256 (hal/riscv/testing/fixtures/sha256.c, built by the cross gcc
// with picolibc), run as a static Linux ELF by the hart test rig.
//
//   hart.sha256.interpret   MIPS with every block interpreted (pre-decoded, no compiler)
//   hart.sha256.compiled    MIPS with hot blocks compiled to JavaScript; ratio against the
//                           interpreter
//   hart.sha256.vs-qemu     the compiled MIPS again, with its ratio against the same ELF under
//                           qemu-riscv32 measured in the same run (hart.sha256.qemu)
//   hart.sha256.qemu        MIPS of qemu-riscv32 (instructions as the hart counts them)
//
// Each sample runs ROUNDS rounds (qemu: QEMU_ROUNDS) and, separately, 0 rounds; the figure is
// the difference in instructions (counted by the hart; a round is a fixed number) over the
// difference in time, so start-up (ELF loading, qemu's own start) is left out of both sides. Needs riscv64-unknown-elf-gcc + picolibc; qemu-riscv32 for
// the qemu figures (skipped, with a note, without it).

import { spawnSync } from 'node:child_process';
import { runElf } from '../../hal/riscv/testing/linux_rig.js';
import { QEMU, buildFixture, hasCompiler, hasQemu } from '../../hal/riscv/testing/toolchain.js';
import type { CompileMode } from '../../hal/riscv/block_compiler.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';

const ROUNDS = 30;
/** qemu runs ten times the rounds, so its time difference is well above its start-up's noise. */
const QEMU_ROUNDS = 300;
const SAMPLES = 5;

function seconds(action: () => void): number {
  const start = performance.now();
  action();
  return (performance.now() - start) / 1000;
}

function hartMips(elf: string, mode: CompileMode, instructions: number): Samples {
  const values: number[] = [];
  for (let sample = -1; sample < SAMPLES; sample++) {
    const empty = seconds(() => runElf(elf, ['0'], { mode }));
    const full = seconds(() => runElf(elf, [String(ROUNDS)], { mode }));
    if (sample >= 0) values.push(instructions / (full - empty) / 1e6);
  }
  return summarize(values);
}

function qemuMips(elf: string, instructions: number): Samples {
  const run = (rounds: number) => seconds(() => {
    const result = spawnSync(QEMU, [elf, String(rounds)]);
    if (result.status !== 0) throw new Error(`${QEMU} ${elf} failed: ${result.stderr}`);
  });
  const values: number[] = [];
  for (let sample = -1; sample < SAMPLES; sample++) {
    const empty = run(0), full = run(QEMU_ROUNDS);
    if (sample >= 0) values.push(instructions / (full - empty) / 1e6);
  }
  return summarize(values);
}

async function sha256(): Promise<Figure[]> {
  if (!hasCompiler()) throw new Error('needs the cross toolchain (gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf) to build the sha256 program');
  const elf = buildFixture('sha256');
  const reference = runElf(elf, [String(ROUNDS)]), start = runElf(elf, ['0']);
  const instructions = reference.retired - start.retired;
  process.stderr.write(`hart: sha256 of 16 KiB x ${ROUNDS}: ${(instructions / 1e6).toFixed(1)} M instructions per sample\n`);
  const interpreted = hartMips(elf, 'interpret', instructions);
  const compiled = hartMips(elf, 'compile', instructions);
  const figures = [
    figure('hart.sha256.interpret', 'MIPS', interpreted),
    figure('hart.sha256.compiled', 'MIPS', compiled, { name: 'hart.sha256.interpret', samples: interpreted }),
  ];
  if (hasQemu()) {
    const qemu = qemuMips(elf, (instructions / ROUNDS) * QEMU_ROUNDS);
    figures.push(figure('hart.sha256.qemu', 'MIPS', qemu), figure('hart.sha256.vs-qemu', 'MIPS', compiled, { name: 'hart.sha256.qemu', samples: qemu }));
  } else process.stderr.write(`hart: ${QEMU} is not installed (package qemu-user): no qemu figures\n`);
  return figures;
}

export const benchmarks: Benchmark[] = [{ name: 'hart', run: sha256 }];
