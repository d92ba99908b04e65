// Vitest global setup: compile the tree once so tests can start servers as workers.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env.BATON_SKIP_BUILD === '1') return; // for pure unit tests while the tree is mid-edit
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-b'], {
    cwd: root,
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [fileURLToPath(new URL('../../tools/bin/bundle.mjs', import.meta.url))], { cwd: root, stdio: 'inherit' });
}
