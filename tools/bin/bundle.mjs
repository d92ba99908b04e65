#!/usr/bin/env node
// Post-build step: bundles build/ipc/typebox.js (TypeBox, re-exported) into one file, so
// every thread loads TypeBox in one module instead of 266 (see ipc/typebox.ts and
// BENCHMARKS.md). Idempotent: a bundled file is left alone.

import { readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleTypeBox();
