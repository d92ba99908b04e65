// The live view, whole: a booted system serves its page on 127.0.0.1 with a token; without
// the token every request and WebSocket is refused. In a real browser (playwright-core
// driving Debian's chromium, never a downloaded one) the page lists every server of `ps`,
// restarts the log server from its button (the generation grows on the page and in
// `npm run ctl -- ps`), runs `ps` in its terminal, and comes back after a kexec it asked
// for, showing the downtime. A screenshot of each panel is saved under test-artifacts/view/.
// The browser part is skipped, saying so, where /usr/bin/chromium is not installed (CI
// installs the chromium package).

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RunningSystem } from '../harness/system.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/system/view.test.ts: ${CHROMIUM} is not installed, so the browser test of the live view is skipped (apt-get install chromium)`);
/** Where the panels' screenshots go (gitignored). */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/view/', import.meta.url));

let system: RunningSystem | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await system?.stop();
  system = undefined;
});

/** The URL the board printed at boot. */
function printedUrl(transcript: string): string {
  const match = /baton: live view at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(transcript);
  if (!match) throw new Error(`no live view URL in the boot output:\n${transcript.slice(0, 2000)}`);
  return match[1]!;
}

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject).end();
  });
}

/** Opens a WebSocket: 'open', or the HTTP status of the refusal. */
function webSocketOutcome(url: string): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('error', reject);
  });
}

/** The names in `ps`, in order. */
function psNames(table: string): string[] {
  return table.split('\n').slice(1).map((line) => line.split(/\s+/)[0]!).filter(Boolean);
}

describe('the live view', () => {
  it('prints its URL at boot and through ctl url, and refuses every request and WebSocket without the token', async () => {
    system = await RunningSystem.boot();
    const url = printedUrl(system.transcript);
    const ctl = await system.ctl(['url']);
    expect(ctl.status).toBe(0);
    expect(ctl.stdout.trim()).toBe(url);
    const { host, searchParams } = new URL(url);
    const token = searchParams.get('token')!;
    expect(await status(url)).toBe(200);
    expect(await status(`http://${host}/`)).toBe(403);
    expect(await status(`http://${host}/?token=${token.slice(1)}`)).toBe(403);
    expect(await status(`http://${host}/assets/view.mjs`)).toBe(403);
    expect(await webSocketOutcome(`ws://${host}/ws/view`)).toBe(403);
    expect(await webSocketOutcome(`ws://${host}/ws/terminal?token=nope`)).toBe(403);
    expect(await webSocketOutcome(`ws://${host}/ws/view?token=${token}`)).toBe('open');
  });

  it('keeps a page\'s socket across a reboot and says the system went down and is back, with the downtime', async () => {
    system = await RunningSystem.boot();
    const { host, searchParams } = new URL(printedUrl(system.transcript));
    const socket = new WebSocket(`ws://${host}/ws/view?token=${searchParams.get('token')}`);
    cleanups.push(() => void socket.terminate());
    const states: Array<{ state: string; reason?: string; downtimeMs?: number }> = [];
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { t: string; system?: { state: string } };
      if (message.system) states.push(message.system);
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    expect((await system.ctl(['reboot'])).stdout).toContain('rebooting');
    await expect.poll(() => states.find((status) => status.state === 'up' && status.reason === 'reboot'), { timeout: 45_000 }).toBeDefined();
    expect(states.map((status) => status.state)).toContain('down');
    expect(states.find((status) => status.state === 'up' && status.reason === 'reboot')!.downtimeMs).toBeGreaterThan(0);
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it('is off with --no-http: nothing printed, and ctl url says why', async () => {
    system = await RunningSystem.boot(['--no-http']);
    expect(system.transcript).not.toContain('live view at');
    const ctl = await system.ctl(['url']);
    expect(ctl.status).toBe(1);
    expect(ctl.stderr).toContain('without the live view (it was started with --no-http)');
  });

  it.skipIf(!hasChromium)('in chromium: lists ps, restarts the log server, runs ps in its terminal, survives a kexec', { timeout: 240_000 }, async () => {
    const { chromium } = await import('playwright-core');
    system = await RunningSystem.boot();
    const url = printedUrl(system.transcript);
    const profile = mkdtempSync(join(tmpdir(), 'baton-chromium-'));
    cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1800 },
    });
    cleanups.push(() => browser.close());
    const page = browser.pages()[0] ?? await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('requestfailed', (failed) => problems.push(`request failed: ${failed.url()}`));
    // The page fetches nothing from anywhere but the board.
    page.on('request', (outgoing) => {
      if (!outgoing.url().startsWith(new URL(url).origin) && !outgoing.url().startsWith('ws://')) problems.push(`fetched ${outgoing.url()}`);
    });
    await page.goto(url);

    // Every server and driver of ps is listed.
    const names = psNames((await system.ctl(['ps'])).stdout);
    expect(names).toContain('view');
    const generationOf = (name: string) => page.locator(`#servers tbody tr[data-name="${name}"] td.generation`);
    for (const name of names) await generationOf(name).waitFor({ timeout: 30_000 });
    expect(await page.evaluate('[...document.querySelectorAll("#servers tbody tr")].map((row) => row.dataset.name)')).toEqual(names);

    // Restart from the page: the generation grows there and in ps.
    const before = Number(await generationOf('log').textContent());
    await page.locator('#servers tbody tr[data-name="log"] button[data-action="restart"]').click();
    await page.waitForFunction(`Number(document.querySelector('#servers tbody tr[data-name="log"] td.generation')?.textContent) > ${before}`, undefined, { timeout: 30_000 });
    const after = Number(await generationOf('log').textContent());
    expect(after).toBe(before + 1);
    expect((await system.ctl(['ps'])).stdout).toMatch(new RegExp(`^log\\s+server\\s+${after}\\s+running`, 'm'));

    // The terminal is a console of the system, with its line editing: type ps (with a typo fixed by Backspace).
    await page.locator('#terminal').click();
    await page.waitForFunction('terminalText().includes("baton> ")', undefined, { timeout: 30_000 }).catch(async () => {
      throw new Error(`no prompt in the page's terminal; it shows:\n${await page.evaluate('terminalText()')}`);
    });
    await page.keyboard.type('pz');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('s');
    await page.keyboard.press('Enter');
    await page.waitForFunction('/NAME\\s+KIND\\s+GEN/.test(terminalText()) && terminalText().includes("virtio-console.4")', undefined, { timeout: 30_000 });
    expect(await page.evaluate('terminalText()')).toMatch(/baton> ps\s*\n\s*NAME\s+KIND\s+GEN\s+STATE/);

    // A screenshot of each panel, as test artifacts.
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.waitForFunction('document.querySelectorAll("#devices tbody tr").length > 0 && document.querySelectorAll("#buddy tbody tr").length > 0', undefined, { timeout: 30_000 });
    for (const panel of ['servers', 'ipc', 'memory', 'kho', 'devices', 'log', 'terminal']) {
      await page.locator(`#panel-${panel}`).screenshot({ path: join(ARTIFACTS, `${panel}.png`) });
    }

    // kexec from the page: the system goes down and the page says it is back, with the downtime.
    await page.locator('#kexec').click();
    await page.waitForFunction('document.querySelector("#system-status").dataset.downtimeMs !== ""', undefined, { timeout: 60_000 }).catch(async () => {
      throw new Error(`the page did not come back after kexec; it shows: ${await page.locator('header').textContent()}`);
    });
    expect(await page.locator('#system-status').textContent()).toMatch(/^up \(back after kexec: \d+ ms down\)$/);
    await page.locator('#panel-servers').screenshot({ path: join(ARTIFACTS, 'servers-after-kexec.png') });
    // The page's data is the new kernel's: ps there and on the page agree on the log server.
    const afterKexec = psNames((await system.ctl(['ps'])).stdout);
    for (const name of afterKexec) await generationOf(name).waitFor({ timeout: 30_000 });
    expect(problems).toEqual([]);
  });
});
