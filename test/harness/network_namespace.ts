// A network namespace of a test's own (ip netns), so --net tap: traffic stays inside it.
// Root only (CAP_NET_ADMIN), and socat for baton's TAP relay: `unavailable()` says which
// is missing, and the test skips saying so.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export class NetworkNamespace {
  readonly name: string;
  private readonly children: ChildProcess[] = [];

  constructor(label: string) {
    this.name = `baton-${label}-${process.pid}`;
  }

  /** Makes the namespace; answers why it cannot be made here, or undefined once it is. */
  create(): string | undefined {
    if (spawnSync('socat', ['-V']).status !== 0) return 'socat is not installed (package socat)';
    const made = spawnSync('ip', ['netns', 'add', this.name], { encoding: 'utf8' });
    if (made.status !== 0) return `a network namespace cannot be made here (needs root: CAP_NET_ADMIN): ${(made.stderr || made.error?.message || '').trim()}`;
    this.run(['ip', 'link', 'set', 'lo', 'up']);
    return undefined;
  }

  /** Runs a command inside the namespace; throws with its output when it fails. */
  run(command: readonly string[], options: { input?: string; encoding?: 'utf8' } = {}): string {
    const result = spawnSync('ip', ['netns', 'exec', this.name, ...command], { encoding: 'utf8', input: options.input, timeout: 150_000 });
    if (result.status !== 0) throw new Error(`${command.join(' ')} failed (${result.status ?? result.signal}): ${result.stdout}${result.stderr}${result.error?.message ?? ''}`);
    return result.stdout;
  }

  /** Starts a long-running command inside the namespace; `remove` ends it. */
  start(command: readonly string[], cwd?: string): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...command], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    return child;
  }

  /** Ends what start() started and deletes the namespace (safe to call when it was never made). */
  remove(): void {
    for (const child of this.children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
