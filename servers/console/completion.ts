// Tab completion for console lines, derived from the commands' declared syntax: the first
// word completes to a command name; later words to what the command's forms accept there
// (subcommands, flags, the current names of servers, drivers, disks or commands, and the
// entries of a directory for a path in the system).

import type { Form, Parameter } from './command_syntax.js';
import { commands, lookUp, type CommandServices } from './commands.js';
import type { Completion } from './line_discipline.js';
import { listNames } from './names.js';
import { pathCandidates } from './file_commands.js';

/** What may come next in a form: a literal word (subcommand or flag) or a parameter's value. */
type Expected = { readonly literal: string } | { readonly parameter: Parameter };

/** The completion of the last word of `before` (the text before the cursor). */
export async function completeLine(before: string, services: CommandServices): Promise<Completion> {
  const words = before.split(/\s+/).filter((word) => word.length > 0);
  const word = /\s$/.test(before) || before.length === 0 ? '' : words.pop()!;
  const candidates = new Set<string>();
  if (words.length === 0) {
    for (const name of Object.keys(commands)) candidates.add(name);
  } else {
    const command = lookUp(words[0]!);
    const expected = command ? command.forms.flatMap((form) => expectedAfter(form, words.slice(1))) : [];
    for (const next of expected) {
      if ('literal' in next) candidates.add(next.literal);
      else if (next.parameter.kind === 'file') for (const path of await pathCandidates(word, services.fs)) candidates.add(path);
      else if (isNameKind(next.parameter.kind)) for (const name of await listNames(next.parameter.kind, services, Object.keys(commands))) candidates.add(name);
    }
  }
  return { word, candidates: [...candidates].filter((candidate) => candidate.startsWith(word)).sort() };
}

function isNameKind(kind: Parameter['kind']): kind is 'program' | 'driver' | 'disk' | 'command' {
  return kind === 'program' || kind === 'driver' || kind === 'disk' || kind === 'command';
}

/** What the form accepts after `words` (the words after the command name), or nothing if they do not fit it. */
export function expectedAfter(form: Form, words: readonly string[]): Expected[] {
  let rest = words;
  if (form.subcommand !== undefined) {
    if (rest.length === 0) return [{ literal: form.subcommand }];
    if (rest[0] !== form.subcommand) return [];
    rest = rest.slice(1);
  }
  const expected: Expected[] = [];
  for (const parameter of form.parameters) {
    if (parameter.flag !== undefined) {
      if (rest.length === 0) {
        expected.push({ literal: parameter.flag });
        continue;
      }
      if (rest[0] !== parameter.flag) continue;
      if (rest.length === 1) return [{ parameter }];
      rest = rest.slice(2);
      continue;
    }
    if (parameter.rest) return rest.length === 0 ? [...expected, { parameter }] : [];
    if (rest.length === 0) {
      expected.push({ parameter });
      if (parameter.optional) continue;
      return expected;
    }
    rest = rest.slice(1);
  }
  return rest.length === 0 ? expected : [];
}
