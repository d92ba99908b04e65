// The mkfs progress bar: drawn in place on a terminal, nothing at all on a pipe; and the
// real command under a pseudo-terminal (script(1)) against the same command piped.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { progressBar } from './progress_bar.js';
import { temporaryDirectory } from '../../test/harness/ext2_tools.js';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (text: string) => writes.push(text) }, writes };
}

describe('progressBar', () => {
  it('redraws one line on a terminal when the percentage changes, and ends it with a newline', () => {
    const { stream, writes } = recorder(true);
    const bar = progressBar(stream, 'formatting', 4);
    bar(1);
    bar(1);
    bar(2);
    bar(4, true);
    bar(4, true);
    expect(writes).toEqual([
      `\rmkfs: formatting [${'#'.repeat(8)}${' '.repeat(22)}] 25%`,
      `\rmkfs: formatting [${'#'.repeat(15)}${' '.repeat(15)}] 50%`,
      `\rmkfs: formatting [${'#'.repeat(30)}] 100%\n`,
    ]);
  });

  it('draws nothing on a pipe, or for a job below its threshold', () => {
    const piped = recorder(false);
    progressBar(piped.stream, 'copying', 100)(50, true);
    expect(piped.writes).toEqual([]);
    const small = recorder(true);
    progressBar(small.stream, 'copying', 10, 100)(10, true);
    expect(small.writes).toEqual([]);
  });
});

const launcher = fileURLToPath(new URL('../bin/baton.mjs', import.meta.url));
const scriptMissing = spawnSync('script', ['--version']).error ? 'script(1) (util-linux) is not installed' : undefined;
if (scriptMissing) console.warn(`tools/mkfs/progress_bar.test.ts: the terminal check is skipped: ${scriptMissing}`);

describe.skipIf(scriptMissing !== undefined)('npm run mkfs of a large image', () => {
  it('shows the formatting bar on a terminal and prints plain lines when piped', () => {
    const work = temporaryDirectory('baton-mkfs-bar-');
    try {
      const image = join(work.path, 'large.img');
      const command = `${process.execPath} ${launcher} mkfs ${image} 512M`;
      const onTerminal = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
      expect(onTerminal.status, onTerminal.stdout + onTerminal.stderr).toBe(0);
      expect(onTerminal.stdout).toMatch(/\rmkfs: formatting \[#{30}\] 100%/);
      const piped = spawnSync(process.execPath, [launcher, 'mkfs', image, '512M'], { encoding: 'utf8' });
      expect(piped.status, piped.stderr).toBe(0);
      expect(piped.stdout + piped.stderr).not.toContain('\r');
      expect(piped.stdout).toMatch(/^.*large\.img: ext2, 131072 blocks of 4096 bytes/);
    } finally {
      work.remove();
    }
  });
});
