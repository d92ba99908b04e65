import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ManifestError } from '../microkernel/manifest.js';
import { DriverLoadError, harnessModule, loadCheckedDriverFolder, loadDriverFolder, serveLoadDriverRequest } from './driver_loader.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build');
const MANIFEST = {
  name: 'sample',
  version: '1.0.0',
  entry: 'main',
  match: { compatible: ['virtio,mmio'], virtioDeviceId: 4 },
  serves: ['random'],
};
const MAIN = `import { defineDriver } from 'baton/drivers/lib/driver.js';
import type { DriverContext } from 'baton/drivers/lib/driver.js';
import { helper } from './helper.js';
export default defineDriver({ init(driver: DriverContext) { helper(driver.name); } });
`;

let folders: string[] = [];
afterEach(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  folders = [];
});

function driverFolder(manifest: unknown = MANIFEST, files: Record<string, string> = { 'main.ts': MAIN, 'helper.ts': 'export function helper(name: string): string { return name; }\n' }) {
  const folder = mkdtempSync(join(tmpdir(), 'baton-loader-'));
  folders.push(folder);
  writeFileSync(join(folder, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(folder, file)), { recursive: true });
    writeFileSync(join(folder, file), text);
  }
  const output = mkdtempSync(join(tmpdir(), 'baton-loaded-'));
  folders.push(output);
  return { folder, output };
}

function refusal(manifest: unknown): ManifestError {
  const { folder, output } = driverFolder(manifest);
  try {
    loadDriverFolder(folder, { outputRoot: output });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    expect(readdirSync(output)).toEqual([]); // refused before anything was compiled
    return error as ManifestError;
  }
  throw new Error('the manifest was accepted');
}

describe('loadDriverFolder', () => {
  it('compiles every source, rewriting baton/ imports to the build and keeping the folder\'s own', () => {
    const { folder, output } = driverFolder(MANIFEST, {
      'main.ts': MAIN,
      'helper.ts': 'export function helper(name: string): string { return name; }\n',
      'main.test.ts': 'this is not compiled',
      'nested/deep.ts': "export { helper } from '../helper.js';\n",
    });
    const spec = loadDriverFolder(folder, { outputRoot: output });
    expect(spec).toMatchObject({ name: 'sample', kind: 'driver', version: '1.0.0', serves: ['random'], needs: { interrupts: 1, registerBytes: 0 } });
    const entry = fileURLToPath(spec.entry);
    expect(entry.startsWith(output)).toBe(true);
    const compiled = readFileSync(entry, 'utf8');
    expect(compiled).toContain(`from "${pathToFileURL(join(build, 'drivers/lib/driver.js')).href}"`);
    expect(compiled).toContain('from "./helper.js"');
    expect(compiled).not.toContain('DriverContext'); // type-only imports are gone
    expect(readdirSync(dirname(entry)).sort()).toEqual(['helper.js', 'main.js', 'nested']);
    expect(readFileSync(join(dirname(entry), 'nested', 'deep.js'), 'utf8')).toContain('from "../helper.js"');
  });

  it('compiles a changed folder into a new place and an unchanged one into the same', () => {
    const { folder, output } = driverFolder();
    const first = loadDriverFolder(folder, { outputRoot: output }).entry;
    expect(loadDriverFolder(folder, { outputRoot: output }).entry).toBe(first);
    writeFileSync(join(folder, 'helper.ts'), 'export function helper(name: string): string { return name + "!"; }\n');
    expect(loadDriverFolder(folder, { outputRoot: output }).entry).not.toBe(first);
  });

  it('a driver inside the tree runs from the build without compiling', () => {
    const spec = loadDriverFolder(join(root, 'drivers', 'virtio-rng'));
    expect(spec.entry).toBe(pathToFileURL(join(build, 'drivers', 'virtio-rng', 'main.js')).href);
    expect(harnessModule(join(root, 'drivers', 'virtio-rng'))).toBe('drivers/virtio-rng/main');
  });

  it('refuses a manifest naming the bad field and the reason', () => {
    expect(refusal({ ...MANIFEST, name: 'Sample Driver' }).message).toMatch(/field "name": expected string to match .*lower-case letters.*\(got "Sample Driver"\)/);
    expect(refusal({ ...MANIFEST, match: undefined })).toMatchObject({ field: 'match', reason: 'a driver needs one' });
    expect(refusal({ ...MANIFEST, match: { compatible: [] } })).toMatchObject({ field: 'match.compatible' });
    expect(refusal({ ...MANIFEST, match: { compatible: ['virtio,mmio'], virtioDeviceId: 300 } }).message).toMatch(/field "match\.virtioDeviceId": .*255 \(got 300\)/);
    expect(refusal({ ...MANIFEST, colour: 'blue' }).message).toMatch(/field "colour": is not a manifest field/);
    expect(refusal({ ...MANIFEST, restart: { policy: 'sometimes' } }).message).toMatch(/field "restart\.policy": must be one of "always", "never"/);
    expect(refusal({ ...MANIFEST, entry: '../elsewhere' })).toMatchObject({ field: 'entry' });
    expect(refusal({ ...MANIFEST, kind: 'server' })).toMatchObject({ field: 'kind' });
    expect(refusal({ ...MANIFEST, needs: { interrupts: 2 } })).toMatchObject({ field: 'needs.interrupts' });
    expect(refusal('{ "name": ').message).toMatch(/not valid JSON/);
    expect(refusal({ ...MANIFEST, serves: ['random', 'randon'] })).toMatchObject({
      field: 'serves[1]', message: expect.stringMatching(/field "serves\[1\]": no interface is named "randon" \(baton's: block, chardev, .*random/),
    });
  });

  it('accepts in "serves" an interface the driver declares in its own folder', () => {
    const { folder, output } = driverFolder({ ...MANIFEST, serves: ['my-sensor'] }, {
      'main.ts': MAIN,
      'helper.ts': 'export function helper(name: string): string { return name; }\n',
      'sensor.ts': "import { defineInterface } from 'baton/ipc/define.js';\nimport { Type } from 'baton/ipc/typebox.js';\n" +
        "export const sensorInterface = defineInterface({\n  name: 'my-sensor',\n  ops: { read: { id: 1, kind: 'call', args: Type.Object({}), reply: Type.Object({}) } },\n});\n",
    });
    expect(loadDriverFolder(folder, { outputRoot: output }).serves).toEqual(['my-sensor']);
  });

  it('refuses folders that are missing, have no manifest, lack the entry or do not compile', () => {
    expect(() => loadDriverFolder(join(tmpdir(), 'baton-no-such-driver'))).toThrow(/no such folder/);
    const { folder: empty } = driverFolder();
    rmSync(join(empty, 'manifest.json'));
    expect(() => loadDriverFolder(empty)).toThrow(DriverLoadError);
    const { folder: noEntry, output } = driverFolder({ ...MANIFEST, entry: 'start' });
    expect(() => loadDriverFolder(noEntry, { outputRoot: output })).toThrow(/names start\.ts, which is not there/);
    const { folder: broken, output: brokenOutput } = driverFolder(MANIFEST, { 'main.ts': 'export default {\n  init( {\n' });
    expect(() => loadDriverFolder(broken, { outputRoot: brokenOutput })).toThrow(/does not compile:\n {2}main\.ts:\d+:\d+: /);
    const { folder: missingImport, output: missingOutput } = driverFolder(MANIFEST, { 'main.ts': "import { nothing } from 'baton/drivers/lib/nothing.js';\nexport default nothing;\n" });
    expect(() => loadDriverFolder(missingImport, { outputRoot: missingOutput })).toThrow(/import "baton\/drivers\/lib\/nothing\.js": baton has no module/);
  });

  it('serveLoadDriverRequest answers with the spec, or the error with its code and field', async () => {
    expect(await serveLoadDriverRequest({ op: 'load-driver' })).toMatchObject({ code: 'LOAD_FAILED' });
    const { folder } = driverFolder({ ...MANIFEST, name: 'Bad' });
    expect(await serveLoadDriverRequest({ op: 'load-driver', path: folder })).toMatchObject({ code: 'INVALID_MANIFEST', field: 'name' });
    expect(await serveLoadDriverRequest({ op: 'load-driver', path: join(root, 'drivers', 'virtio-blk') })).toMatchObject({ spec: { name: 'virtio-blk', serves: ['block'] } });
  });

  it('loadCheckedDriverFolder refuses a type error with its file, line, column and message, and takes a driver that type-checks', async () => {
    const { folder, output } = driverFolder(MANIFEST, { 'main.ts': MAIN, 'helper.ts': 'export function helper(name: string): number {\n  return name;\n}\n' });
    await expect(loadCheckedDriverFolder(folder, { outputRoot: output })).rejects.toThrow(
      /does not type-check:\n {2}helper\.ts:2:3: error TS2322: Type 'string' is not assignable to type 'number'\.$/);
    const good = driverFolder();
    expect((await loadCheckedDriverFolder(good.folder, { outputRoot: good.output })).name).toBe('sample');
  }, 60_000);

  it('loadCheckedDriverFolder checks with the folder\'s own tsconfig.json, against this build whatever its paths say', async () => {
    const tsconfig = JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, noUnusedLocals: true,
        types: ['node'], typeRoots: ['./node_modules/baton/node_modules/@types'], paths: { 'baton/*': ['./node_modules/baton/*'] } },
    });
    const unused = driverFolder(MANIFEST, { 'main.ts': `${MAIN}const unused = 1;\n`, 'helper.ts': 'export function helper(name: string): string { return name; }\n', 'tsconfig.json': tsconfig });
    await expect(loadCheckedDriverFolder(unused.folder, { outputRoot: unused.output })).rejects.toThrow(/main\.ts:5:7: error TS6133: 'unused' is declared but its value is never read/);
    const good = driverFolder(MANIFEST, { 'main.ts': MAIN, 'helper.ts': 'export function helper(name: string): string { return name; }\n', 'tsconfig.json': tsconfig });
    expect((await loadCheckedDriverFolder(good.folder, { outputRoot: good.output })).name).toBe('sample');
  }, 60_000);

  it('serveLoadDriverRequest answers a driver with type errors with LOAD_FAILED naming them', async () => {
    const { folder } = driverFolder(MANIFEST, { 'main.ts': MAIN, 'helper.ts': 'export function helper(name: string): number { return name; }\n' });
    const answer = await serveLoadDriverRequest({ op: 'load-driver', path: folder });
    expect(answer).toMatchObject({ code: 'LOAD_FAILED' });
    expect(answer.error).toMatch(/does not type-check:\n  helper\.ts:1:48: error TS2322/);
  }, 60_000);
});
