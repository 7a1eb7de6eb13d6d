import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, shot, createFirstAdmin, signInThroughForm } from './browser.js';
import { modules } from '../server/src/modules.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/** The server module in Chromium: live dashboard charts and a followed log file. */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };

describe('server module in Chromium', () => {
  let panel: Panel;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(path.join(tmpdir(), 'slipway-e2e-logs-'));
  const logFile = path.join(dir, 'app.log');

  beforeAll(async () => {
    writeFileSync(logFile, 'first line\n');
    buildWeb();
    // Other modules' fixed ports may be taken by another panel on this machine: let them pick a free one.
    const others: Record<string, string> = modules.some((m) => m.id === 'containers') ? { SLIPWAY_CONTAINERS_ACTIVATOR_PORT: '0' } : {};
    panel = await startPanel({ ...others, SLIPWAY_SERVER_SAMPLE_INTERVAL_MS: '1000', SLIPWAY_SERVER_LOG_SOURCES: JSON.stringify({ e2e: logFile }) });
    await createFirstAdmin(panel.setupUrl, ADMIN);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signInThroughForm(page, panel.url, ADMIN);
  });

  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the dashboard\'s charts move with live samples', async () => {
    await page.goto(`${panel.url}/server`);
    const chart = page.getByRole('img', { name: 'CPU use over time' }).locator('canvas');
    await chart.waitFor({ timeout: 20_000 });
    await page.getByTestId('tile-cpu').waitFor();
    await page.waitForTimeout(1500);
    const before = await chart.screenshot();
    // New samples arrive every second; on a busy machine give the redraw a few more.
    let moved = false;
    for (let i = 0; i < 15 && !moved; i++) {
      await page.waitForTimeout(1000);
      moved = Buffer.compare(before, await chart.screenshot()) !== 0;
    }
    await shot(page, 'server', 'dashboard');
    expect(moved).toBe(true);
  });

  it('a line appended to a followed file appears within a second', async () => {
    await page.goto(`${panel.url}/server/logs?source=e2e`);
    await page.getByText('first line').waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500);
    const marker = `appended at ${Date.now()}`;
    const started = Date.now();
    appendFileSync(logFile, `${marker}\n`);
    await page.getByText(marker).waitFor({ timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(1000);
    await shot(page, 'server', 'logs');
  });

  it('hosts page shows the local host with what it offers; services page says systemd is absent here', async () => {
    await page.goto(`${panel.url}/server/hosts`);
    await page.getByText('This server (local)').waitFor({ timeout: 15_000 });
    await page.getByText('Docker', { exact: true }).waitFor({ timeout: 15_000 });
    await shot(page, 'server', 'hosts');
    await page.goto(`${panel.url}/server/services`);
    await page.getByText('systemd is not running on this host').waitFor({ timeout: 15_000 });
    await shot(page, 'server', 'services');
  });
});
