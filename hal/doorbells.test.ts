// The doorbell page: ringing, and telling the ringer whether the owner had to be woken.
import { describe, it, expect } from 'vitest';
import { DoorbellPage } from './doorbells.js';

describe('DoorbellPage', () => {
  it('DoorbellPage.ring advances the sequence and says false while the owner is not blocking', () => {
    const doorbells = new DoorbellPage();
    const seen = doorbells.sequence(3);
    expect(doorbells.ring(3)).toBe(false);
    expect(doorbells.sequence(3)).toBe(seen + 1);
  });

  it('DoorbellPage.ring says true when the owner announced it blocks, and wakes it', async () => {
    const doorbells = new DoorbellPage();
    const waiting = doorbells.waitAsync(3, doorbells.sequence(3), { spins: 0 });
    expect(doorbells.ring(3)).toBe(true);
    expect(await waiting).toBe(1);
    expect(doorbells.ring(3)).toBe(false);
  });
});
