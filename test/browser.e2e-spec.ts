import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { testDatabases } from './support/databases.js';
import { startSample, uniqueEmail, type SampleApp } from './support/sample-app.js';

/**
 * The account page in a real browser: Debian's Chromium (never one downloaded from npm)
 * driven by playwright-core. Two browser contexts are two devices of one user. Runs whenever
 * /usr/bin/chromium exists, and always under CI (where a missing Chromium fails the suite:
 * `.ci/run` installs it). The sample runs on SQLite, as after `npm start`, and is opened as
 * http://localhost:PORT (a secure context, so the Secure cookies work over plain HTTP).
 */

/** In functions that run inside the page (evaluate, waitForFunction); the project has no DOM typings. */
declare const document: any;

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const ARTIFACTS = resolve(import.meta.dirname, 'artifacts');
const PASSWORD = 'correct-horse-1';
/** The bound for the live notice. */
const NOTICE_WITHIN_MS = 2000;

const runnable = existsSync(CHROMIUM) || !!process.env.CI;
if (!runnable) {
  console.warn(`Browser tests SKIPPED: ${CHROMIUM} not found. Install it (apt-get install -y chromium) or run with CI=1, where its absence fails the suite.`);
}

const userAgent = (device: string) => `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 ${device}`;

(runnable ? describe : describe.skip)('account page in Chromium', () => {
  let s: SampleApp;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    s = await startSample(testDatabases()[0][1]());
    await s.app.listen(0);
    base = `http://localhost:${(s.app.getHttpServer().address() as AddressInfo).port}`;
    // Playwright turns the back/forward cache off by default; a user's Chromium has it on,
    // and the back-button tests must face it.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, ignoreDefaultArgs: ['--disable-back-forward-cache'] });
  }, 60_000);
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    // The page's script never throws, whatever happened.
    expect(pageErrors.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  /** A device: its own browser context (cookie jar, storage), one page on the account page. */
  async function device(name: string): Promise<Page> {
    const context = await browser.newContext({ userAgent: userAgent(name), viewport: { width: 1100, height: 760 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
    await page.goto(`${base}/`);
    await page.locator('#sign-in-form').waitFor({ state: 'visible' });
    return page;
  }

  async function signUp(page: Page, email: string, password = PASSWORD): Promise<void> {
    await page.locator('#sign-up-form input[name="email"]').fill(email);
    await page.locator('#sign-up-form input[name="password"]').fill(password);
    await page.locator('#sign-up-form button[type="submit"]').click();
    await signedIn(page, email);
  }

  async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
    await page.locator('#sign-in-form input[name="email"]').fill(email);
    await page.locator('#sign-in-form input[name="password"]').fill(password);
    await page.locator('#sign-in-form button[type="submit"]').click();
    await signedIn(page, email);
  }

  /** Waits for the signed-in view of `email` with its live notice channel open. */
  async function signedIn(page: Page, email: string): Promise<void> {
    await page.locator('#account').waitFor({ state: 'visible' });
    expect(await page.locator('#account-email').textContent()).toBe(email);
    await page.locator('#live-state[data-state="on"]').waitFor();
  }

  const deviceRows = (page: Page) => page.locator('#devices tbody tr');

  /** Waits until the page lists `count` devices (the list reloads on visibility; reload to be sure). */
  async function expectDevices(page: Page, count: number): Promise<void> {
    await page.reload();
    await page.locator('#account').waitFor({ state: 'visible' });
    await page.waitForFunction((n) => document.querySelectorAll('#devices tbody tr').length === n, count);
  }

  /** Requests a page makes to the API (not the page's own files), with when they were made. */
  function recordApiCalls(page: Page): Array<{ at: number; method: string; path: string }> {
    const calls: Array<{ at: number; method: string; path: string }> = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin === base && !['/', '/app.js', '/app.css'].includes(url.pathname)) {
        calls.push({ at: Date.now(), method: request.method(), path: url.pathname });
      }
    });
    return calls;
  }

  /** The WebSocket connections a page opens, and the frames it receives on them. */
  function recordSocketFrames(page: Page): { urls: string[]; frames: string[] } {
    const seen = { urls: [] as string[], frames: [] as string[] };
    page.on('websocket', (socket) => {
      seen.urls.push(socket.url());
      socket.on('framereceived', (frame) => seen.frames.push(String(frame.payload)));
    });
    return seen;
  }

  /** Waits for the "you were signed out" notice; returns how long it took from `since`. */
  async function noticeShown(page: Page, since: number): Promise<number> {
    await page.locator('#notice').waitFor({ state: 'visible', timeout: NOTICE_WITHIN_MS + 1000 });
    const elapsed = Date.now() - since;
    expect(await page.locator('#notice').textContent()).toContain('You were signed out on this device');
    return elapsed;
  }

  /** The page shows the sign-in form and no private data at all. */
  async function showsNoPrivateData(page: Page, email: string): Promise<void> {
    await page.locator('#sign-in-form').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.locator('#account').isVisible()).toBe(false);
    expect(await page.locator('#account-email').textContent()).toBe('');
    expect(await deviceRows(page).count()).toBe(0);
    expect(await page.content()).not.toContain(email);
  }

  it('device A signs device B out from the list: B shows the notice within 2 s, without a click, then the sign-in form', async () => {
    const email = uniqueEmail('chromium');
    const a = await device('DeviceA');
    await signUp(a, email);
    const b = await device('DeviceB');
    const bSocket = recordSocketFrames(b);
    await signIn(b, email);
    // Chromium keeps the prefixed cookies on http://localhost (a secure context): host-only, Secure.
    const kept = (await b.context().cookies()).map((c) => `${c.name} ${c.domain} ${c.path} secure=${c.secure} httpOnly=${c.httpOnly}`).sort();
    expect(kept).toEqual([
      '__Host-access_token localhost / secure=true httpOnly=true',
      '__Host-csrf_token localhost / secure=true httpOnly=false',
      '__Secure-refresh_token localhost /auth secure=true httpOnly=true',
    ]);

    // The devices page of A: both devices, A marked as this device, with last seen.
    await expectDevices(a, 2);
    const current = a.locator('#devices tbody tr.current');
    expect(await current.count()).toBe(1);
    expect(await current.textContent()).toContain('this device');
    expect(await current.getAttribute('data-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await a.locator('#devices tbody tr td:nth-child(1)').first().getAttribute('title')).toMatch(/Device[AB]$/);
    expect(await a.locator('#devices tbody tr td:nth-child(4)').allTextContents()).toEqual(['just now', 'just now']);
    mkdirSync(ARTIFACTS, { recursive: true });
    await a.screenshot({ path: resolve(ARTIFACTS, 'devices.png'), fullPage: true });
    expect(existsSync(resolve(ARTIFACTS, 'devices.png'))).toBe(true);

    const bCalls = recordApiCalls(b);
    const t0 = Date.now();
    await a.locator('#devices tbody tr:not(.current) button').click();
    const elapsed = await noticeShown(b, t0);
    expect(elapsed).toBeLessThan(NOTICE_WITHIN_MS);
    // Pushed over the /live socket: before the notice was up, B asked the API nothing (it then clears its cookies).
    const asked = bCalls.filter((c) => c.at <= t0 + elapsed && !c.path.startsWith('/socket.io/') && !(c.method === 'POST' && c.path === '/auth/logout'));
    expect(asked).toEqual([]);
    expect(bSocket.urls).toEqual([expect.stringMatching(/^ws:\/\/localhost:\d+\/socket\.io\/\?EIO=4&transport=websocket$/)]);
    expect(bSocket.frames.some((f) => f.startsWith('42/live,["session-ended",{"reason":"user-revoked"}]'))).toBe(true);
    await showsNoPrivateData(b, email);

    // A: still signed in, one device left; B's cookies are gone.
    await a.locator('#status').filter({ hasText: 'That device was signed out.' }).waitFor();
    expect(await deviceRows(a).count()).toBe(1);
    await b.waitForFunction(() => !document.cookie.includes('__Host-csrf_token='));
    expect((await b.context().cookies()).map((c) => c.name)).toEqual([]);
    // B can sign in again.
    await signIn(b, email);
  });

  it('a password change on A signs B out at once and keeps A signed in, live notices included', async () => {
    const email = uniqueEmail('chromium');
    const a = await device('DeviceA');
    await signUp(a, email);
    const b = await device('DeviceB');
    await signIn(b, email);

    const t0 = Date.now();
    await a.locator('#password-form input[name="currentPassword"]').fill(PASSWORD);
    await a.locator('#password-form input[name="newPassword"]').fill('brand-new-password-2');
    await a.locator('#password-form button[type="submit"]').click();
    expect(await noticeShown(b, t0)).toBeLessThan(NOTICE_WITHIN_MS);
    await showsNoPrivateData(b, email);

    // A: told, still signed in, its live channel back on with the renewed cookies.
    await a.locator('#status').filter({ hasText: 'Password changed.' }).waitFor();
    await a.locator('#live-state[data-state="on"]').waitFor();
    expect(await a.locator('#notice').isVisible()).toBe(false);
    await expectDevices(a, 1);
    expect(await a.locator('#account-email').textContent()).toBe(email);

    // The old password no longer works; the new one does.
    await b.locator('#sign-in-form input[name="email"]').fill(email);
    await b.locator('#sign-in-form input[name="password"]').fill(PASSWORD);
    await b.locator('#sign-in-form button[type="submit"]').click();
    await b.locator('#sign-in-form [data-error]').filter({ hasText: 'Wrong email or password.' }).waitFor();
    await signIn(b, email, 'brand-new-password-2');

    // And A's reopened stream still carries the notice: B signs A out, A learns it at once.
    await a.locator('#live-state[data-state="on"]').waitFor();
    await expectDevices(b, 2);
    const t1 = Date.now();
    await b.locator('#devices tbody tr:not(.current) button').click();
    expect(await noticeShown(a, t1)).toBeLessThan(NOTICE_WITHIN_MS);
    await showsNoPrivateData(a, email);
  });

  it('an email change on A shows the new email, signs B out and keeps A signed in; "sign out all other devices" too', async () => {
    const email = uniqueEmail('chromium');
    const a = await device('DeviceA');
    await signUp(a, email);
    const b = await device('DeviceB');
    await signIn(b, email);

    const moved = uniqueEmail('moved');
    const t0 = Date.now();
    await a.locator('#email-form input[name="email"]').fill(moved);
    await a.locator('#email-form input[name="currentPassword"]').fill(PASSWORD);
    await a.locator('#email-form button[type="submit"]').click();
    expect(await noticeShown(b, t0)).toBeLessThan(NOTICE_WITHIN_MS);
    await a.locator('#status').filter({ hasText: 'Email changed.' }).waitFor();
    expect(await a.locator('#account-email').textContent()).toBe(moved);
    await a.locator('#live-state[data-state="on"]').waitFor();

    // B signs in with the new email; A ends every other device with one click.
    await signIn(b, moved);
    await expectDevices(a, 2);
    const t1 = Date.now();
    await a.locator('#sign-out-others').click();
    expect(await noticeShown(b, t1)).toBeLessThan(NOTICE_WITHIN_MS);
    await a.locator('#status').filter({ hasText: 'Every other device was signed out.' }).waitFor();
    expect(await deviceRows(a).count()).toBe(1);
  });

  it('after sign-out, the back button shows no private data', async () => {
    const email = uniqueEmail('chromium');
    const page = await device('Laptop');
    await signUp(page, email);
    await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 1);

    await page.locator('#sign-out').click();
    await page.waitForURL(`${base}/?signed-out`);
    await page.locator('#status').filter({ hasText: 'You are signed out.' }).waitFor();
    await showsNoPrivateData(page, email);
    expect((await page.context().cookies()).map((c) => c.name)).toEqual([]);

    const calls = recordApiCalls(page);
    await page.goBack({ waitUntil: 'commit' }); // a restore from the back/forward cache fires no load event
    expect(page.url()).toBe(`${base}/`);
    await showsNoPrivateData(page, email);
    // The page asked the server again (no-store: nothing came from a cache) and was refused.
    expect(calls.some((c) => c.method === 'GET' && c.path === '/me')).toBe(true);
    await page.goForward({ waitUntil: 'commit' });
    await showsNoPrivateData(page, email);
  });

  it('the back button after the session was ended elsewhere shows no private data either', async () => {
    const email = uniqueEmail('chromium');
    const page = await device('Laptop');
    await signUp(page, email);
    await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 1);
    // Leave the signed-in page for another one (it may go into the back/forward cache).
    await page.goto(`${base}/health`);
    // Meanwhile another device signs everyone out ("sign out of all devices").
    const other = await device('Phone');
    await signIn(other, email);
    await other.evaluate(async () => {
      const csrf = document.cookie.split('; ').find((c: string) => c.startsWith('__Host-csrf_token='))!.slice('__Host-csrf_token='.length);
      const res = await fetch('/auth/logout-all', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'X-Auth-Mode': 'cookie' },
        body: JSON.stringify({ keepCurrent: false }),
      });
      if (res.status !== 204) throw new Error(`logout-all answered ${res.status}`);
    });

    await page.goBack({ waitUntil: 'commit' }); // a restore from the back/forward cache fires no load event
    expect(page.url()).toBe(`${base}/`);
    await showsNoPrivateData(page, email);
  });

  it('says so when the credentials are wrong, and signs up only new emails', async () => {
    const email = uniqueEmail('chromium');
    const page = await device('Laptop');
    await page.locator('#sign-in-form input[name="email"]').fill(email);
    await page.locator('#sign-in-form input[name="password"]').fill(PASSWORD);
    await page.locator('#sign-in-form button[type="submit"]').click();
    await page.locator('#sign-in-form [data-error]').filter({ hasText: 'Wrong email or password.' }).waitFor();
    await signUp(page, email);
    await page.locator('#sign-out').click();
    await page.waitForURL(`${base}/?signed-out`);
    await page.locator('#sign-up-form input[name="email"]').fill(email);
    await page.locator('#sign-up-form input[name="password"]').fill(PASSWORD);
    await page.locator('#sign-up-form button[type="submit"]').click();
    await page.locator('#sign-up-form [data-error]').filter({ hasText: 'That email is already registered.' }).waitFor();
  });
});
