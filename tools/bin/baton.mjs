#!/usr/bin/env node
// The `baton` command (npm start / npm run ctl / npm run bench / npm run new-driver).
//
// Plain JavaScript so it can run before anything is compiled: it rebuilds the tree with
// `tsc -b` only when a source file is newer than the last build, then runs the compiled
// tool. `npm ci` builds once through the prepare script, so a fresh clone starts at once.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const layers = ['hal', 'ipc', 'microkernel', 'servers', 'drivers', 'tools'];

function newestSource(directory) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (isBuildInput(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The newest mtime of any file or folder below `directory` (a removal changes its folder's). */
function newestFile(directory) {
  let newest = statSync(directory).mtimeMs;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestFile(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** What `tsc -b` compiles: sources and project files, not the tests and benches it excludes. */
function isBuildInput(name) {
  if (name === 'tsconfig.json') return true;
  return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.bench.ts');
}

function buildIfStale() {
  const stamps = layers.map((layer) => join(root, 'build', `${layer}.tsbuildinfo`));
  const built = stamps.every((stamp) => existsSync(stamp)) ? Math.min(...stamps.map((stamp) => statSync(stamp).mtimeMs)) : 0;
  const newest = Math.max(...layers.map((layer) => newestSource(join(root, layer))));
  // The initramfs is built from sysroot/: a file there newer than it rebuilds it (bundle.mjs).
  const initramfs = join(root, 'build', 'initramfs.cpio');
  const initramfsStale = !existsSync(initramfs) || newestFile(join(root, 'sysroot')) > statSync(initramfs).mtimeMs;
  if (newest <= built) {
    if (initramfsStale) execFileSync(process.execPath, [join(root, 'tools', 'bin', 'bundle.mjs')], { cwd: root, stdio: 'inherit' });
    return;
  }
  process.stderr.write('baton: sources changed, building (tsc -b)...\n');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'tools', 'bin', 'bundle.mjs')], { cwd: root, stdio: 'inherit' });
  // tsc -b leaves a project's stamp alone when nothing in it changed; mark the build current.
  const now = new Date();
  for (const stamp of stamps) if (existsSync(stamp)) utimesSync(stamp, now, now);
}

const [command = 'start', ...rest] = process.argv.slice(2);
const tools = { start: 'start.js', ctl: 'ctl.js', bench: 'bench/main.js', 'new-driver': 'new_driver.js', mkfs: 'mkfs/main.js' };
const tool = tools[command];
if (!tool) {
  // Anything else is a console command for a running system: `baton ps`, `baton restart log`.
  buildIfStale();
  const { main } = await import(pathToFileURL(join(root, 'build', 'tools', 'ctl.js')).href);
  process.exitCode = await main([command, ...rest]);
} else {
  buildIfStale();
  const { main } = await import(pathToFileURL(join(root, 'build', 'tools', tool)).href);
  process.exitCode = await main(rest);
}
