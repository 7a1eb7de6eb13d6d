import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, launchChromium, shot, signInThroughForm } from './browser.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/**
 * Issue 18 items 8 (charts) and 9 (names, not ids) in Chromium, against a panel with real Docker
 * and Caddy: what the operator sees on the server and service pages, the jobs list, the audit log
 * and the dashboard. Screenshots: e2e/screenshots/18-charts-*.png and 18-names-*.png at 1400 and 390 px.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const TENANT = { username: 'ulla', email: 'ulla@example.test', password: 'Pebble-Orchard-Window-73' };
const BUSYBOX = 'slipway-test/busybox:1';
const uniq = () => Math.random().toString(36).slice(2, 7);

const axeSource: string = (() => {
  const req = createRequire(import.meta.url);
  return (req('node:fs') as typeof import('node:fs')).readFileSync(req.resolve('axe-core/axe.min.js'), 'utf8');
})();
let statsServiceId = '';

let panel: Panel;
let browser: Browser;
let adminToken = '';

async function api<T>(method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; body: T }> {
  const res = await fetch(`${panel.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function signedIn(width: number, scheme: 'light' | 'dark' = 'light'): Promise<{ ctx: BrowserContext; page: Page }> {
  // bypassCSP: only so the axe test can inject axe-core; the panel's own CSP stays as it is.
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, bypassCSP: true });
  ctx.setDefaultTimeout(60_000); // CI runs the e2e files beside every other project on 2 cores: pages can take tens of seconds
  const page = await ctx.newPage();
  await signInThroughForm(page, panel.url, ADMIN);
  return { ctx, page };
}

/** What the chart's plot drew (UPlotChart reports it on its host element after each draw). */
async function plotted(page: Page, label: string): Promise<{ points: number; span: number; fit: boolean }> {
  const el = page.getByRole('img', { name: label }).locator('[data-plotted]');
  await el.waitFor();
  const [points, min, max, fit] = await Promise.all(['data-plotted', 'data-x-min', 'data-x-max', 'data-y-axes-fit'].map((a) => el.getAttribute(a)));
  return { points: Number(points), span: Number(max) - Number(min), fit: fit === 'true' };
}

describe('issue 18: charts that tell the truth, names instead of ids (Chromium)', () => {
  beforeAll(async () => {
    panel = await startPanel({ SLIPWAY_SERVER_SAMPLE_INTERVAL_MS: '2000', SLIPWAY_CONTAINERS_STATS_INTERVAL_MS: '1000' }, buildWeb());
    browser = await launchChromium();
    await createFirstAdmin(panel.setupUrl, ADMIN);
    adminToken = (await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string }).accessToken;
    const u = await api('POST', '/users', { ...TENANT, role: 'user' });
    if (u.status !== 201) throw new Error(`create tenant: ${u.status} ${JSON.stringify(u.body)}`);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
  });

  it('server charts: history loads even when the live sample and the chart code come first; a real 15-minute axis; y labels fit', async () => {
    // Enough history that "one live point" cannot pass.
    await until('4 samples of history', async () => {
      const r = await api<{ history: unknown[] }>('GET', '/server/metrics?host=local&from=-900');
      return r.body.history.length >= 4;
    });
    for (const width of [1400, 390]) {
      const { ctx, page } = await signedIn(width);
      // The race of the report: the live stream's first sample and the history answer both arrive
      // before the lazily loaded uPlot code. The plot must draw the data of now, not of the render
      // that started the import.
      await page.route(/uPlot[^/]*\.js/, async (route) => {
        await new Promise((r) => setTimeout(r, 1500));
        await route.continue();
      });
      await page.route(/\/api\/v1\/server\/metrics\?/, async (route) => {
        await new Promise((r) => setTimeout(r, 700));
        await route.continue();
      });
      await page.goto(`${panel.url}/server`);
      const cpu = await plotted(page, 'CPU use over time');
      expect(cpu.points, 'points drawn at first paint').toBeGreaterThanOrEqual(4);
      expect(cpu.span, 'x axis of the 15 min range').toBeGreaterThanOrEqual(899);
      expect(cpu.span).toBeLessThanOrEqual(901);
      for (const label of ['Network traffic over time', 'Disk reads and writes over time', 'Memory and swap use over time']) {
        const c = await plotted(page, label);
        expect(c.fit, `${label}: y-axis labels fit`).toBe(true);
      }
      // The axis reads as dates of today, not of 2027..2029.
      const axisYearSpan = await page.getByRole('img', { name: 'CPU use over time' }).locator('[data-x-min]').evaluate((el) => {
        const d = (el as unknown as { dataset: Record<string, string> }).dataset;
        return new Date(Number(d.xMax) * 1000).getUTCFullYear() - new Date(Number(d.xMin) * 1000).getUTCFullYear();
      });
      expect(axisYearSpan).toBeLessThanOrEqual(1);
      await page.waitForTimeout(300);
      await shot(page, `18-charts-${width}`, 'server');
      await page.getByRole('img', { name: 'Disk reads and writes over time' }).scrollIntoViewIfNeeded();
      await page.waitForTimeout(200);
      await shot(page, `18-charts-${width}`, 'server-io');
      await ctx.close();
    }
    const { ctx, page } = await signedIn(1400, 'dark');
    await page.goto(`${panel.url}/server`);
    await plotted(page, 'Network traffic over time');
    await page.waitForTimeout(300);
    await shot(page, '18-charts-1400', 'server-dark');
    await ctx.close();
  });

  it('container stats are charted over time on the service page; another tenant cannot read them', async () => {
    const name = `stats-${uniq()}`;
    const created = await api<{ service: { id: string } }>('POST', '/containers', {
      name, hostnames: [`${name}.localhost`],
      containers: [{ name: 'web', image: BUSYBOX, command: ['/bin/sh', '-c', `mkdir -p /srv && echo ${name} > /srv/index.html && exec httpd -f -p 80 -h /srv`] }],
      http: { port: 80 }, sleep: { mode: 'always-on', idleTimeoutSeconds: 900 },
    });
    expect(created.status).toBe(202);
    const id = created.body.service.id;
    statsServiceId = id;
    await until('the service runs', async () => (await api<{ service: { state: string } }>('GET', `/containers/${id}`)).body.service.state === 'running', 90_000);
    await until('3 stats samples', async () => (await api<{ points: unknown[] }>('GET', `/containers/${id}/stats/history`)).body.points.length >= 3, 60_000);

    // The attack: a tenant asks for someone else's service's usage → 404 (it is not theirs to know of).
    const tenant = (await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: TENANT.username, password: TENANT.password }) })).json()) as { accessToken?: string };
    expect(tenant.accessToken).toBeTruthy();
    expect((await api('GET', `/containers/${id}/stats/history`, undefined, tenant.accessToken)).status).toBe(404);

    for (const width of [1400, 390]) {
      const { ctx, page } = await signedIn(width);
      await page.goto(`${panel.url}/containers/${id}`);
      await page.getByRole('heading', { name }).waitFor();
      await page.getByTestId('service-stats').waitFor();
      for (const label of ['CPU use of the service over time', 'Memory of the service over time, used and limit', 'Network traffic of the service over time, received and sent']) {
        const c = await plotted(page, label);
        expect(c.points, label).toBeGreaterThanOrEqual(3);
        expect(c.span, `${label}: 15 min`).toBeGreaterThanOrEqual(899);
        expect(c.fit, `${label}: labels fit`).toBe(true);
      }
      // The one wake so far is one point on the cold-start chart: ten minutes around it, not 2027..2029.
      const cold = await plotted(page, 'Cold start time of each wake: container start to ready, and first request to first byte');
      expect(cold.points).toBe(1);
      expect(cold.span, 'single point: x range').toBe(600);
      // Live samples keep coming: the plot grows.
      const before = (await plotted(page, 'CPU use of the service over time')).points;
      await until('a live sample', async () => (await plotted(page, 'CPU use of the service over time')).points > before, 20_000);
      await page.getByTestId('service-stats').scrollIntoViewIfNeeded();
      await page.waitForTimeout(300);
      await shot(page, `18-charts-${width}`, 'container');
      await ctx.close();
    }
  });

  it('the chart and name pages pass axe (no serious or critical violation) in light and dark', async () => {
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      const { ctx, page } = await signedIn(1400, scheme);
      for (const path of ['/server', `/containers/${statsServiceId}`, '/jobs', '/audit', '/']) {
        await page.goto(`${panel.url}${path}`);
        await page.locator('h1').first().waitFor();
        await page.waitForTimeout(1000);
        if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: axeSource });
        const violations = await page.evaluate(async () => {
          const g = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, o: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } };
          return (await g.axe.run(g.document, { resultTypes: ['violations'] })).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
        });
        for (const v of violations) if (v.impact === 'serious' || v.impact === 'critical') problems.push(`${path} (${scheme}): ${v.impact} ${v.id} — ${v.nodes.join(', ')}`);
      }
      await ctx.close();
    }
    expect(problems).toEqual([]);
  }, 480_000);

  it('creating a service lands on it with its job; jobs, audit and dashboard name the service and link to it', async () => {
    const name = `shop-${uniq()}`;
    const { ctx, page } = await signedIn(1400);
    await page.goto(`${panel.url}/containers/new`);
    await page.getByLabel(/^Name/).fill(name);
    await page.getByLabel(/^Hostnames/).fill(`${name}.localhost`);
    await page.getByLabel(/^Image/).fill(BUSYBOX);
    await page.getByLabel(/^Command/).fill(['/bin/sh', '-c', `mkdir -p /srv && echo ${name} > /srv/index.html && exec httpd -f -p 80 -h /srv`].join('\n'));
    await page.getByRole('button', { name: 'Create service' }).click();
    await page.waitForURL(/\/containers\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    await page.getByRole('heading', { name }).waitFor();
    const latest = page.getByTestId('latest-job');
    await latest.getByText(`Create container service ${name}`).waitFor();
    expect(await latest.getByRole('link', { name: 'Open the job and its log' }).isVisible()).toBe(true);
    await shot(page, '18-names-1400', 'service-landing');

    await latest.getByRole('link', { name: 'Open the job and its log' }).click();
    await page.getByText(`Create container service ${name}`).first().waitFor();
    const onLink = page.getByRole('link', { name: `service ${name}` }).first();
    expect(await onLink.getAttribute('href')).toBe(`/containers/${id}`);
    await shot(page, '18-names-1400', 'job');

    await page.goto(`${panel.url}/jobs`);
    const row = page.getByRole('row').filter({ hasText: `Create container service ${name}` });
    await row.first().waitFor();
    expect(await row.first().getByRole('link', { name: `service ${name}` }).getAttribute('href')).toBe(`/containers/${id}`);
    await shot(page, '18-names-1400', 'jobs');

    await page.goto(`${panel.url}/audit`);
    const created = page.getByRole('row').filter({ hasText: 'containers.create' }).filter({ hasText: name });
    await created.first().waitFor();
    expect(await created.first().getByRole('link', { name: `service ${name}` }).first().getAttribute('href')).toBe(`/containers/${id}`);
    // auth.login names the account, not its id
    const login = page.getByRole('row').filter({ hasText: 'auth.login' }).first();
    await login.getByRole('link', { name: 'user admin' }).waitFor();
    const auditText = await page.locator('main').innerText();
    expect(auditText, 'no truncated ids').not.toMatch(/\b[0-9a-f]{8}…/);
    await shot(page, '18-names-1400', 'audit');

    await page.goto(`${panel.url}/`);
    const recent = page.getByTestId('card-audit');
    await recent.getByRole('link', { name: `service ${name}` }).first().waitFor();
    expect(await recent.innerText()).not.toMatch(/\b[0-9a-f]{8}…/);
    await shot(page, '18-names-1400', 'dashboard');
    await ctx.close();

    const phone = await signedIn(390);
    for (const [path, n] of [[`/containers/${id}`, 'service-landing'], ['/jobs', 'jobs'], ['/audit', 'audit'], ['/', 'dashboard']] as const) {
      await phone.page.goto(`${panel.url}${path}`);
      await phone.page.locator('h1').first().waitFor();
      await phone.page.getByText(name).first().waitFor().catch(() => {});
      await phone.page.waitForTimeout(300);
      await shot(phone.page, '18-names-390', n);
    }
    await phone.ctx.close();
  });
});
