// The whole-system harness itself: waits end on events or with a diagnosis, never silently.
import { afterEach, describe, expect, it } from 'vitest';
import { RunningSystem } from './system.js';

let system: RunningSystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('RunningSystem', () => {
  it('commandUntil returns the first answer that satisfies it, and after its deadline says what it waited for and the last answer', async () => {
    system = await RunningSystem.boot();
    expect(await system.commandUntil('ps', (output) => /^log\s/m.test(output), 'the log server')).toMatch(/^NAME/);
    await expect(system.commandUntil('ps', () => false, 'a server named nobody', 500))
      .rejects.toThrow(/"ps" did not show a server named nobody within 500 ms \(\d+ answers\); the last one:\nNAME/);
  });
});
