#!/usr/bin/env node
// Post-build steps: bundles build/ipc/typebox.js (TypeBox, re-exported) into one file, so
// every thread loads TypeBox in one module instead of 266 (see ipc/typebox.ts and
// BENCHMARKS.md; idempotent: a bundled file is left alone); and writes the initramfs,
// build/initramfs.cpio, the cpio newc archive of sysroot/ (tools/initramfs.ts).

import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rolldown } from 'rolldown';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const target = join(root, 'build', 'ipc', 'typebox.js');
const MARK = '// baton: bundled TypeBox\n';

export async function bundleTypeBox() {
  if (readFileSync(target, 'utf8').startsWith(MARK)) return;
  const bundle = await rolldown({ input: target, platform: 'node', logLevel: 'silent' });
  const { output } = await bundle.generate({ format: 'esm', banner: MARK.trimEnd() });
  await bundle.close();
  const temporary = `${target}.tmp`;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(temporary, output[0].code);
  renameSync(temporary, target);
}

/** Writes build/initramfs.cpio from sysroot/ (the compiled tools/initramfs.js does it). */
export async function writeInitramfs() {
  const { writeInitramfs: write } = await import(pathToFileURL(join(root, 'build', 'tools', 'initramfs.js')).href);
  write(root);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleTypeBox();
  await writeInitramfs();
}
