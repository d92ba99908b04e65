// The driver scaffold as a newcomer uses it: `new-driver NAME --dir PATH` outside the tree,
// then, inside that folder, `npm install` (links baton, vitest and typescript from this
// checkout) and `npx vitest run` — offline, so nothing may be downloaded on the way.

import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runBaton, type CommandResult } from '../harness/system.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Runs `command` in `cwd` to completion, with npm told to stay offline. */
function run(command: string, args: string[], cwd: string): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

describe('an out-of-tree driver scaffold', () => {
  it('is a package of its own: npm install links baton offline, and npx vitest run inside it passes', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'baton-scaffold-'));
    folders.push(parent);
    const folder = join(parent, 'my-driver');
    expect((await runBaton(['new-driver', 'my-driver', '--dir', folder])).status).toBe(0);

    const installed = await run('npm', ['install'], folder);
    expect(installed.status, installed.stderr).toBe(0);
    for (const [name, target] of [['baton', root], ['vitest', join(root, 'node_modules', 'vitest')]] as const) {
      const link = join(folder, 'node_modules', name);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(resolve(dirname(link), readlinkSync(link))).toBe(target);
    }
    // --no: npx may only run what the folder has, never fetch it.
    const tested = await run('npx', ['--no', 'vitest', 'run'], folder);
    expect(tested.status, `${tested.stdout}\n${tested.stderr}`).toBe(0);
    expect(tested.stdout).toMatch(/Tests\s+.*2 passed/);
    const checked = await run('npx', ['--no', 'tsc'], folder);
    expect(checked.status, checked.stdout).toBe(0);
  }, 240_000);
});
