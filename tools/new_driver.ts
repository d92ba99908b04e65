// `npm run new-driver -- NAME [--dir PATH]` (or `baton new-driver NAME`): a new driver
// folder made from drivers/template — main.ts, manifest.json, a passing main.test.ts and
// a README — ready to test alone and to load into a running system.
//
// Inside the tree (the default, drivers/NAME) the files import baton by relative paths and
// `npm test -- drivers/NAME` runs the test. Anywhere else (--dir PATH outside the checkout)
// they import baton as `baton/...` (what `load` resolves to this checkout's build), and the
// folder is a package of its own: its package.json links baton, vitest and typescript from
// this checkout (`npm install` there makes the links and downloads nothing), so inside it
// `npx vitest run` runs its test and `npx tsc` type-checks it; vitest.config.mjs maps
// `baton/...` to the linked checkout's sources and builds baton before the tests.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const NEW_DRIVER_USAGE = `usage: npm run new-driver -- NAME [--dir PATH]
  creates a driver folder NAME from drivers/template: main.ts, manifest.json, main.test.ts, README.md
  NAME      the driver's name: lower-case letters, digits and "-", starting with a letter
  --dir     where to create it (default drivers/NAME in this checkout; a path outside the
            checkout makes an out-of-tree driver that imports baton as "baton/...")`;

const TEMPLATE_FILES = ['main.ts', 'manifest.json', 'main.test.ts', 'README.md'];
const NAME_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
const RESERVED = new Set(['kernel', 'drivers', 'template', 'lib', 'log', 'console']);

// This file runs compiled (build/tools/) and from source (tests import it).
const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = basename(dirname(here)) === 'build' ? resolve(here, '..', '..') : resolve(here, '..');

export interface CreatedDriver {
  readonly folder: string;
  readonly inTree: boolean;
  readonly files: string[];
}

export class NewDriverError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { dir: { type: 'string' }, help: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`baton: ${(error as Error).message}\n${NEW_DRIVER_USAGE}\n`);
    return 2;
  }
  if (parsed.values.help || parsed.positionals.length !== 1) {
    process.stderr.write(`${NEW_DRIVER_USAGE}\n`);
    return 2;
  }
  try {
    // npm run changes into the package root; INIT_CWD is where the user typed the command.
    const base = process.env.INIT_CWD ?? process.cwd();
    const created = createDriver(parsed.positionals[0]!, parsed.values.dir === undefined ? undefined : resolve(base, parsed.values.dir));
    process.stdout.write(nextSteps(created));
    return 0;
  } catch (error) {
    if (error instanceof NewDriverError) {
      process.stderr.write(`baton: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** Writes the new driver NAME into `folder` (default drivers/NAME); throws NewDriverError for a bad name or place. */
export function createDriver(name: string, folder: string = join(projectRoot, 'drivers', name)): CreatedDriver {
  if (!NAME_PATTERN.test(name)) throw new NewDriverError(`"${name}" is not a driver name: use lower-case letters, digits and "-", starting with a letter`);
  if (RESERVED.has(name)) throw new NewDriverError(`"${name}" is taken by baton itself; choose another name`);
  const driversFolder = join(projectRoot, 'drivers');
  const inTree = inside(projectRoot, folder);
  if (inTree && dirname(folder) !== driversFolder) {
    throw new NewDriverError(`${folder}: inside the baton checkout a driver goes in drivers/NAME; elsewhere, any folder outside the checkout will do`);
  }
  if (existsSync(folder) && readdirSync(folder).length > 0) throw new NewDriverError(`${folder} already exists and is not empty`);

  const files: Record<string, string> = {};
  for (const file of TEMPLATE_FILES) {
    let text = readFileSync(join(driversFolder, 'template', file), 'utf8').replace(/\btemplate\b/g, name);
    if (!inTree) text = outOfTree(text, file, folder, name);
    files[file] = text;
  }
  if (!inTree) {
    files['package.json'] = packageFor(name);
    files['.npmrc'] = NPMRC;
    files['tsconfig.json'] = tsconfigFor();
    files['vitest.config.mjs'] = VITEST_CONFIG;
  }
  mkdirSync(folder, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(folder, file), text);
  return { folder, inTree, files: Object.keys(files) };
}

/** A template file as an out-of-tree driver writes it: baton imported as `baton/...`. */
function outOfTree(text: string, file: string, folder: string, name: string): string {
  let result = text.replace(/(['"])\.\.\/\.\.\//g, '$1baton/').replace(/(['"])\.\.\/lib\//g, '$1baton/drivers/lib/');
  if (file === 'README.md') {
    result = result
      .replace(/Test it \(from the baton checkout\): `npm test -- drivers\/[^`]*`/, OUT_OF_TREE_TEST)
      .replace(new RegExp(`load drivers/${name}`, 'g'), `load ${folder}`);
  }
  return result;
}

/** How the out-of-tree README says to test: the same words as baton's READMEs. */
const OUT_OF_TREE_TEST = `Test it, in this folder: \`npm install\` once (it links baton, vitest and typescript from
the baton checkout named in package.json, and downloads nothing), then \`npx vitest run\`
(or \`npm test\`). Type-check it with \`npx tsc\` (\`load\` checks the types too, and refuses a driver with type errors).`;

/** The folder as a package: baton and the tools its test needs, linked from this checkout. */
function packageFor(name: string): string {
  const modules = join(projectRoot, 'node_modules');
  return `${JSON.stringify({
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    description: 'a baton driver',
    scripts: { test: 'vitest run', typecheck: 'tsc' },
    devDependencies: {
      baton: `file:${projectRoot}`,
      typescript: `file:${join(modules, 'typescript')}`,
      vitest: `file:${join(modules, 'vitest')}`,
    },
  }, null, 2)}\n`;
}

/** npm must not run baton's own build scripts while linking it; `npm test` and `npm run` still run. */
const NPMRC = `# Linking baton (npm install) must not run its build; its tests build it when they start.
ignore-scripts=true
`;

function tsconfigFor(): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2024'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      types: ['node'],
      typeRoots: ['./node_modules/baton/node_modules/@types'],
      // baton's sources (not build/'s declarations: its test harness is not built, and one
      // class seen through both would be two types).
      paths: { 'baton/*': ['./node_modules/baton/*'] },
    },
    include: ['**/*.ts'],
    exclude: ['node_modules'],
  }, null, 2) + '\n';
}

const VITEST_CONFIG = `// This driver's tests, run from this folder: npx vitest run (after npm install, which links
// baton). baton/... imports map to the linked checkout's sources; baton is built first.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const baton = dirname(realpathSync(createRequire(import.meta.url).resolve('baton/package.json')));

export default {
  resolve: { alias: [{ find: /^baton\\/(.*)$/, replacement: \`\${baton}/$1\` }] },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    globalSetup: [\`\${baton}/test/harness/build_once.ts\`],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
};
`;

function nextSteps(created: CreatedDriver): string {
  const where = created.inTree ? relative(projectRoot, created.folder) : created.folder;
  const test = created.inTree ? `npm test -- ${where}   (from ${projectRoot})` : `cd ${where} && npm install && npx vitest run`;
  return `created ${where}/: ${created.files.join(', ')}
next:
  test it alone:         ${test}
  in a running system:   npm start -- --device virtio-rng   (a spare entropy device: the template drives one)
                         baton> load ${where}
                         baton> random 16
  then make it yours:    manifest.json "match" says what it binds to; main.ts brings the device up
`;
}

function inside(parent: string, path: string): boolean {
  const to = relative(parent, path);
  return to === '' || (!to.startsWith('..') && !isAbsolute(to));
}
