// A server's config, checked against the schema the server declares before its init runs.
//
// A server declares its config as TypeBox data, as interfaces are declared:
//
//   export default defineServer({
//     config: Type.Object({ capacity: Type.Integer({ minimum: 1, default: 10000 }) }, { additionalProperties: false }),
//     init(context) { context.config.capacity },   // a number: the type derives from the schema
//   });
//
// What arrives is the folder manifest's config, the boot manifest's overrides, the
// `NAME.key=value` boot arguments and what the kernel adds for that server. The check
// converts what a boot argument can only say as text ("true", "12") to the declared type,
// fills in defaults, and refuses anything else with the field and why — INVALID_CONFIG,
// which the supervisor takes as final: the server is marked failed, not restarted.

import { TypeCompiler, Value, type TSchema, type Static } from '../../ipc/typebox.js';
import { errorClass } from '../../ipc/errors.js';
import { firstSchemaFault } from '../schema_errors.js';

/** A server's config does not match its declared schema; `data.field` names the first bad field. */
export class InvalidConfigError extends errorClass('INVALID_CONFIG') {}

/**
 * What a server was given cannot work, and a restart would not change it (an ext2 disk
 * with a feature the server does not support): thrown from init, it is final as
 * INVALID_CONFIG is — the server is marked failed with this message, not restarted.
 */
export class StartRefusedError extends errorClass('START_REFUSED') {}

/** The config `raw` of server `name` as `schema` declares it, or InvalidConfigError. */
export function checkConfig<S extends TSchema>(name: string, schema: S, raw: unknown): Static<S> {
  const check = TypeCompiler.Compile(schema);
  const value = Value.Default(schema, Value.Convert(schema, Value.Clone(raw ?? {})));
  if (check.Check(value)) return value;
  const fault = firstSchemaFault(check.Errors(value), 'the config', `is not a config field of ${name}`);
  throw new InvalidConfigError(`${name}: config ${fault?.message ?? 'does not match its schema'}`, { field: fault?.field ?? '', reason: fault?.reason ?? 'does not match' });
}

/**
 * The config of server `name` with its `NAME.key=value` boot arguments applied one at a
 * time: an argument that would make the config fail its schema (a wrong value, a key the
 * server does not declare) is left out and named in `ignored`, so a typo on the command
 * line is a warning and never keeps a server — the memory server least of all — from
 * starting. The config without arguments must pass (InvalidConfigError otherwise).
 */
export function checkConfigWithArguments<S extends TSchema>(name: string, schema: S, raw: Readonly<Record<string, unknown>>, bootArguments: Readonly<Record<string, unknown>>): { config: Static<S>; ignored: string[] } {
  let accepted: Record<string, unknown> = { ...raw };
  let config = checkConfig(name, schema, accepted);
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(bootArguments)) {
    try {
      config = checkConfig(name, schema, { ...accepted, [key]: value });
      accepted = { ...accepted, [key]: value };
    } catch (error) {
      if (!(error instanceof InvalidConfigError)) throw error;
      ignored.push(`${name}.${key}=${String(value)}: ${error.message.replace(`${name}: config `, '')}; ignored`);
    }
  }
  return { config, ignored };
}
