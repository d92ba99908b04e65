// A console command's arguments, declared once as data. Parsing (with errors that say what
// was expected), the usage line, `help NAME` and Tab completion (completion.ts) are all
// derived from the declaration, so they cannot disagree.
//
// A command has one or more forms; a form may begin with a subcommand word (`blk read`)
// and lists its parameters in order. A parameter may be optional, introduced by a flag
// (`-n N`), or take the rest of the line (`TEXT`, words joined by one space).

/** What a parameter holds; the name kinds are also what Tab completes. */
export type ParameterKind = 'integer' | 'program' | 'driver' | 'disk' | 'command' | 'path' | 'file' | 'text';
export type NameKind = Extract<ParameterKind, 'program' | 'driver' | 'disk' | 'command'>;

export interface Parameter {
  /** As the usage shows it: N, NAME, DISK. Unique within a command. */
  readonly name: string;
  readonly kind: ParameterKind;
  readonly optional?: boolean;
  /** Written after this word: `-n N`. Implies optional. */
  readonly flag?: string;
  /** Takes every remaining word, joined by one space (the last parameter only). */
  readonly rest?: boolean;
  /** Integers: the smallest and largest accepted (inclusive), and the value when omitted. */
  readonly minimum?: number;
  readonly maximum?: number;
  readonly default?: number;
  /** For `help NAME`; derived from the kind when absent. */
  readonly describe?: string;
}

export interface Form {
  readonly subcommand?: string;
  readonly parameters: readonly Parameter[];
}

export interface Syntax {
  readonly name: string;
  readonly forms: readonly Form[];
}

/** A line that does not fit the syntax: the message says what was expected; `usage` the form meant. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

const KIND_DESCRIPTIONS: Record<ParameterKind, string> = {
  integer: 'a whole number',
  program: 'a server or driver (see ps)',
  driver: 'a driver, or one instance of it NAME.N (see drivers)',
  disk: 'a disk (see blk)',
  command: 'a command (see help)',
  path: 'a path on the host',
  file: 'a path in the system (from /)',
  text: 'text: the rest of the line',
};

const isFlagged = (parameter: Parameter) => parameter.flag !== undefined;
const isOptional = (parameter: Parameter) => parameter.optional === true || isFlagged(parameter);

function parameterUsage(parameter: Parameter): string {
  const core = parameter.flag ? `${parameter.flag} ${parameter.name}` : parameter.name;
  return isOptional(parameter) ? `[${core}]` : core;
}

/** One form as usage shows it, without the command name: `read DISK SECTOR [COUNT]`. */
function formUsage(form: Form): string {
  return [form.subcommand, ...form.parameters.map(parameterUsage)].filter((part) => part !== undefined).join(' ');
}

/** One line for the command table: `blk [read DISK SECTOR [COUNT] | write DISK SECTOR TEXT | flush DISK]`. */
export function usageLine(syntax: Syntax): string {
  const bare = syntax.forms.find((form) => form.subcommand === undefined && form.parameters.length === 0);
  const others = syntax.forms.filter((form) => form !== bare);
  if (others.length === 0) return syntax.name;
  const alternatives = others.map(formUsage).join(' | ');
  return bare ? `${syntax.name} [${alternatives}]` : `${syntax.name} ${alternatives}`;
}

/** The usage of one form, with the command name: `blk read DISK SECTOR [COUNT]`. */
export function formUsageLine(syntax: Syntax, form: Form): string {
  return [syntax.name, formUsage(form)].filter((part) => part.length > 0).join(' ');
}

/** What a parameter accepts, in words: `a whole number from 1 to 16384 (default 16)`. */
export function describeParameter(parameter: Parameter): string {
  if (parameter.describe) return parameter.describe;
  if (parameter.kind !== 'integer') return KIND_DESCRIPTIONS[parameter.kind];
  const minimum = parameter.minimum ?? 0;
  const range = parameter.maximum === undefined ? `${minimum} or more` : `from ${minimum} to ${parameter.maximum}`;
  return `a whole number, ${range}${parameter.default === undefined ? '' : ` (default ${parameter.default})`}`;
}

/** `help NAME`: every form's usage, the summary, then each parameter and what it accepts. */
export function helpFor(syntax: Syntax, summary: string): string {
  const usages = syntax.forms.map((form) => formUsageLine(syntax, form));
  const lines = usages.map((usage, index) => `${index === 0 ? 'usage: ' : '       '}${usage}`);
  lines.push(summary);
  const parameters = new Map<string, Parameter>();
  for (const form of syntax.forms) for (const parameter of form.parameters) if (!parameters.has(parameter.name)) parameters.set(parameter.name, parameter);
  const width = Math.max(0, ...[...parameters.keys()].map((name) => name.length));
  for (const parameter of parameters.values()) lines.push(`  ${parameter.name.padEnd(width)}  ${describeParameter(parameter)}`);
  return lines.join('\n');
}

/** The words of a line: split on white space. */
export function splitWords(line: string): string[] {
  return line.trim().split(/\s+/).filter((word) => word.length > 0);
}

/** The arguments of one parsed line, by parameter name. */
export class Arguments {
  constructor(readonly form: Form, private readonly values: ReadonlyMap<string, string | number>) {}

  get subcommand(): string | undefined {
    return this.form.subcommand;
  }

  /** A word or text argument; undefined when an optional one was left out. */
  optionalWord(name: string): string | undefined {
    const value = this.values.get(name);
    return typeof value === 'string' ? value : undefined;
  }

  /** A word or text argument that the form requires. */
  word(name: string): string {
    const value = this.optionalWord(name);
    if (value === undefined) throw new Error(`console: ${name} is not a required word of ${this.form.subcommand ?? 'this form'}`);
    return value;
  }

  /** An integer argument, or its default; undefined when left out and it has no default. */
  optionalInteger(name: string): number | undefined {
    const value = this.values.get(name);
    return typeof value === 'number' ? value : undefined;
  }

  /** An integer argument that the form requires or gives a default. */
  integer(name: string): number {
    const value = this.optionalInteger(name);
    if (value === undefined) throw new Error(`console: ${name} is not a required or defaulted integer of ${this.form.subcommand ?? 'this form'}`);
    return value;
  }
}

/** The form a line means: the one named by its subcommand word, else the one without. */
export function chooseForm(syntax: Syntax, words: readonly string[]): Form | UsageError {
  const named = syntax.forms.find((form) => form.subcommand !== undefined && form.subcommand === words[1]);
  if (named) return named;
  const unnamed = syntax.forms.find((form) => form.subcommand === undefined);
  const subcommands = syntax.forms.flatMap((form) => (form.subcommand === undefined ? [] : [form.subcommand]));
  if (unnamed && (words.length === 1 || unnamed.parameters.length > 0 || subcommands.length === 0)) return unnamed;
  const got = words[1] === undefined ? 'nothing' : `"${words[1]}"`;
  return new UsageError(`${syntax.name}: expected ${subcommands.join(', ')}${unnamed ? ' or nothing' : ''}, not ${got}`, usageLine(syntax));
}

/** Parses the words of a line (the command name first) against the syntax; throws UsageError. */
export function parseArguments(syntax: Syntax, words: readonly string[]): Arguments {
  const form = chooseForm(syntax, words);
  if (form instanceof UsageError) throw form;
  const usage = formUsageLine(syntax, form);
  const fail = (message: string): never => {
    throw new UsageError(`${syntax.name}${form.subcommand ? ` ${form.subcommand}` : ''}: ${message}`, usage);
  };
  const values = new Map<string, string | number>();
  let next = form.subcommand === undefined ? 1 : 2;
  for (const parameter of form.parameters) {
    if (parameter.flag !== undefined) {
      if (words[next] !== parameter.flag) {
        if (parameter.default !== undefined) values.set(parameter.name, parameter.default);
        continue;
      }
      next++;
      if (words[next] === undefined) fail(`${parameter.flag} needs ${parameter.name}: ${describeParameter(parameter)}`);
    }
    if (words[next] === undefined) {
      if (!isOptional(parameter)) fail(`missing ${parameter.name}: ${describeParameter(parameter)}`);
      if (parameter.default !== undefined) values.set(parameter.name, parameter.default);
      continue;
    }
    if (parameter.rest) {
      values.set(parameter.name, words.slice(next).join(' '));
      next = words.length;
      continue;
    }
    const word = words[next++]!;
    values.set(parameter.name, parameter.kind === 'integer' ? parseInteger(parameter, word, fail) : word);
  }
  if (next < words.length) {
    const extra = words.slice(next);
    fail(`unexpected ${extra.map((word) => `"${word}"`).join(' ')}${form.parameters.length === 0 ? ` (${formUsageLine(syntax, form)} takes no arguments)` : ''}`);
  }
  return new Arguments(form, values);
}

function parseInteger(parameter: Parameter, word: string, fail: (message: string) => never): number {
  const value = Number(word);
  const inRange = /^\d+$/.test(word) && Number.isSafeInteger(value)
    && value >= (parameter.minimum ?? 0) && (parameter.maximum === undefined || value <= parameter.maximum);
  return inRange ? value : fail(`${parameter.name} must be ${describeParameter(parameter).replace(/ \(default .*\)$/, '')}, not "${word}"`);
}
