import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeDokku, type FakeApp, type FakeDokku } from '../modules/apps/server/test-fixtures/fake-dokku.js';
import { modules } from '../server/src/modules.js';
import { createFirstAdmin, launchChromium, screenshotDir, shot, signInThroughForm, watchErrors } from './browser.js';
import { buildWeb, repoRoot, startPanel, type Panel } from './panel.js';

/**
 * The apps module in Chromium, with Dokku played by the fake `dokku` (Dokku cannot be installed
 * here): create an app, deploy it from an image watching its log, roll back, set a secret, destroy.
 * Scenarios run in order and share the app.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const APP = 'e2e-web';
const SECRET = 'sk_live_e2e_Zebra_Quartz_9731';
const docsShots = path.join(repoRoot, 'docs/screenshots');

/** Opens a tab of the app page and waits until it is the selected one (a click during a closing modal can be lost). */
async function openTab(page: Page, name: RegExp | string): Promise<void> {
  const tab = page.getByRole('tab', { name });
  await expect.poll(async () => {
    if ((await tab.getAttribute('aria-selected')) !== 'true') await tab.click();
    return tab.getAttribute('aria-selected');
  }, { timeout: 30_000 }).toBe('true');
}

/** e2e/screenshots/11-<name>-1400.png and -390.png: the page at desktop and phone width. */
async function issueShots(page: Page, name: string, ready?: () => Promise<unknown>): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  const before = page.viewportSize()!;
  for (const width of [1400, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.mouse.move(width - 5, 5);
    await ready?.();
    await page.waitForTimeout(400);
    await page.screenshot({ path: path.join(screenshotDir, `11-${name}-${width}.png`) });
  }
  await page.setViewportSize(before);
}

/** docs/screenshots/apps-<name>.png (desktop width). */
async function docShot(page: Page, name: string): Promise<void> {
  mkdirSync(docsShots, { recursive: true });
  await page.mouse.move(640, 850); // no hover tooltip in the picture
  await page.waitForTimeout(300); // let transitions and the log's last batch settle
  await page.screenshot({ path: path.join(docsShots, `apps-${name}.png`) });
}

describe('apps module in Chromium', () => {
  let fake: FakeDokku;
  let panel: Panel;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let failed = false;

  beforeEach((ctx) => {
    if (failed) ctx.skip();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    failed = true;
    await shot(page, 'apps-failure', ctx.task.name.slice(0, 30).replace(/\W+/g, '-')).catch(() => {});
  });

  beforeAll(async () => {
    fake = createFakeDokku({
      images: ['nginx:1.26', 'nginx:1.27'],
      deployDelayMs: 250,
      // Apps deployed outside the panel (sourceImage: the fake's git-source-image, set by git:from-image).
      apps: {
        blog: {
          deployed: true, running: true, deploySource: 'docker-image', image: 'ghost:5.96', sourceImage: 'ghost:5.96', vhosts: ['blog.example.org'], scale: { web: 2 }, containers: { 'web.1': 'a'.repeat(64), 'web.2': 'b'.repeat(64) },
          letsencrypt: { active: true, email: 'ops@example.org', expiration: String(Math.floor(Date.now() / 1000) + 5 * 86400 + 3600) },
        },
        api: { deployed: true, running: false, deploySource: 'docker-image', image: 'ghcr.io/acme/api:2.4.1', sourceImage: 'ghcr.io/acme/api:2.4.1', scale: { web: 1, worker: 1 } },
        staging: {},
      } as Record<string, FakeApp>,
    });
    buildWeb();
    const others: Record<string, string> = modules.some((m) => m.id === 'containers') ? { SLIPWAY_CONTAINERS_ACTIVATOR_PORT: '0' } : {};
    panel = await startPanel({ ...others, SLIPWAY_APPS_DOKKU_BIN: fake.bin, SLIPWAY_APPS_REFRESH_INTERVAL_SECONDS: '0', SLIPWAY_JOB_WORKERS: '3' });
    await createFirstAdmin(panel.setupUrl, ADMIN);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    page.setDefaultTimeout(20_000);
    errors = watchErrors(page);
    await signInThroughForm(page, panel.url, ADMIN);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
    fake?.cleanup();
  });

  it('lists the apps Dokku has, then creates one through the form', async () => {
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { name: 'Apps', exact: true }).waitFor();
    // The first inventory refresh runs when the panel starts.
    await page.locator('table').getByText('blog', { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'New app' }).click();
    const name = page.getByRole('textbox', { name: /App name/ });
    await name.fill('E2E Web');
    await page.getByText('No capital letters: Dokku app names are lowercase').waitFor();
    expect(await page.getByRole('button', { name: 'Create app' }).isDisabled()).toBe(true);
    await name.fill(APP);
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('heading', { name: APP }).waitFor();
    await page.getByText('Not deployed yet').waitFor();
    expect(fake.calls()).toContainEqual(['apps:create', APP]);
  });

  it('deploys from an image and shows the log lines while the deploy runs', async () => {
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('textbox', { name: /Image/ }).fill('nginx:1.26');
    await dialog.getByRole('button', { name: 'Deploy', exact: true }).click();
    // The dialog becomes the live log at once: early lines are there before the deploy has finished.
    await dialog.getByText(`Building ${APP} from Dockerfile`).waitFor({ timeout: 30_000 });
    expect(await dialog.getByText('Application deployed:').count()).toBe(0);
    await dialog.getByText(/Deploying web \(count=1\)/).waitFor({ timeout: 30_000 });
    await docShot(page, 'deploy-log');
    await dialog.getByText('Application deployed:').waitFor({ timeout: 60_000 });
    await dialog.getByText('succeeded').first().waitFor({ timeout: 30_000 });
    expect(fake.calls()).toContainEqual(['git:from-image', APP, 'nginx:1.26']);
    await dialog.getByRole('button', { name: 'Close' }).last().click();
    await page.locator('[data-status="running"]').first().waitFor({ timeout: 30_000 });
    await page.getByText('http://e2e-web.dokku.example.net').first().waitFor();

    // A second release, so there is something to roll back to.
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await dialog.getByRole('textbox', { name: /Image/ }).fill('nginx:1.27');
    await dialog.getByRole('button', { name: 'Deploy', exact: true }).click();
    await dialog.getByText('Application deployed:').waitFor({ timeout: 60_000 });
    await dialog.getByRole('button', { name: 'Close' }).last().click();
  });

  it('rolls back to release 1 from the releases table', async () => {
    await openTab(page, /Deploys/);
    const releases = page.locator('table').nth(1);
    await releases.getByText('#2').waitFor({ timeout: 30_000 });
    await releases.locator('tr', { hasText: '#2' }).getByText('current').waitFor({ timeout: 30_000 });
    await releases.locator('tr', { hasText: '#1' }).getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('dialog').getByText('nginx:1.26').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    const log = page.getByRole('dialog', { name: /Rolling e2e-web back to release #1/ });
    await log.getByText(`Building ${APP} from Dockerfile`).waitFor({ timeout: 30_000 });
    await log.getByText('Application deployed:').waitFor({ timeout: 60_000 });
    await log.getByRole('button', { name: 'Close' }).last().click();
    await releases.locator('tr', { hasText: '#3' }).getByText('current').waitFor({ timeout: 30_000 });
    expect(await releases.locator('tr', { hasText: '#3' }).textContent()).toContain('rollback to #1');
    await docShot(page, 'releases');
    expect(fake.state().apps[APP]!.image).toBe('nginx:1.26');
    expect(fake.calls().filter((a) => a[0] === 'git:from-image').map((a) => a[2])).toEqual(['nginx:1.26', 'nginx:1.27', 'nginx:1.26']);
  });

  it('sets a secret whose value is never visible afterwards', async () => {
    await page.getByRole('tab', { name: 'Config' }).click();
    await page.getByRole('button', { name: 'Add variable' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add variable' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('STRIPE_KEY');
    await dialog.getByLabel('Secret').check({ force: true });
    await dialog.getByLabel(/^Value/).fill(SECRET);
    expect(await dialog.getByLabel(/^Value/).getAttribute('type')).toBe('password');
    await dialog.getByLabel('Restart now').check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    const log = page.getByRole('dialog', { name: 'Set STRIPE_KEY' });
    await log.getByText('succeeded').first().waitFor({ timeout: 60_000 });
    expect(await log.textContent()).not.toContain(SECRET);
    await log.getByRole('button', { name: 'Close' }).last().click();
    const row = page.locator('tr', { hasText: 'STRIPE_KEY' });
    await row.getByText('secret').waitFor({ timeout: 30_000 });
    expect(fake.state().apps[APP]!.env.STRIPE_KEY).toBe(SECRET); // it did reach Dokku
    await docShot(page, 'config');
    expect(await page.content()).not.toContain(SECRET);
    // Replacing it starts from an empty field: the browser never had the value.
    await row.getByRole('button', { name: 'Replace' }).click();
    const edit = page.getByRole('dialog', { name: 'Replace STRIPE_KEY' });
    expect(await edit.getByLabel(/^Value/).inputValue()).toBe('');
    await edit.getByRole('button', { name: 'Cancel' }).click();
    await page.reload();
    await page.getByRole('heading', { name: APP }).waitFor({ timeout: 60_000 }); // a cold load: session refresh, then the page's chunks
    await page.getByRole('tab', { name: 'Config' }).click();
    await page.locator('tr', { hasText: 'STRIPE_KEY' }).getByText('secret').waitFor();
    expect(await page.content()).not.toContain(SECRET);
    // Neither the API's reads, the job logs nor the audit trail have it.
    const login = await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string };
    const get = async (p: string) => (await fetch(`${panel.url}${p}`, { headers: { authorization: `Bearer ${login.accessToken}` } })).text();
    const config = await get(`/api/v1/apps/${APP}/config`);
    expect(config).toContain('"key":"STRIPE_KEY","value":null');
    const jobs = JSON.parse(await get('/api/v1/jobs?limit=100')) as { items: { id: string }[] };
    for (const j of jobs.items) expect(await get(`/api/v1/jobs/${j.id}/log-lines?limit=5000`)).not.toContain(SECRET);
    expect(await get('/api/v1/audit?limit=200')).not.toContain(SECRET);
  });

  it('shows domains and TLS, checks, ports and scale, and adds a domain', async () => {
    await page.getByRole('tab', { name: 'Domains & TLS' }).click();
    await page.getByText('no certificate').waitFor();
    await page.getByRole('textbox', { name: 'New domain' }).fill('-bad.example.com');
    expect(await page.getByRole('button', { name: 'Add domain' }).isDisabled()).toBe(true);
    await page.getByRole('textbox', { name: 'New domain' }).fill('www.e2e.example.com');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('cell', { name: 'www.e2e.example.com' }).waitFor();
    expect(fake.state().apps[APP]!.vhosts).toContain('www.e2e.example.com');
    await page.getByRole('tab', { name: 'Checks' }).click();
    await page.getByText('Wait to retire').waitFor();
    await page.getByRole('radiogroup', { name: 'Checks for web' }).or(page.getByText('Enabled', { exact: true })).first().waitFor();
    await page.getByRole('tab', { name: 'Ports' }).click();
    await page.getByText('Detected', { exact: true }).waitFor();
    await page.getByRole('cell', { name: '5000' }).first().waitFor();
    await page.getByRole('tab', { name: 'Scale' }).click();
    await page.getByRole('button', { name: 'Apply scale' }).waitFor();
    expect(await page.getByRole('button', { name: 'Apply scale' }).isDisabled()).toBe(true);
    expect(errors).toEqual([]);
  });

  it('takes the screenshots of the list, the app page and the deploy log (light and dark)', async () => {
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.getByText('Current release').waitFor();
    await page.locator('text=#3').first().waitFor();
    await docShot(page, 'app-page');
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByText(APP, { exact: true }).waitFor();
    await docShot(page, 'list');
    await page.getByRole('button', { name: 'Switch to dark theme' }).click();
    expect(await page.locator('html').getAttribute('data-mantine-color-scheme')).toBe('dark');
    await docShot(page, 'list-dark');
    await page.getByText(APP, { exact: true }).click();
    await page.getByText('Current release').waitFor();
    await page.locator('text=#3').first().waitFor();
    await docShot(page, 'app-page-dark');
    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.getByText('Application deployed:').waitFor({ timeout: 30_000 });
    await docShot(page, 'deploy-log-dark');
    await page.getByRole('button', { name: 'Switch to light theme' }).click();
  });

  it('issue 11: a past build\'s output from Dokku (builds:output) opens from the deploys tab', async () => {
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByText(APP, { exact: true }).click();
    await openTab(page, /Deploys/);
    await page.getByText('Builds on Dokku').waitFor();
    const out = page.getByTestId('build-output');
    // (under heavy load the module's engine probe can flap and remount the page: open it again then)
    await expect.poll(async () => {
      if (await out.getByText(`Building ${APP} from Dockerfile`).isVisible()) return true;
      if (!(await out.isVisible())) {
        await openTab(page, /Deploys/);
        await page.getByRole('button', { name: /^Output of build / }).first().click({ timeout: 5000 }).catch(() => undefined);
      }
      return false;
    }, { timeout: 90_000, interval: 1500 }).toBe(true);
    await out.getByText('Application deployed:').waitFor();
    expect(fake.calls().some((c) => c[0] === 'builds:output' && c[1] === APP)).toBe(true);
    await issueShots(page, 'build-output', () => out.getByText('Application deployed:').waitFor());
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click();
    await issueShots(page, 'builds', () => page.getByText('Builds on Dokku').waitFor());
  });

  it('issue 11: certificate alerts, ownerless apps and giving one to a user', async () => {
    const login = await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string };
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${login.accessToken}` };
    const made = await fetch(`${panel.url}/api/v1/users`, { method: 'POST', headers: auth, body: JSON.stringify({ username: 'carol', email: 'carol@example.test', password: 'Meadow-Copper-Lantern-77', role: 'user' }) });
    expect(made.status, await made.clone().text()).toBe(201);
    // The certificate watch ran at start (blog's certificate expires in 5 days); run it again now, as an operator can.
    expect((await fetch(`${panel.url}/api/v1/apps/-/refresh`, { method: 'POST', headers: { authorization: auth.authorization } })).status).toBe(200);
    await page.getByRole('link', { name: 'Apps' }).click();
    const banner = page.getByTestId('cert-alerts');
    await banner.getByText(/expires in 5 days/).waitFor({ timeout: 30_000 });
    await page.getByRole('checkbox', { name: 'Without owner only' }).check();
    await page.getByText('staging', { exact: true }).waitFor();
    await expect.poll(() => page.getByRole('cell', { name: APP, exact: true }).count()).toBe(0);
    await issueShots(page, 'alerts-ownerless', () => banner.getByText(/expires in 5 days/).waitFor());
    await page.locator('table').getByText('blog', { exact: true }).click();
    const panelBox = page.getByTestId('ownerless');
    await panelBox.waitFor();
    await page.getByTestId('cert-alerts').getByText(/The certificate of blog expires in 5 days/).waitFor();
    await panelBox.getByRole('button', { name: 'Assign owner' }).click();
    await panelBox.getByText('Pick the user who will own this app').waitFor();
    await issueShots(page, 'owner-error', () => panelBox.getByText('Pick the user who will own this app').waitFor());
    await panelBox.getByRole('combobox', { name: 'Owner' }).click();
    await page.getByRole('option', { name: 'carol (user)' }).click();
    await panelBox.getByRole('button', { name: 'Assign owner' }).click();
    await page.getByText('blog now belongs to carol').waitFor();
    await expect.poll(() => page.getByTestId('ownerless').count(), { timeout: 15_000 }).toBe(0);
    const blog = await (await fetch(`${panel.url}/api/v1/apps/blog`, { headers: auth })).json() as { app: { ownerId: string | null } };
    expect(blog.app.ownerId).not.toBeNull();
  });

  it('issue 11: the new-app form picks among the Dokku hosts', async () => {
    // A second Dokku host in the registry (as Server → Hosts adds one; the dokku capability marks it).
    const sqlite = new Database(path.join(panel.dataDir, 'slipway.db'));
    const at = Date.now();
    sqlite.prepare(`insert into hosts (id, name, kind, address, port, username, host_key_fingerprint, capabilities, status, last_checked_at, created_at, updated_at)
      values ('dokku-2', 'Dokku two', 'ssh', '192.0.2.20', 22, 'dokku', 'SHA256:e2e', '{"dokku":true}', 'online', null, ?, ?)`).run(at, at);
    sqlite.close();
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('button', { name: 'New app' }).click();
    const host = page.getByRole('combobox', { name: /Dokku host/ });
    await host.waitFor();
    expect(await host.inputValue()).toContain('(this machine) · default');
    await page.getByRole('textbox', { name: /App name/ }).fill('picked-host');
    const open = async () => {
      const option = page.getByRole('option', { name: 'Dokku two' });
      if (await option.isVisible()) return;
      await page.keyboard.press('Escape');
      await host.click();
      await option.waitFor();
    };
    await open();
    await issueShots(page, 'new-app-hosts', open);
    await page.keyboard.press('Escape');
    // back to this machine, and create there
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText(APP, { exact: true }).click();
    await page.getByRole('heading', { name: APP }).waitFor();
  });

  it('destroys the app only after its name is typed again', async () => {
    await page.getByRole('button', { name: 'Destroy' }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Destroy app' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByRole('textbox').fill('e2e-we');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByRole('textbox').fill(APP);
    await confirm.click();
    // The console opens the destroy job.
    await page.waitForURL(/\/jobs\//);
    const progress = page.getByTestId('job-progress').filter({ hasText: `Destroy app ${APP}` });
    await progress.waitFor();
    await expect.poll(() => progress.locator('[data-status]').first().getAttribute('data-status'), { timeout: 60_000 }).toBe('succeeded');
    expect(fake.calls()).toContainEqual(['apps:destroy', APP, '--force']);
    expect(Object.keys(fake.state().apps).sort()).toEqual(['api', 'blog', 'staging']);
    const login = await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string };
    const list = await (await fetch(`${panel.url}/api/v1/apps`, { headers: { authorization: `Bearer ${login.accessToken}` } })).json() as { items: { name: string }[] };
    expect(list.items.map((a) => a.name)).toEqual(['api', 'blog', 'staging']);
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.locator('table').getByText('blog', { exact: true }).waitFor();
    await expect.poll(() => page.getByRole('cell', { name: APP, exact: true }).count(), { timeout: 15_000 }).toBe(0);
    expect(errors).toEqual([]);
  });
});
