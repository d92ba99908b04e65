import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDriverFolder } from './driver_loader.js';
import { createDriver, main, NewDriverError } from './new_driver.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let folders: string[] = [];
afterEach(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  folders = [];
});

function place(): string {
  const folder = mkdtempSync(join(tmpdir(), 'baton-new-'));
  folders.push(folder);
  return folder;
}

describe('createDriver', () => {
  it('writes an out-of-tree driver that imports baton as baton/... and loads', () => {
    const folder = join(place(), 'my-sensor');
    const created = createDriver('my-sensor', folder);
    expect(created.inTree).toBe(false);
    expect(created.files.sort()).toEqual(['.npmrc', 'README.md', 'main.test.ts', 'main.ts', 'manifest.json', 'package.json', 'tsconfig.json', 'vitest.config.mjs']);
    const main = readFileSync(join(folder, 'main.ts'), 'utf8');
    expect(main).toMatch(/^\/\/ my-sensor: /);
    expect(main).toContain("from 'baton/drivers/lib/driver.js'");
    expect(main).not.toMatch(/'\.\.\//);
    expect(readFileSync(join(folder, 'main.test.ts'), 'utf8')).toContain("from 'baton/test/harness/device_rig.js'");
    expect(JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'))).toMatchObject({ name: 'my-sensor', entry: 'main' });
    expect(readFileSync(join(folder, 'README.md'), 'utf8')).toContain(`load ${folder}`);
    expect(JSON.parse(readFileSync(join(folder, 'tsconfig.json'), 'utf8')).compilerOptions.paths['baton/*']).toEqual(['./node_modules/baton/*']);
    // A package of its own: baton and the tools its test needs are links into this checkout.
    expect(JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))).toMatchObject({
      name: 'my-sensor', type: 'module', scripts: { test: 'vitest run' },
      devDependencies: { baton: `file:${root}`, vitest: `file:${join(root, 'node_modules', 'vitest')}`, typescript: `file:${join(root, 'node_modules', 'typescript')}` },
    });
    const output = place();
    expect(loadDriverFolder(folder, { outputRoot: output }).name).toBe('my-sensor');
  });

  it('main creates the folder given by --dir and says what to do next; bad usage is status 2', async () => {
    const folder = join(place(), 'cli-made');
    const written: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((text: string) => written.push(text) > 0) as unknown as typeof process.stdout.write;
    try {
      expect(await main(['cli-made', '--dir', folder])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(written.join('')).toContain(`load ${folder}`);
    expect(existsSync(join(folder, 'main.ts'))).toBe(true);
    const error = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await main([])).toBe(2);
      expect(await main(['Bad!', '--dir', join(place(), 'x')])).toBe(1);
    } finally {
      process.stderr.write = error;
    }
  });

  it('refuses bad names, reserved names, non-empty folders and places inside the checkout outside drivers/', () => {
    expect(() => createDriver('My Driver', join(place(), 'x'))).toThrow(NewDriverError);
    expect(() => createDriver('kernel', join(place(), 'x'))).toThrow(/taken by baton/);
    const full = place();
    writeFileSync(join(full, 'something'), 'x');
    expect(() => createDriver('fine', full)).toThrow(/not empty/);
    expect(() => createDriver('fine', join(root, 'servers', 'fine'))).toThrow(/drivers\/NAME/);
    expect(existsSync(join(root, 'servers', 'fine'))).toBe(false);
  });
});
