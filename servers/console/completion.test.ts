import { describe, expect, it } from 'vitest';
import { expectedAfter } from './completion.js';
import { commands } from './commands.js';

/** What each form of `name` accepts after `words`, as usage names or literals. */
const next = (name: string, words: string[]) => commands[name]!.forms.flatMap((form) => expectedAfter(form, words))
  .map((expected) => ('literal' in expected ? expected.literal : `${expected.parameter.name}:${expected.parameter.kind}`));

describe('completion from the declared syntax', () => {
  it('offers subcommands first, then each parameter in turn', () => {
    expect(next('blk', [])).toEqual(['read', 'write', 'flush']);
    expect(next('blk', ['read'])).toEqual(['DISK:disk']);
    expect(next('blk', ['read', 'virtio-blk'])).toEqual(['SECTOR:integer']);
    expect(next('blk', ['flush', 'virtio-blk'])).toEqual([]);
    expect(next('blk', ['frobnicate'])).toEqual([]);
  });

  it('offers a flag, then its value, then nothing', () => {
    expect(next('dmesg', [])).toEqual(['-n']);
    expect(next('dmesg', ['-n'])).toEqual(['N:integer']);
    expect(next('dmesg', ['-n', '5'])).toEqual([]);
  });

  it('offers names for the name parameters, and nothing past the last', () => {
    expect(next('restart', [])).toEqual(['NAME:program']);
    expect(next('unload', [])).toEqual(['NAME:driver']);
    expect(next('help', [])).toEqual(['COMMAND:command']);
    expect(next('restart', ['log'])).toEqual([]);
    expect(next('shutdown', [])).toEqual([]);
  });
});
