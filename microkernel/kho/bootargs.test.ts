import { describe, it, expect } from 'vitest';
import { parseBoolean, parseKhoBootargs } from './bootargs.js';

describe('parseKhoBootargs', () => {
  it('parseKhoBootargs reads kho=, kho_scratch= and kho_poison among other parameters', () => {
    expect(parseKhoBootargs('console=hvc0 kho=on kho_scratch=16M,64M,32M kho_poison')).toEqual({
      enabled: true,
      scratch: { kind: 'sizes', lowmem: 16 * 2 ** 20, global: 64 * 2 ** 20, perNode: 32 * 2 ** 20 },
      poison: true,
      scratchArgument: 'kho_scratch=16M,64M,32M',
      errors: [],
    });
  });

  it('parseKhoBootargs keeps defaults when nothing is given', () => {
    expect(parseKhoBootargs('')).toEqual({ enabled: false, scratch: { kind: 'scale', percent: 200 }, poison: false, errors: [] });
    expect(parseKhoBootargs('quiet', true).enabled).toBe(true);
  });

  it('parseKhoBootargs reports malformed values and keeps the defaults for them', () => {
    const options = parseKhoBootargs('kho=maybe kho_scratch=12 kho_poison=x kho_scratch=50%');
    expect(options.enabled).toBe(false);
    expect(options.poison).toBe(false);
    expect(options.scratch).toEqual({ kind: 'scale', percent: 50 });
    expect(options.errors).toHaveLength(3);
  });

  it('parseBoolean follows kstrtobool', () => {
    expect(['y', 'Yes', '1', 'on', 'ON'].map(parseBoolean)).toEqual([true, true, true, true, true]);
    expect(['n', 'No', '0', 'off', 'OF'].map(parseBoolean)).toEqual([false, false, false, false, false]);
    expect(['', 'o', 'true', '2'].map(parseBoolean)).toEqual([undefined, undefined, undefined, undefined]);
  });
});
