import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ManifestError } from '../microkernel/manifest.js';
import { resolveBootManifest } from './boot_image.js';

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = { name: 'sample', entry: 'main', serves: ['sample'], talksTo: ['log'], restart: { policy: 'always' }, config: { size: 4, label: 'a' } };

let trees: string[] = [];
afterEach(() => {
  for (const tree of trees) rmSync(tree, { recursive: true, force: true });
  trees = [];
});

/** A tree with sysroot/boot/NAME.json for each of `boot` and a folder manifest for each of `folders`. */
function tree(boot: Record<string, unknown>, folders: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), 'baton-boot-'));
  trees.push(root);
  for (const [name, manifest] of Object.entries(boot)) write(join(root, 'sysroot', 'boot', `${name}.json`), manifest);
  for (const [folder, manifest] of Object.entries(folders)) write(join(root, folder, 'manifest.json'), manifest);
  return root;
}

function write(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
}

function refusal(root: string, name = 'default'): ManifestError {
  try {
    resolveBootManifest(name, root);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return error as ManifestError;
  }
  throw new Error('the boot manifest was accepted');
}

describe('resolveBootManifest', () => {
  it('reads each server from its folder manifest, in the order the boot manifest lists them', () => {
    const manifest = resolveBootManifest('default', checkout);
    const servers = manifest.programs.filter((program) => program.kind === 'server');
    expect(servers.map((server) => server.name)).toEqual(['memory', 'log', 'kho', 'net', 'tmpfs', 'tmpfs-tmp', 'vfs', 'console', 'httpd', 'ext2', 'view']);
    const log = servers[1]!;
    expect(log.entry).toBe(pathToFileURL(join(checkout, 'build', 'servers', 'log', 'main.js')).href);
    expect(log.config).toEqual({ capacity: 10000, logDevice: 'virtio-console.2' });
    expect(manifest.programs.filter((program) => program.kind === 'driver').map((driver) => driver.name)).toEqual(['virtio-console', 'virtio-rng', 'virtio-blk', 'virtio-net']);
  });

  it('a manifest that extends another adds its servers after the base\'s', () => {
    const names = resolveBootManifest('kho-test', checkout).programs.filter((program) => program.kind === 'server').map((server) => server.name);
    expect(names).toEqual(['memory', 'log', 'kho', 'net', 'tmpfs', 'tmpfs-tmp', 'vfs', 'console', 'httpd', 'ext2', 'view', 'kho-test']);
  });

  it('fills in the schema\'s defaults for what a server folder leaves out', () => {
    const root = tree({ default: { servers: ['servers/sample'] } }, { 'servers/sample': { name: 'sample', entry: 'main' } });
    const [sample] = resolveBootManifest('default', root).programs;
    expect(sample).toMatchObject({ kind: 'server', serves: [], talksTo: [], heartbeatMs: 500, config: {}, restart: { policy: 'always', maximumQuickFailures: 5 } });
  });

  it('applies a boot manifest\'s overrides: config keys and restart fields merged over the folder\'s, others replaced', () => {
    const root = tree({
      default: { servers: [{ folder: 'servers/sample', config: { size: 8 }, restart: { minimumRunMs: 1 }, heartbeatMs: 2000 }] },
    }, { 'servers/sample': SERVER });
    const [sample] = resolveBootManifest('default', root).programs;
    expect(sample!.config).toEqual({ size: 8, label: 'a' });
    expect(sample!.restart).toMatchObject({ policy: 'always', minimumRunMs: 1 });
    expect(sample!.heartbeatMs).toBe(2000);
  });

  it('an extending manifest that names a folder its base lists overrides that entry instead of adding a second', () => {
    const root = tree({
      default: { servers: [{ folder: 'servers/sample', config: { size: 8 } }] },
      small: { extends: 'default', servers: [{ folder: 'servers/sample', config: { label: 'b' } }] },
    }, { 'servers/sample': SERVER });
    const programs = resolveBootManifest('small', root).programs;
    expect(programs).toHaveLength(1);
    expect(programs[0]!.config).toEqual({ size: 8, label: 'b' });
  });

  it('runs one folder twice under two names, each with its own config; an extending manifest reaches each by name', () => {
    const root = tree({
      default: { servers: ['servers/sample', { folder: 'servers/sample', name: 'sample-two', config: { size: 16 } }] },
      tuned: { extends: 'default', servers: [{ folder: 'servers/sample', name: 'sample-two', config: { label: 'c' } }] },
    }, { 'servers/sample': SERVER });
    expect(resolveBootManifest('default', root).programs.map((program) => [program.name, program.config])).toEqual([['sample', { size: 4, label: 'a' }], ['sample-two', { size: 16, label: 'a' }]]);
    expect(resolveBootManifest('tuned', root).programs.map((program) => [program.name, program.config])).toEqual([['sample', { size: 4, label: 'a' }], ['sample-two', { size: 16, label: 'c' }]]);
  });

  it('refuses a server folder manifest naming the bad field and the file, as for a driver', () => {
    const root = tree({ default: { servers: ['servers/sample'] } }, { 'servers/sample': { ...SERVER, heartbeatMs: 10 } });
    const error = refusal(root);
    expect(error.field).toBe('heartbeatMs');
    expect(error.message).toContain(join(root, 'servers', 'sample', 'manifest.json'));
    expect(error.message).toMatch(/field "heartbeatMs": expected integer to be greater or equal to 50 \(got 10\)/);
  });

  it('takes a heapLimitMiB from the folder or the boot manifest, and refuses one below 16 MiB naming the field', () => {
    const limited = tree({ default: { servers: [{ folder: 'servers/sample', heapLimitMiB: 128 }] } }, { 'servers/sample': { ...SERVER, heapLimitMiB: 64 } });
    expect(resolveBootManifest('default', limited).programs[0]!.heapLimitMiB).toBe(128);
    const error = refusal(tree({ default: { servers: ['servers/sample'] } }, { 'servers/sample': { ...SERVER, heapLimitMiB: 8 } }));
    expect(error.field).toBe('heapLimitMiB');
    expect(error.message).toMatch(/field "heapLimitMiB": expected integer to be greater or equal to 16 \(got 8\)/);
  });

  it('refuses a field no manifest has, and a server listed as a driver', () => {
    expect(refusal(tree({ default: { servers: ['servers/sample'] } }, { 'servers/sample': { ...SERVER, talksto: [] } })).message)
      .toMatch(/field "talksto": is not a manifest field/);
    expect(refusal(tree({ default: { servers: ['servers/sample'] } }, { 'servers/sample': { ...SERVER, kind: 'driver' } })).field).toBe('kind');
  });

  it('refuses a boot manifest entry that overrides what it may not, naming the field', () => {
    const error = refusal(tree({ default: { servers: [{ folder: 'servers/sample', serves: ['other'] }] } }, { 'servers/sample': SERVER }));
    expect(error.message).toContain(join('sysroot', 'boot', 'default.json'));
    expect(error.field).toBe('servers[0].serves');
    expect(error.message).toMatch(/field "servers\[0\]\.serves": is not a field a boot manifest may set/);
  });

  it('refuses a folder without a manifest, and two programs of one name', () => {
    expect(refusal(tree({ default: { servers: ['servers/missing'] } }, {})).message).toMatch(/servers\/missing: no manifest\.json/);
    const twice = refusal(tree({ default: { servers: ['servers/sample', 'servers/copy'] } }, { 'servers/sample': SERVER, 'servers/copy': SERVER }));
    expect(twice.message).toMatch(/name "sample" appears twice/);
  });
});
