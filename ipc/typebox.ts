// TypeBox, the schema language every interface and manifest is declared in, through one
// module. The build bundles this file (tools/bin/bundle.mjs) so each thread loads TypeBox
// as a single file instead of its 266: it was about half of a server shell's start-up.

export * from '@sinclair/typebox';
export { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
export { Value } from '@sinclair/typebox/value';
