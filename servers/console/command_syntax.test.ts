import { describe, expect, it } from 'vitest';
import { helpFor, parseArguments, splitWords, usageLine, UsageError, type Syntax } from './command_syntax.js';

const blk: Syntax = {
  name: 'blk',
  forms: [
    { parameters: [] },
    { subcommand: 'read', parameters: [{ name: 'DISK', kind: 'disk' }, { name: 'SECTOR', kind: 'integer' }, { name: 'COUNT', kind: 'integer', optional: true, minimum: 1, default: 1 }] },
    { subcommand: 'write', parameters: [{ name: 'DISK', kind: 'disk' }, { name: 'SECTOR', kind: 'integer' }, { name: 'TEXT', kind: 'text', rest: true }] },
  ],
};
const dmesg: Syntax = { name: 'dmesg', forms: [{ parameters: [{ name: 'N', kind: 'integer', flag: '-n', minimum: 1 }] }] };
const random: Syntax = { name: 'random', forms: [{ parameters: [{ name: 'N', kind: 'integer', optional: true, minimum: 1, maximum: 16384, default: 16 }] }] };
const shutdown: Syntax = { name: 'shutdown', forms: [{ parameters: [] }] };

const parse = (syntax: Syntax, line: string) => parseArguments(syntax, splitWords(line));
function refusal(syntax: Syntax, line: string): { message: string; usage: string } {
  try {
    parse(syntax, line);
  } catch (error) {
    if (error instanceof UsageError) return { message: error.message, usage: error.usage };
    throw error;
  }
  throw new Error(`"${line}" was accepted`);
}

describe('command syntax', () => {
  it('derives the usage line from the forms', () => {
    expect(usageLine(blk)).toBe('blk [read DISK SECTOR [COUNT] | write DISK SECTOR TEXT]');
    expect(usageLine(dmesg)).toBe('dmesg [-n N]');
    expect(usageLine(random)).toBe('random [N]');
    expect(usageLine(shutdown)).toBe('shutdown');
  });

  it('parses positional, defaulted, flagged and rest-of-line arguments', () => {
    const read = parse(blk, 'blk read virtio-blk 3');
    expect([read.subcommand, read.word('DISK'), read.integer('SECTOR'), read.integer('COUNT')]).toEqual(['read', 'virtio-blk', 3, 1]);
    const write = parse(blk, 'blk write virtio-blk 0 hello   there');
    expect(write.word('TEXT')).toBe('hello there');
    expect(parse(dmesg, 'dmesg -n 5').optionalInteger('N')).toBe(5);
    expect(parse(dmesg, 'dmesg').optionalInteger('N')).toBeUndefined();
    expect(parse(random, 'random').integer('N')).toBe(16);
    expect(parse(blk, 'blk').subcommand).toBeUndefined();
  });

  it('refuses extra words, saying what the command takes', () => {
    expect(refusal(shutdown, 'shutdown ps')).toEqual({ message: 'shutdown: unexpected "ps" (shutdown takes no arguments)', usage: 'shutdown' });
    expect(refusal(random, 'random 4 5')).toEqual({ message: 'random: unexpected "5"', usage: 'random [N]' });
  });

  it('refuses numbers out of range or not whole, saying the range', () => {
    expect(refusal(random, 'random -1').message).toBe('random: N must be a whole number, from 1 to 16384, not "-1"');
    expect(refusal(random, 'random 16385').message).toBe('random: N must be a whole number, from 1 to 16384, not "16385"');
    expect(refusal(random, 'random 0x10').message).toMatch(/not "0x10"$/);
    expect(refusal(dmesg, 'dmesg -n abc')).toEqual({ message: 'dmesg: N must be a whole number, 1 or more, not "abc"', usage: 'dmesg [-n N]' });
    expect(refusal(dmesg, 'dmesg -n').message).toBe('dmesg: -n needs N: a whole number, 1 or more');
    expect(refusal(dmesg, 'dmesg 5').message).toBe('dmesg: unexpected "5"');
  });

  it('names the missing argument and the form it belongs to', () => {
    expect(refusal(blk, 'blk read virtio-blk')).toEqual({ message: 'blk read: missing SECTOR: a whole number, 0 or more', usage: 'blk read DISK SECTOR [COUNT]' });
    expect(refusal(blk, 'blk frobnicate')).toEqual({ message: 'blk: expected read, write or nothing, not "frobnicate"', usage: 'blk [read DISK SECTOR [COUNT] | write DISK SECTOR TEXT]' });
  });

  it('writes help for one command from the same declaration', () => {
    expect(helpFor(blk, 'disks')).toBe([
      'usage: blk',
      '       blk read DISK SECTOR [COUNT]',
      '       blk write DISK SECTOR TEXT',
      'disks',
      '  DISK    a disk (see blk)',
      '  SECTOR  a whole number, 0 or more',
      '  COUNT   a whole number, 1 or more (default 1)',
      '  TEXT    text: the rest of the line',
    ].join('\n'));
  });
});
