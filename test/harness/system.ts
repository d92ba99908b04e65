// Whole-system test harness: boots baton as a user does (node tools/bin/baton.mjs start)
// in a private run directory, types commands on its console, runs the control CLI
// against it, and always stops what it started.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROMPT = 'baton> ';
/** How long commandUntil repeats a command by default: below the tests' 60 s timeout, so its diagnosis is seen. */
const COMMAND_UNTIL_MS = 40_000;
const launcher = fileURLToPath(new URL('../../tools/bin/baton.mjs', import.meta.url));

export interface CommandResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the `baton` command to completion (for ctl, --dumpdtb, usage errors, piped starts).
 * After `deadlineMs` (default 50 s, under the test timeout) it is killed and the result
 * says so in stderr, so a hang fails the test with what was printed, and nothing is left running.
 */
export function runBaton(args: string[], input?: string, deadlineMs = 50_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [launcher, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const deadline = setTimeout(() => {
      stderr += `\n[test harness: still running after ${deadlineMs} ms; killed]\n`;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => {
      clearTimeout(deadline);
      resolve({ status, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/**
 * Removes the log lines the console prints above its prompt while the system runs, leaving
 * the command's output. A log line is "\r ESC[K line \r\n"; when the console was idle it
 * erases the prompt already on screen (so that prompt goes too) and redraws it after.
 */
const PRINTED_ABOVE = /(?:baton> )?\r\x1b\[K[^\r\n]*\r\n/g;

function withoutLogLines(text: string): string {
  return text.replace(PRINTED_ABOVE, '');
}

export class RunningSystem {
  readonly runDirectory: string;
  /** Whether stop() removes the run directory (it does when boot() made it). */
  private readonly ownsRunDirectory: boolean;
  private readonly child: ChildProcessWithoutNullStreams;
  private output = '';
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  private constructor(runDirectory: string, args: string[], ownsRunDirectory: boolean, prefix: readonly string[] = []) {
    this.runDirectory = runDirectory;
    this.ownsRunDirectory = ownsRunDirectory;
    // Checked mode is on in tests: RAM references between programs are checked (see --checked).
    const command = [...prefix, process.execPath, launcher, 'start', '--run-dir', runDirectory, '--checked', ...args];
    this.child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const waiter of this.waiters.splice(0)) waiter();
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => this.child.on('close', (status) => {
      for (const waiter of this.waiters.splice(0)) waiter();
      resolve(status);
    }));
  }

  /**
   * Boots a system and waits for its first prompt: in a fresh run directory, or in
   * `runDirectory` (which the caller made, and removes). `prefix` runs it under another
   * command that execs it, e.g. ['ip', 'netns', 'exec', NAME] for a network namespace.
   */
  static async boot(args: string[] = [], runDirectory?: string, options: { prefix?: readonly string[] } = {}): Promise<RunningSystem> {
    const system = new RunningSystem(runDirectory ?? mkdtempSync(join(tmpdir(), 'baton-run-')), args, runDirectory === undefined, options.prefix);
    await system.waitFor((text) => text.includes(PROMPT), 'the first prompt');
    return system;
  }

  /** Everything the system printed so far. */
  get transcript(): string {
    return this.output;
  }

  /** Types `line` and returns what it printed before the next prompt. */
  async command(line: string): Promise<string> {
    const start = this.output.length;
    this.child.stdin.write(line + '\n');
    const text = await this.waitFor((all) => {
      const after = withoutLogLines(all.slice(start));
      return after.includes('\r\n') && after.endsWith(PROMPT);
    }, `the prompt after "${line}"`, start).then(withoutLogLines);
    const afterEcho = text.slice(text.indexOf('\r\n') + 2);
    return afterEcho.slice(0, afterEcho.length - PROMPT.length).replace(/\r\n/g, '\n').replace(/\n$/, '');
  }

  /**
   * Types `line` again and again until what it prints satisfies `accept`, and returns that
   * output. Each answer is the event waited on (no sleeps, no count of tries); once
   * `deadlineMs` has passed without an accepted answer, rejects saying what was awaited, how
   * many answers came and the last one (a diagnosis: the test would time out anyway, without
   * saying where the system stood).
   */
  async commandUntil(line: string, accept: (output: string) => boolean, what: string, deadlineMs = COMMAND_UNTIL_MS): Promise<string> {
    const deadline = performance.now() + deadlineMs;
    for (let answers = 1; ; answers++) {
      const output = await this.command(line);
      if (accept(output)) return output;
      if (performance.now() >= deadline) {
        throw new Error(`"${line}" did not show ${what} within ${deadlineMs} ms (${answers} answers); the last one:\n${output}`);
      }
    }
  }

  /** Types raw bytes (no newline added). */
  type(text: string): void {
    this.child.stdin.write(text);
  }

  /** Sends `signal` to the baton process, as `kill` from a shell would. */
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Runs the control CLI against this system. */
  ctl(args: string[]): Promise<CommandResult> {
    return runBaton(['ctl', '--run-dir', this.runDirectory, ...args]);
  }

  /**
   * Resolves with the output from `from` once `predicate` holds for the whole output. After
   * 45 s without it, rejects with the output so far (a diagnosis, not a timing assertion:
   * the test would time out anyway, without saying where the system stood).
   */
  waitFor(predicate: (output: string) => boolean, what: string, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const stuck = setTimeout(() => reject(new Error(`still waiting for ${what}; output so far:\n${this.output.slice(-4000)}`)), 45_000);
      const check = () => {
        if (predicate(this.output)) {
          clearTimeout(stuck);
          resolve(this.output.slice(from));
        }
        else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          clearTimeout(stuck);
          reject(new Error(`baton exited before ${what}; output:\n${this.output}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Types `shutdown` and waits for the exit status. */
  async shutdown(): Promise<number | null> {
    this.child.stdin.write('shutdown\n');
    return this.exited;
  }

  /** Always safe to call: kills the system if it still runs, removes the run directory boot() made. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    if (this.ownsRunDirectory) rmSync(this.runDirectory, { recursive: true, force: true });
  }
}
