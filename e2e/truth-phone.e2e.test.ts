import { rmSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDokku, type FakeApp, type FakeDokku } from '../modules/apps/server/test-fixtures/fake-dokku.js';
import { createFakeWo, type FakeWo } from '../modules/sites/server/test-fixtures/fake-wo.js';
import { modules } from '../server/src/modules.js';
import { createFirstAdmin, launchChromium, shot } from './browser.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/**
 * Issue 18 items 11, 13 and 4 in Chromium at phone width (390 px): table rows reflow to cards so
 * the ⋯ menu, statuses, host actions and the sites' SSL column are on screen; wide plain tables say
 * they scroll; the host picker is in the drawer; a toast never covers a dialog's header; the forced
 * password change asks twice and claims no reset; a missing site log says so; module forms put the
 * server's field problems next to the field. Screenshots: e2e/screenshots/18-phone-*.png, 18-forms-*.png.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const SAM = { username: 'sam', email: 'sam@example.test', password: 'Copper-Meadow-Lantern-58' };
const W = 390;
const axeSource = (() => {
  const req = createRequire(import.meta.url);
  return (req('node:fs') as typeof import('node:fs')).readFileSync(req.resolve('axe-core/axe.min.js'), 'utf8');
})();

let panel: Panel;
let browser: Browser;
let wo: FakeWo;
let dokku: FakeDokku;

async function context(scheme: 'light' | 'dark' = 'light'): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: W, height: 844 }, colorScheme: scheme, bypassCSP: true, hasTouch: true, isMobile: true });
  ctx.setDefaultTimeout(60_000); // CI runs the e2e files beside every other project on 2 cores: pages can take tens of seconds
  return { ctx, page: await ctx.newPage() };
}

async function signIn(page: Page, who: { username: string; password: string }, landing = 'Dashboard'): Promise<void> {
  await page.goto(panel.url);
  await page.getByLabel('Username or email').fill(who.username);
  await page.getByLabel(/^Password\s*\*?$/).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: landing }).waitFor();
}

async function open(page: Page, p: string): Promise<void> {
  await page.goto(`${panel.url}${p}`);
  await page.locator('h1').first().waitFor();
  await page.locator('[aria-busy="true"], .mantine-Skeleton-root').first().waitFor({ state: 'detached', timeout: 8_000 }).catch(() => {});
}

/** The element is drawn inside the 390 px viewport (not cut off at the right edge). */
async function onScreen(l: Locator): Promise<void> {
  await l.scrollIntoViewIfNeeded();
  const b = await l.boundingBox();
  expect(b, 'has a box').not.toBeNull();
  expect(b!.x, 'left edge on screen').toBeGreaterThanOrEqual(0);
  expect(b!.x + b!.width, 'right edge on screen').toBeLessThanOrEqual(W + 0.5);
}

/** Nothing makes the page itself wider than the phone (only labelled table regions scroll sideways). */
async function noPageOverflow(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
}

async function axe(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const g = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, o: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } };
    const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

function intersects(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('issue 18 at phone width and at the field (Chromium, 390 px)', () => {
  beforeAll(async () => {
    wo = createFakeWo({ sites: { 'blog.example.org': { site_type: 'wp', cache_type: 'wpfc', php_version: '8.2', is_ssl: true } } });
    wo.writeCertificate('blog.example.org', 60); // `wo site info` of an SSL site reads its certificate
    dokku = createFakeDokku({
      images: ['nginx:1.27'],
      apps: { blog: { deployed: true, running: true, deploySource: 'docker-image', image: 'ghost:5.96', sourceImage: 'ghost:5.96', vhosts: ['blog.example.org'], scale: { web: 1 } } } as Record<string, FakeApp>,
    });
    const web = buildWeb();
    const others: Record<string, string> = modules.some((m) => m.id === 'containers') ? { SLIPWAY_CONTAINERS_ACTIVATOR_PORT: '0' } : {};
    panel = await startPanel({ ...others, ...wo.env, SLIPWAY_APPS_DOKKU_BIN: dokku.bin, SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '0' }, web);
    browser = await launchChromium();
    await createFirstAdmin(panel.setupUrl, ADMIN);
    const login = await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string };
    const res = await fetch(`${panel.url}/api/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${login.accessToken}` }, body: JSON.stringify({ ...SAM, role: 'support' }) });
    if (res.status !== 201) throw new Error(`create sam: ${res.status} ${await res.text()}`);
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
    wo?.cleanup();
    dokku?.cleanup();
  });

  it('rows are cards: the Users status and ⋯ menu, the Hosts actions, the Sites SSL column and the apps are on screen; wide plain tables say they scroll', async () => {
    const { ctx, page } = await context();
    await signIn(page, ADMIN);
    const widths: Record<string, number> = {};

    await open(page, '/users');
    const samCard = page.getByTestId('data-card').filter({ hasText: 'sam@example.test' });
    await samCard.waitFor();
    await onScreen(samCard.getByText('active', { exact: true }));
    const menu = samCard.getByRole('button', { name: 'Actions for sam' });
    await onScreen(menu);
    await shot(page, '18-phone', 'users');
    await menu.click();
    await page.getByRole('menuitem', { name: 'Change role' }).waitFor();
    await onScreen(page.getByRole('menuitem', { name: 'Reset password' }));
    await shot(page, '18-phone', 'users-menu');
    await page.keyboard.press('Escape');
    widths.users = await noPageOverflow(page);

    await open(page, '/server/hosts');
    const local = page.getByTestId('data-card').filter({ hasText: 'This server' });
    await onScreen(local.getByRole('button', { name: 'Test' }));
    await onScreen(local.getByRole('button', { name: 'Detect' }));
    await shot(page, '18-phone', 'hosts');
    widths.hosts = await noPageOverflow(page);

    await open(page, '/sites');
    // The inventory comes from the fake `wo` (several runs of it): slow on a loaded machine.
    await page.getByRole('button', { name: 'Refresh' }).click();
    const site = page.getByTestId('data-card').filter({ hasText: 'blog.example.org' });
    await site.waitFor({ timeout: 90_000 });
    await onScreen(site.getByText('SSL · PHP · cache'));
    const ssl = site.locator('.mantine-Badge-root').filter({ hasText: /SSL/ }).first();
    await onScreen(ssl);
    // Whole words, not "SS…": the badges wrap in the card instead of being cut.
    for (const label of await site.locator('.mantine-Badge-label').all()) {
      expect(await label.evaluate((el) => { const e = el as unknown as { scrollWidth: number; clientWidth: number }; return e.scrollWidth <= e.clientWidth + 1; }), await label.innerText()).toBe(true);
    }
    await shot(page, '18-phone', 'sites');
    widths.sites = await noPageOverflow(page);

    await open(page, '/apps');
    const refresh = page.getByRole('button', { name: /Refresh/ });
    if (await refresh.count()) await refresh.first().click();
    const app = page.getByTestId('data-card').filter({ hasText: 'blog' }).first();
    await app.waitFor();
    await onScreen(app);
    await shot(page, '18-phone', 'apps');
    widths.apps = await noPageOverflow(page);

    await open(page, '/jobs');
    await shot(page, '18-phone', 'jobs');
    widths.jobs = await noPageOverflow(page);
    await open(page, '/audit');
    await page.getByTestId('data-card').first().waitFor();
    await shot(page, '18-phone', 'audit');
    widths.audit = await noPageOverflow(page);

    await open(page, '/modules');
    const region = page.getByRole('region', { name: /schedules \(scrolls sideways\)/ }).first();
    await region.waitFor();
    expect(await page.getByText('Scroll sideways for more columns →').first().isVisible()).toBe(true);
    expect(await region.evaluate((el) => { const e = el as unknown as { scrollWidth: number; clientWidth: number }; return e.scrollWidth > e.clientWidth; })).toBe(true);
    await shot(page, '18-phone', 'modules');
    widths.modules = await noPageOverflow(page);

    expect(Object.entries(widths).filter(([, w]) => w > W + 1)).toEqual([]);
    await ctx.close();
  }, 240_000);

  it('the host picker is in the navigation drawer', async () => {
    const { ctx, page } = await context();
    await signIn(page, ADMIN);
    expect(await page.getByRole('banner').getByRole('textbox', { name: 'Host' }).filter({ visible: true }).count()).toBe(0); // no room in the top bar
    await page.getByRole('button', { name: 'Open navigation' }).click();
    const picker = page.getByTestId('drawer-host-picker');
    await picker.waitFor({ state: 'visible' });
    await onScreen(picker);
    expect(await page.getByRole('navigation', { name: 'Main navigation' }).or(page.locator('nav')).first().isVisible()).toBe(true);
    await shot(page, '18-phone', 'drawer');
    await ctx.close();
  });

  it('a toast does not cover the header of the dialog it comes with', async () => {
    const { ctx, page } = await context();
    await signIn(page, ADMIN);
    await open(page, '/users');
    await page.getByTestId('data-card').filter({ hasText: 'sam@example.test' }).getByRole('button', { name: 'Actions for sam' }).click();
    await page.getByRole('menuitem', { name: 'Reset password' }).click();
    await page.getByRole('dialog', { name: 'Reset password?' }).getByRole('button', { name: 'Reset password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Temporary password' });
    await dialog.waitFor();
    const toast = page.locator('.mantine-Notification-root').filter({ hasText: 'Password reset' });
    await toast.waitFor();
    await page.waitForTimeout(400); // the toast's slide-in
    const header = await dialog.locator('.mantine-Modal-header').boundingBox();
    const box = await toast.boundingBox();
    expect(header && box).toBeTruthy();
    expect(intersects(header!, box!), `toast ${JSON.stringify(box)} over header ${JSON.stringify(header)}`).toBe(false);
    await shot(page, '18-phone', 'toast-and-dialog');
    SAM.password = ((await dialog.getByTestId('temporary-password').textContent()) ?? '').trim();
    expect(SAM.password.length).toBeGreaterThan(8);
    await ctx.close();
  });

  it('the forced password change after that reset asks twice and does not claim what happened', async () => {
    const { ctx, page } = await context();
    await signIn(page, SAM, 'Choose a new password');
    const text = await page.locator('body').innerText();
    expect(text).toContain('An administrator set the password you signed in with');
    expect(text).not.toMatch(/reset your password/i);
    const next = 'Second-Teal-Window-Orchard-78';
    await page.getByLabel(/^Temporary password\s*\*?$/).fill(SAM.password);
    await page.getByLabel(/^New password\s*\*?$/).fill(next);
    const again = page.getByLabel(/^Repeat new password\s*\*?$/);
    await again.fill(`${next}x`);
    await again.blur();
    await page.getByText('The two passwords differ').waitFor();
    expect(await page.getByRole('button', { name: 'Change password' }).isDisabled()).toBe(true);
    await shot(page, '18-phone', 'forced-password-change');
    await again.fill(next);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    SAM.password = next;
    await ctx.close();
  });

  it('a site log whose file is missing says so instead of "Waiting for output…"', async () => {
    rmSync(path.join(wo.nginxLogDir, 'blog.example.org.access.log'), { force: true });
    const { ctx, page } = await context();
    await signIn(page, ADMIN);
    await open(page, '/sites/blog.example.org');
    await page.getByRole('heading', { name: 'Logs' }).waitFor({ timeout: 30_000 });
    const empty = page.getByTestId('log-empty');
    await empty.scrollIntoViewIfNeeded();
    await page.getByText('The access log does not exist yet').waitFor();
    expect(await empty.innerText()).not.toContain('Waiting for output');
    await shot(page, '18-phone', 'site-log-missing');
    await ctx.close();
  });

  it('module forms: the server\'s field problem is next to the field; no raw issue text or permission name anywhere', async () => {
    const { ctx, page } = await context();
    await signIn(page, ADMIN);
    // Real server: the name is taken (409), said at the field.
    await open(page, '/apps/new');
    const name = page.getByLabel(/^App name\s*\*?$/);
    await name.fill('blog');
    await page.getByRole('button', { name: 'Create app' }).click();
    const described = async (l: Locator) => l.evaluate((el) => {
      const doc = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } | null } }).document;
      return ((el as unknown as { getAttribute(n: string): string | null }).getAttribute('aria-describedby') ?? '').split(/\s+/).filter((id) => /error/.test(id)).map((id) => doc.getElementById(id)?.textContent ?? '').join(' ');
    });
    await expect.poll(() => described(name), { timeout: 15_000 }).toMatch(/blog|exists|taken/i);
    await shot(page, '18-forms', 'new-app-taken');

    // Zod's issues (details.issues[].path) go to their field; several never land in a toast as raw text.
    await page.route('**/api/v1/apps', (route) => route.request().method() === 'POST'
      ? route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: { code: 'validation_failed', message: 'body.name: Too long; body.host: Unknown host', details: { issues: [{ path: 'body.name', message: 'At most 63 characters' }, { path: 'body.host', message: 'Unknown host' }] } } }) })
      : route.fallback());
    await name.fill('fresh-app');
    await page.getByRole('button', { name: 'Create app' }).click();
    await expect.poll(() => described(name)).toBe('At most 63 characters');
    await page.getByText('Host: Unknown host').waitFor(); // the form has no such field: said plainly, not lost
    let body = await page.locator('body').innerText();
    expect(body).not.toContain('body.name');
    expect(body).not.toContain('body.host');
    await shot(page, '18-forms', 'new-app-issues');

    // A refusal names no permission.
    await page.unroute('**/api/v1/apps');
    await page.route('**/api/v1/apps', (route) => route.request().method() === 'POST'
      ? route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: { code: 'forbidden', message: 'Your role (operator) lacks the permission apps.deploy', details: { permission: 'apps.deploy' } } }) })
      : route.fallback());
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByText('Your role does not allow this').waitFor();
    body = await page.locator('body').innerText();
    expect(body).not.toMatch(/apps\.deploy|core\.\w+\.\w+/);
    await shot(page, '18-forms', 'new-app-forbidden');
    await ctx.close();
  }, 120_000);

  it('no serious or critical axe violation at 390 px in light and dark on the reflowed pages', async () => {
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      const { ctx, page } = await context(scheme);
      await signIn(page, ADMIN);
      for (const p of ['/users', '/server/hosts', '/sites', '/apps', '/jobs', '/audit', '/modules', '/apps/new', '/sites/blog.example.org']) {
        await open(page, p);
        await page.waitForTimeout(300);
        for (const v of await axe(page)) problems.push(`${p} (${scheme}): ${v}`);
      }
      await page.getByRole('button', { name: 'Open navigation' }).click();
      await page.getByTestId('drawer-host-picker').waitFor({ state: 'visible' });
      for (const v of await axe(page)) problems.push(`drawer (${scheme}): ${v}`);
      await shot(page, `18-phone-${scheme}`, 'drawer');
      await ctx.close();
    }
    expect(problems).toEqual([]);
  }, 480_000);
});
