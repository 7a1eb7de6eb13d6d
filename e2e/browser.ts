import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from './panel.js';

export const screenshotDir = path.join(repoRoot, 'e2e/screenshots');

/** Debian's Chromium, headless (never a downloaded browser). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Saves e2e/screenshots/<scenario>-<name>.png. */
export async function shot(page: Page, scenario: string, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${scenario}-${name}.png`), fullPage: false });
}

/** Collects uncaught page errors so a test can assert the console ran clean. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Creates the first admin through the setup API with the token from the printed setup link. */
export async function createFirstAdmin(setupUrl: string, admin: { username: string; email: string; password: string }): Promise<void> {
  const url = new URL(setupUrl);
  const token = url.hash.slice('#token='.length);
  const res = await fetch(`${url.origin}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, ...admin }) });
  if (res.status !== 201) throw new Error(`setup answered ${res.status}: ${await res.text()}`);
}

/** Signs in through the console's form and waits for the dashboard. */
export async function signInThroughForm(page: Page, panelUrl: string, user: { username: string; password: string }): Promise<void> {
  await page.goto(panelUrl);
  await page.locator('input[autocomplete="username"]').fill(user.username);
  await page.locator('input[autocomplete="current-password"]').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout: 15_000 });
}
