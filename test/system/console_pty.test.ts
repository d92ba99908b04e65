// Whole-system test of the console's line editing on a real pseudo-terminal: baton runs in a
// tmux pane (so standard input is a tty in raw mode, as when a person runs npm start), keys
// go in with send-keys, and the test reads the screen tmux shows with capture-pane.
// Skipped, saying so, where tmux is not installed (CI installs it).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runBaton } from '../harness/system.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('test/system/console_pty.test.ts: tmux is not installed, so the pseudo-terminal editing test is skipped');

const launcher = fileURLToPath(new URL('../../tools/bin/baton.mjs', import.meta.url));
const PROMPT = 'baton> ';

/** A tmux server of our own (its socket in a temporary directory) with one pane running baton. */
class TmuxConsole {
  readonly directory = mkdtempSync(join(tmpdir(), 'baton-pty-'));
  readonly runDirectory = join(this.directory, 'run');
  private readonly socket = join(this.directory, 'tmux.sock');
  private readonly paneLog = join(this.directory, 'pane.log');

  start(): void {
    const command = [process.execPath, launcher, 'start', '--run-dir', this.runDirectory, '--checked'].map(quote).join(' ');
    this.tmux('new-session', '-d', '-s', 'baton', '-x', '160', '-y', '50', command);
    // Everything the pane prints is also appended to pane.log: its changes are the events we wait on.
    writeFileSync(this.paneLog, '');
    this.tmux('pipe-pane', '-t', 'baton', '-o', `cat >> ${quote(this.paneLog)}`);
  }

  /** Sends keys: tmux key names (Left, C-a, Enter) and, with literal, text as typed. */
  keys(...names: string[]): void {
    this.tmux('send-keys', '-t', 'baton', ...names);
  }

  type(text: string): void {
    this.tmux('send-keys', '-t', 'baton', '-l', text);
  }

  /** The screen as tmux shows it, one string per row, trailing blanks removed. */
  screen(): string[] {
    const result = spawnSync('tmux', ['-S', this.socket, 'capture-pane', '-p', '-t', 'baton'], { encoding: 'utf8' });
    if (result.status !== 0) return [];
    const rows = result.stdout.split('\n').map((row) => row.trimEnd());
    while (rows.length > 0 && rows[rows.length - 1] === '') rows.pop();
    return rows;
  }

  /** The row the cursor is on (the prompt's row while editing). */
  cursorRow(): { text: string; column: number } {
    const result = spawnSync('tmux', ['-S', this.socket, 'display-message', '-p', '-t', 'baton', '#{cursor_y} #{cursor_x}'], { encoding: 'utf8' });
    const [row, column] = result.stdout.trim().split(' ').map(Number);
    const all = spawnSync('tmux', ['-S', this.socket, 'capture-pane', '-p', '-t', 'baton'], { encoding: 'utf8' }).stdout.split('\n');
    return { text: (all[row!] ?? '').trimEnd(), column: column! };
  }

  /**
   * Resolves once `predicate` holds for the screen. It is checked each time the pane prints
   * (pane.log changes) and once a second besides; after 45 s it rejects with the screen, to
   * say where the system stood.
   */
  until(predicate: (screen: string[]) => boolean, what: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        watcher.close();
        clearInterval(again);
        clearTimeout(stuck);
        if (error) reject(error);
        else resolve(this.screen());
      };
      const check = () => {
        if (predicate(this.screen())) finish();
      };
      const watcher = watch(this.paneLog, check);
      const again = setInterval(check, 1000);
      const stuck = setTimeout(() => finish(new Error(`still waiting for ${what}; the screen:\n${this.screen().join('\n')}`)), 45_000);
      check();
    });
  }

  /** Waits until the cursor's row reads `text` with the cursor at `column` (default: its end). */
  untilLine(text: string, column = text.length): Promise<string[]> {
    return this.until(() => {
      const row = this.cursorRow();
      return row.text === text.trimEnd() && row.column === column;
    }, `the line "${text}" with the cursor at column ${column}`);
  }

  stop(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server']);
    rmSync(this.directory, { recursive: true, force: true });
  }

  private tmux(...args: string[]): void {
    const result = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr}`);
  }
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

let terminal: TmuxConsole | undefined;
afterEach(() => {
  terminal?.stop();
  terminal = undefined;
});

describe.skipIf(!hasTmux)('console on a pseudo-terminal (tmux)', () => {
  it('edits the line with arrows, Home/End, Ctrl-A/E/W/K/U, recalls with Up/Down, completes with Tab, clears with Ctrl-L', async () => {
    terminal = new TmuxConsole();
    const pane = terminal;
    pane.start();
    await pane.untilLine(PROMPT);

    // Left/Right, Home/End: fix "rndom 2" to "random 2" in place; no escape sequence shows as text.
    pane.type('rndom 2');
    pane.keys('Home', 'Right');
    await pane.untilLine(`${PROMPT}rndom 2`, PROMPT.length + 1);
    pane.type('a');
    await pane.untilLine(`${PROMPT}random 2`, PROMPT.length + 2);
    pane.keys('End', 'Enter');
    let screen = await pane.until((rows) => /^[0-9a-f]{4}$/.test(rows[rows.length - 2] ?? '') && rows[rows.length - 1] === PROMPT.trimEnd(), 'the answer to random 2');
    expect(screen.join('\n')).not.toMatch(/\[[A-D]|\^\[/);

    // Up recalls the line; Ctrl-W erases its last word; the edited line runs.
    pane.keys('Up');
    await pane.untilLine(`${PROMPT}random 2`);
    pane.keys('C-w');
    await pane.untilLine(`${PROMPT}random `);
    pane.type('3');
    pane.keys('Enter');
    await pane.until((rows) => /^[0-9a-f]{6}$/.test(rows[rows.length - 2] ?? '') && rows[rows.length - 1] === PROMPT.trimEnd(), 'the answer to random 3');

    // Up twice, Down once: back to the newer line; Down again: the empty line being typed.
    pane.keys('Up', 'Up');
    await pane.untilLine(`${PROMPT}random 2`);
    pane.keys('Down');
    await pane.untilLine(`${PROMPT}random 3`);
    pane.keys('Down');
    await pane.untilLine(PROMPT);

    // The history is preserved: a new generation of the console recalls what the last one ran.
    pane.type('restart console');
    pane.keys('Enter');
    // (Whether the old generation prints an answer varies; the new one shows its prompt.)
    await pane.until((rows) => {
      const restarted = rows.lastIndexOf(`${PROMPT}restart console`);
      return restarted >= 0 && rows.length - 1 > restarted && rows[rows.length - 1] === PROMPT.trimEnd();
    }, 'the console back after restart console');
    // Keys typed before the new generation listens would be lost (a separate fault): ask the
    // control socket until it is running.
    const deadline = Date.now() + 45_000;
    for (let table = ''; !/^console\s+server\s+2\s+running/m.test(table);) {
      if (Date.now() > deadline) throw new Error(`console generation 2 never ran; the last ps:\n${table}`);
      table = (await runBaton(['ctl', '--run-dir', pane.runDirectory, 'ps'])).stdout;
    }
    pane.keys('Up');
    await pane.untilLine(`${PROMPT}restart console`);
    pane.keys('Up');
    await pane.untilLine(`${PROMPT}random 3`);
    pane.keys('C-u');
    await pane.untilLine(PROMPT);

    // Ctrl-A, Ctrl-E, Ctrl-K, Ctrl-U.
    pane.type('ps junk');
    pane.keys('C-a');
    await pane.untilLine(`${PROMPT}ps junk`, PROMPT.length);
    pane.keys('C-e', 'Left', 'Left', 'Left', 'Left', 'Left', 'C-k');
    await pane.untilLine(`${PROMPT}ps`);
    pane.keys('C-a', 'C-e', 'C-u');
    await pane.untilLine(PROMPT);

    // Tab completes a command name, then a server name; the completed line runs.
    pane.type('resta');
    pane.keys('Tab');
    await pane.untilLine(`${PROMPT}restart `);
    pane.type('lo');
    pane.keys('Tab');
    await pane.untilLine(`${PROMPT}restart log `);
    pane.keys('Enter');
    await pane.until((rows) => rows.some((row) => row === 'log: generation 2 running') && rows[rows.length - 1] === PROMPT.trimEnd(), 'the answer to restart log');
    // A subcommand, then a disk name.
    pane.type('blk read virtio-blk 0');
    pane.keys('C-a', 'Right', 'Right', 'Right', 'Right', 'C-k');
    await pane.untilLine(`${PROMPT}blk `);
    pane.type('r');
    pane.keys('Tab');
    await pane.untilLine(`${PROMPT}blk read `);
    pane.type('virtio-b');
    pane.keys('Tab');
    await pane.untilLine(`${PROMPT}blk read virtio-blk `);
    pane.keys('C-u');
    await pane.untilLine(PROMPT);
    // An ambiguous start completes what the names share; a second Tab lists them and keeps the line.
    pane.type('stop virtio-c');
    pane.keys('Tab');
    await pane.untilLine(`${PROMPT}stop virtio-console.`);
    pane.keys('Tab');
    // The line looks the same before and after the second Tab: wait for the listing above it.
    const listing = 'virtio-console.0  virtio-console.1  virtio-console.2  virtio-console.3  virtio-console.4';
    screen = await pane.until((rows) => rows.includes(listing) && pane.cursorRow().text === `${PROMPT}stop virtio-console.`, 'the listing of the virtio-console names above the line');
    expect(screen[screen.length - 2]).toBe(listing);
    pane.keys('C-u');
    await pane.untilLine(PROMPT);

    // Ctrl-L clears the screen: the prompt and the line being typed are all that is left.
    pane.type('dmesg');
    pane.keys('Left', 'C-l');
    screen = await pane.until((rows) => rows.length === 1, 'a cleared screen');
    expect(screen).toEqual([`${PROMPT}dmesg`]);
    await pane.untilLine(`${PROMPT}dmesg`, PROMPT.length + 4);

    pane.keys('C-e', 'C-u');
    await pane.untilLine(PROMPT);
    pane.type('shutdown');
    pane.keys('Enter');
    await pane.until((rows) => rows.some((row) => row.includes('shutting down')) || rows.length === 0, 'the shutdown');
  });
});
