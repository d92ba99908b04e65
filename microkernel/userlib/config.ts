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

/** The config `raw` of server `name` as `schema` declares it, or InvalidConfigError. */
export function checkConfig<S extends TSchema>(name: string, schema: S, raw: unknown): Static<S> {
  const check = TypeCompiler.Compile(schema);
  const value = Value.Default(schema, Value.Convert(schema, Value.Clone(raw ?? {})));
  if (check.Check(value)) return value;
  const fault = firstSchemaFault(check.Errors(value), 'the config', `is not a config field of ${name}`);
  throw new InvalidConfigError(`${name}: config ${fault?.message ?? 'does not match its schema'}`, { field: fault?.field ?? '', reason: fault?.reason ?? 'does not match' });
}
