import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runBaton } from '../test/harness/system.js';

let server: Server | undefined;
const sockets: Socket[] = [];
let directory: string | undefined;
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

/** A control socket whose system takes the command and never answers (a console that went away). */
async function silentSystem(): Promise<string> {
  directory = mkdtempSync(join(tmpdir(), 'baton-ctl-'));
  const listening = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => socket.write('half an answer'));
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(join(directory!, 'baton.sock'), () => resolve()));
  return directory;
}

describe('baton ctl', () => {
  it('gives up after its timeout, says so, prints what came and exits 1', async () => {
    const runDirectory = await silentSystem();
    const result = await runBaton(['ctl', '--run-dir', runDirectory, '--timeout', '1', 'ps']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('half an answer\n');
    expect(result.stderr).toContain('no answer within 1 s; gave up waiting');
  });

  it('refuses a timeout that is not a positive number', async () => {
    const result = await runBaton(['ctl', '--timeout', 'soon', 'ps']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--timeout needs a positive number of seconds, got "soon"');
  });
});
