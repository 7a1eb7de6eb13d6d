import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFakeDokku, type FakeApp, type FakeDokku } from '../modules/apps/server/test-fixtures/fake-dokku.js';
import { modules } from '../server/src/modules.js';
import { createFirstAdmin, launchChromium, shot, signInThroughForm, watchErrors } from './browser.js';
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
        blog: { deployed: true, running: true, deploySource: 'docker-image', image: 'ghost:5.96', sourceImage: 'ghost:5.96', vhosts: ['blog.example.org'], scale: { web: 2 }, containers: { 'web.1': 'a'.repeat(64), 'web.2': 'b'.repeat(64) } },
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
    await page.getByText('blog', { exact: true }).waitFor({ timeout: 60_000 });
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
    await page.getByRole('tab', { name: /Deploys/ }).click();
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
    await page.getByText('blog', { exact: true }).waitFor();
    await expect.poll(() => page.getByRole('cell', { name: APP, exact: true }).count(), { timeout: 15_000 }).toBe(0);
    expect(errors).toEqual([]);
  });
});
