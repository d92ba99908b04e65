import { describe, expect, it } from 'vitest';
import { completeLine, expectedAfter } from './completion.js';
import { commands, type CommandServices } from './commands.js';

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

describe('completeLine of a path', () => {
  /** A VFS whose only directory listings are / and /notes. */
  const listings: Record<string, { name: string; inode: number; fileType: number }[]> = {
    '/': [{ name: '.', inode: 2, fileType: 2 }, { name: 'notes', inode: 12, fileType: 2 }, { name: 'note.txt', inode: 13, fileType: 1 }, { name: 'mnt', inode: 14, fileType: 2 }],
    '/notes': [{ name: 'today', inode: 20, fileType: 1 }, { name: 'tomorrow', inode: 21, fileType: 1 }],
  };
  const opened = new Map<number, { path: string; done: boolean }>();
  const fs = {
    open: async ({ path }: { path: string }) => {
      const key = path.length > 1 ? path.replace(/\/$/, '') : path;
      if (!listings[key]) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      opened.set(opened.size + 1, { path: key, done: false });
      return { description: opened.size, stat: {} };
    },
    getdents: async ({ description }: { description: number }) => {
      const entry = opened.get(description)!;
      if (entry.done) return { entries: [] };
      entry.done = true;
      return { entries: listings[entry.path] };
    },
    close: async () => ({}),
  };
  const services = { fs } as unknown as CommandServices;

  it('offers the entries of the directory the word is in, directories with a slash', async () => {
    expect(await completeLine('cat /no', services)).toEqual({ word: '/no', candidates: ['/note.txt', '/notes/'] });
    expect(await completeLine('cat /notes/to', services)).toEqual({ word: '/notes/to', candidates: ['/notes/today', '/notes/tomorrow'] });
    expect(await completeLine('mv /notes/today ', services)).toEqual({ word: '', candidates: ['mnt/', 'note.txt', 'notes/'] });
    expect(await completeLine('cat /missing/x', services)).toEqual({ word: '/missing/x', candidates: [] });
  });
});
