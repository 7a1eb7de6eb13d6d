import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, launchChromium, shot } from './browser.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/**
 * Issue 18 in a real browser: every page has one h1 and a tab title naming it, a page the viewer
 * may not use says so up front, a missing resource is the one "not found" page, and an axe-core
 * pass over every page in both themes finds no serious or critical violation. Screenshots of each
 * page at 1400 and 390 px go to e2e/screenshots/.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const SUPPORT = { username: 'sam', email: 'sam@example.test', password: 'Copper-Meadow-Lantern-58' };
const axeSource: string = require_('axe-core/axe.min.js');
function require_(id: string): string {
  const req = createRequire(import.meta.url);
  return (req('node:fs') as typeof import('node:fs')).readFileSync(req.resolve(id), 'utf8');
}

const PAGES: { path: string; title: string }[] = [
  { path: '/', title: 'Dashboard' },
  { path: '/jobs', title: 'Jobs' },
  { path: '/audit', title: 'Audit log' },
  { path: '/users', title: 'Users & roles' },
  { path: '/account', title: 'My account' },
  { path: '/modules', title: 'Modules' },
  { path: '/sites', title: 'Sites' }, // on a machine without WordOps: the module's status in place of the list
  { path: '/sites/new', title: 'New site' },
  { path: '/containers', title: 'Containers' },
  { path: '/containers/new', title: 'New service' },
  { path: '/server/hosts', title: 'Hosts' },
  { path: '/apps', title: 'Apps' },
  { path: '/vps', title: 'Virtual servers' },
  { path: '/netboot', title: 'Netboot' },
  { path: '/containers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', title: 'Not found' },
];

let panel: Panel;
let browser: Browser;

async function signedIn(who: { username: string; password: string }, scheme: 'light' | 'dark', width = 1400): Promise<{ ctx: BrowserContext; page: Page }> {
  // bypassCSP: only so the test can inject axe-core; the panel's own CSP stays as it is.
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, bypassCSP: true });
  ctx.setDefaultTimeout(15_000);
  const page = await ctx.newPage();
  const login = await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: who.username, password: who.password }) });
  if (login.status !== 200) throw new Error(`login ${login.status}`);
  await page.goto(panel.url);
  await page.getByLabel('Username or email').fill(who.username);
  await page.getByLabel(/^Password\s*\*?$/).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  return { ctx, page };
}

/** Waits for the page's h1 (lazy pages load), then lets data settle. */
async function open(page: Page, path: string): Promise<void> {
  await page.goto(`${panel.url}${path}`);
  await page.locator('h1').first().waitFor();
  // Live streams keep connections open (no "network idle"): wait for skeletons to go instead.
  await page.locator('[aria-busy="true"], .mantine-Skeleton-root').first().waitFor({ state: 'detached', timeout: 5_000 }).catch(() => {});
  await page.waitForTimeout(250);
}

async function axe(page: Page): Promise<{ id: string; impact: string; help: string; nodes: string[] }[]> {
  // The callbacks run in the page; the server tsconfig has no DOM types, so reach them through globalThis.
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const g = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, o: object): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } };
    const r = await g.axe.run(g.document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} ${((n as unknown as { html: string }).html ?? '').slice(0, 160)}`) }));
  });
}

describe('a console that tells the truth (Chromium)', () => {
  beforeAll(async () => {
    panel = await startPanel({}, buildWeb());
    browser = await launchChromium();
    await createFirstAdmin(panel.setupUrl, ADMIN);
    const login = await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string };
    const res = await fetch(`${panel.url}/api/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${login.accessToken}` }, body: JSON.stringify({ ...SUPPORT, role: 'support' }) });
    if (res.status !== 201) throw new Error(`create support: ${res.status} ${await res.text()}`);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
  });

  it('every page: one h1, a tab title naming it, no serious or critical axe violation in light and dark; screenshots at 1400 and 390 px', async () => {
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      const { ctx, page } = await signedIn(ADMIN, scheme);
      for (const p of PAGES) {
        try {
          await open(page, p.path);
        } catch (e) {
          problems.push(`${p.path} (${scheme}): no h1 (${(e as Error).message.split('\n')[0]})`);
          continue;
        }
        const h1 = await page.locator('h1').count();
        if (h1 !== 1) problems.push(`${p.path}: ${h1} h1`);
        const title = await page.title();
        // A module whose engine is missing here shows its status (titled with the module's name) in place of the page.
        const moduleTitle = ({ sites: 'Sites', containers: 'Containers', apps: 'Apps', vps: 'VPS', netboot: 'Netboot', server: 'Server' } as Record<string, string>)[p.path.split('/')[1] ?? ''];
        if (title !== `${p.title} · Slipway` && title !== `${moduleTitle} · Slipway`) problems.push(`${p.path}: tab title "${title}"`);
        for (const v of await axe(page)) {
          if (v.impact === 'serious' || v.impact === 'critical') problems.push(`${p.path} (${scheme}): ${v.impact} ${v.id}: ${v.help} — ${v.nodes.join(', ')}`);
        }
        const name = p.path === '/' ? 'dashboard' : p.path.slice(1).replace(/\//g, '-').replace(/-0190.*/, '-missing');
        await shot(page, `18-${scheme}-1400`, name);
      }
      await ctx.close();
    }
    const { ctx, page } = await signedIn(ADMIN, 'light', 390);
    for (const p of PAGES) {
      await open(page, p.path).catch(() => {});
      await shot(page, '18-light-390', p.path === '/' ? 'dashboard' : p.path.slice(1).replace(/\//g, '-').replace(/-0190.*/, '-missing'));
    }
    await ctx.close();
    expect(problems).toEqual([]);
  }, 600_000);

  it('support is told up front that it may not create sites, and no permission name is shown', async () => {
    const { ctx, page } = await signedIn(SUPPORT, 'light');
    await page.goto(`${panel.url}/sites/new`);
    await page.getByText('You do not have access to this page').waitFor();
    expect(await page.locator('body').innerText()).toContain('Your role does not include creating sites');
    expect(await page.getByRole('button', { name: 'Next' }).count()).toBe(0);
    expect(await page.locator('body').innerText()).not.toMatch(/sites\.create|core\.\w+\.\w+/);
    await shot(page, '18-support', 'sites-new');
    await ctx.close();
  });

  it('an edit page for a service that does not exist is the "not found" page, not an empty form', async () => {
    const { ctx, page } = await signedIn(ADMIN, 'light');
    await page.goto(`${panel.url}/containers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/edit`);
    await page.getByTestId('not-found').waitFor();
    expect(await page.getByRole('heading', { name: 'This service was not found' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: /Save|Create/ }).count()).toBe(0);
    await ctx.close();
  });
});
