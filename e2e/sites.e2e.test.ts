import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeWo, type FakeWo } from '../modules/sites/server/test-fixtures/fake-wo.js';
import { modules } from '../server/src/modules.js';
import { launchChromium, shot, watchErrors, createFirstAdmin, signInThroughForm } from './browser.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/** The sites module in Chromium, with WordOps played by the fake `wo` (WordOps cannot be installed here). */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const DOMAIN = 'e2e-shop.example.com';

describe('sites module in Chromium', () => {
  let fake: FakeWo;
  let panel: Panel;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    fake = createFakeWo({ sites: { 'blog.example.org': { site_type: 'wp', cache_type: 'wpfc', php_version: '8.2' } } });
    buildWeb();
    const others: Record<string, string> = modules.some((m) => m.id === 'containers') ? { SLIPWAY_CONTAINERS_ACTIVATOR_PORT: '0' } : {};
    panel = await startPanel({ ...others, SLIPWAY_SITES_WO_DIR: fake.dir, SLIPWAY_SITES_CERT_DIR: fake.certDir });
    await createFirstAdmin(panel.setupUrl, ADMIN);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    errors = watchErrors(page);
    await signInThroughForm(page, panel.url, ADMIN);
  });

  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
    fake?.cleanup();
  });

  it('creates a WordPress site with Let\'s Encrypt and Redis through the wizard, with the live job log', async () => {
    await page.goto(`${panel.url}/sites`);
    // The panel refreshes the inventory in the background at start; Refresh makes it happen now.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText('blog.example.org').waitFor({ timeout: 60_000 });
    await shot(page, 'sites', 'list');
    await page.getByRole('button', { name: 'New site' }).click();
    await page.getByRole('textbox', { name: 'Domain' }).fill(DOMAIN);
    await page.getByRole('radio', { name: 'WordPress', exact: true }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('combobox', { name: 'Page cache' }).click();
    await page.getByRole('option', { name: 'Redis' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: 'Domain (and www)' }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Cache: Redis').waitFor();
    await shot(page, 'sites', 'wizard-review');
    await page.getByRole('button', { name: 'Create site' }).click();
    await page.getByText(`Congratulations! Successfully Configured SSL on https://${DOMAIN}`).waitFor({ timeout: 60_000 });
    await page.getByText(`Successfully created site http://${DOMAIN}`).waitFor();
    await page.getByRole('button', { name: 'Open site' }).waitFor({ timeout: 30_000 });
    await shot(page, 'sites', 'wizard-job-log');
    expect(fake.calls()).toContainEqual(['site', 'create', DOMAIN, '--wp', '--php83', '--wpredis', '--letsencrypt=on']);
    await page.getByRole('button', { name: 'Open site' }).click();
    await page.getByRole('heading', { name: DOMAIN }).waitFor();
    await page.getByText('PHP 8.3').first().waitFor();
  });

  it('switches the PHP version from the site page', async () => {
    await page.getByRole('combobox', { name: 'PHP version' }).click();
    await page.getByRole('option', { name: 'PHP 8.4' }).click();
    // Nothing runs on select: the summary says what Apply will do, and only Apply starts the job.
    await page.getByTestId('settings-summary').getByText(/8\.4/).waitFor();
    expect(fake.calls().some((a) => a.join(' ') === `site update ${DOMAIN} --php84`)).toBe(false);
    await page.getByRole('button', { name: 'Apply 1 change' }).click();
    await expect.poll(() => fake.calls().some((a) => a.join(' ') === `site update ${DOMAIN} --php84`), { timeout: 30_000 }).toBe(true);
    await page.getByText('PHP 8.4').first().waitFor({ timeout: 30_000 });
    await page.getByRole('cell', { name: /succeeded/ }).first().waitFor({ timeout: 30_000 });
    await shot(page, 'sites', 'site-page');
  });

  it('deletes the site only after the domain is typed', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog').getByRole('button', { name: 'Delete site' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByRole('dialog').getByRole('textbox').fill(DOMAIN);
    await shot(page, 'sites', 'delete-dialog');
    await confirm.click();
    // The console opens the deletion job: wait until it has refreshed the inventory too.
    await page.getByText(`${DOMAIN} removed from the inventory`).waitFor({ timeout: 60_000 });
    await shot(page, 'sites', 'delete-job');
    expect(fake.calls()).toContainEqual(['site', 'delete', DOMAIN, '--all', '--no-prompt']);
    expect(Object.keys(fake.state().sites)).toEqual(['blog.example.org']);
    await page.goto(`${panel.url}/sites`);
    await page.getByText('blog.example.org').waitFor({ timeout: 60_000 });
    expect(await page.getByText(DOMAIN).count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
