// Says what is wrong with a value that failed its TypeBox schema, in the words a person
// editing a manifest or a config reads: `field "terminals[0].echo": expected boolean (got "yes")`.
// Shared by the manifest (manifest.ts) and every server's config check (userlib/config.ts),
// so both name the field the same way.

/** One error as TypeBox's checker reports it (the fields this module reads). */
export interface SchemaError {
  readonly path: string;
  readonly message: string;
  readonly value: unknown;
  readonly schema: { readonly description?: string; readonly anyOf?: readonly { readonly const?: unknown }[] };
}

/** The first error: the dotted field it names ("" for the whole value), why, and the whole sentence. */
export interface SchemaFault {
  readonly field: string;
  readonly reason: string;
  /** `field "a.b": reason (got value)`, or `WHOLE: reason` for the value as a whole. */
  readonly message: string;
}

/** The first of `errors`, or undefined if there is none; `whole` names the value itself (e.g. "the manifest"). */
export function firstSchemaFault(errors: Iterable<SchemaError>, whole: string, unknownField: string): SchemaFault | undefined {
  for (const error of errors) {
    const field = fieldOf(error.path);
    const reason = explain(error, unknownField);
    const got = error.value === undefined ? '' : ` (got ${describeValue(error.value)})`;
    return { field, reason, message: `${field ? `field "${field}"` : whole}: ${reason}${got}` };
  }
  return undefined;
}

/** A JSON pointer ("/terminals/0/echo") as the field a person reads ("terminals[0].echo"). */
function fieldOf(path: string): string {
  return path.split('/').filter(Boolean).map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`)).join('').replace(/^\./, '');
}

function explain(error: SchemaError, unknownField: string): string {
  if (error.message === 'Expected required property') return 'is required';
  if (error.message === 'Unexpected property') return unknownField;
  const choices = error.schema.anyOf?.filter((member) => member.const !== undefined).map((member) => JSON.stringify(member.const));
  if (choices && choices.length > 0) return `must be one of ${choices.join(', ')}`;
  const message = error.message.replace(/^Expected /, 'expected ');
  return error.schema.description && /match|pattern/.test(error.message) ? `${message}: ${error.schema.description}` : message;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
