import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium, shot } from './browser.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/**
 * The console in a real browser against a real panel: first run, 2FA, roles, a live job log,
 * session revocation and the audit trail of all of it. Scenarios run in order and share state.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const VIEWER = { username: 'vera', email: 'vera@example.test', password: 'Teal-Window-Orchard-77' };

let panel: Panel;
let browser: Browser;
let adminCtx: BrowserContext;
let admin: Page;
let totpSecret = '';
const pageErrors: string[] = [];

/** A code for the next 30-s step: the server accepts ±1 step but each step only once. */
function nextCode(): string {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(totpSecret), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: Date.now() + 30_000 });
}

/** A field's label exactly, allowing Mantine's required-marker asterisk. */
function exactLabel(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\*?$`);
}

async function newDevice(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(15_000);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { ctx, page };
}

async function signIn(page: Page, who: { username: string; password: string }) {
  await page.goto(panel.url);
  await page.getByLabel('Username or email').fill(who.username);
  await page.getByLabel(exactLabel('Password')).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('web console in Chromium', () => {
  let failed = false;
  beforeEach((ctx) => {
    if (failed) ctx.skip();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    failed = true;
    for (const [i, p] of browser?.contexts().flatMap((c) => c.pages()).entries() ?? []) await shot(p, 'failure', String(i)).catch(() => {});
  });

  beforeAll(async () => {
    panel = await startPanel({}, buildWeb());
    browser = await launchChromium();
    ({ ctx: adminCtx, page: admin } = await newDevice());
  });

  afterAll(async () => {
    await browser?.close();
    await panel?.stop();
  });

  it('first run: the printed link opens setup with the token filled in and creates the admin', async () => {
    await admin.goto(panel.setupUrl);
    await expect.poll(() => admin.getByRole('heading', { name: 'Welcome to Slipway' }).isVisible(), { timeout: 15_000 }).toBe(true);
    expect(await admin.getByLabel('Setup token').inputValue()).toBe(new URL(panel.setupUrl).hash.slice('#token='.length));
    await admin.getByLabel('Email').fill(ADMIN.email);
    await admin.getByLabel(exactLabel('Password')).fill('admin-password');
    expect(await admin.getByText('Do not use your username or email.').isVisible()).toBe(true);
    expect(await admin.getByRole('button', { name: 'Create administrator' }).isDisabled()).toBe(true);
    await admin.getByLabel(exactLabel('Password')).fill(ADMIN.password);
    await admin.getByLabel('Repeat the password').fill(ADMIN.password);
    await shot(admin, '01-setup', 'form');
    await admin.getByRole('button', { name: 'Create administrator' }).click();
    await admin.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout: 15_000 });
    expect(new URL(admin.url()).pathname).toBe('/');
    expect(admin.url()).not.toContain('token=');
    await admin.getByTestId('card-running').waitFor();
    await shot(admin, '01-setup', 'dashboard');
  });

  it('enrols 2FA with the QR code and shows the recovery codes once', async () => {
    await admin.getByRole('link', { name: 'My account' }).first().click();
    await admin.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    await admin.getByAltText('QR code for your authenticator app').waitFor();
    totpSecret = (await admin.getByTestId('totp-secret').textContent())!.trim();
    expect(totpSecret).toMatch(/^[A-Z2-7]{16,}$/);
    const now = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(totpSecret), digits: 6, period: 30 }).generate();
    await admin.getByLabel('Code from the app').fill(now);
    await shot(admin, '02-2fa', 'qr');
    await admin.getByRole('button', { name: 'Confirm and turn on' }).click();
    const codes = admin.getByTestId('recovery-codes');
    await codes.waitFor();
    expect((await codes.locator('code').allTextContents()).length).toBe(10);
    await shot(admin, '02-2fa', 'recovery-codes');
    await admin.getByRole('button', { name: 'I saved them' }).click();
    await expect.poll(() => admin.getByRole('button', { name: 'Turn off two-factor authentication' }).isVisible()).toBe(true);
  });

  it('signs out, then signs in again with password and the authenticator code', async () => {
    await admin.getByTestId('user-menu').click();
    await admin.getByRole('menuitem', { name: 'Sign out' }).click();
    await admin.getByRole('heading', { name: 'Sign in' }).waitFor();
    await signIn(admin, ADMIN);
    await admin.getByLabel('Authentication code').waitFor();
    await shot(admin, '03-signin', 'mfa-step');
    await admin.getByLabel('Authentication code').fill(nextCode());
    await admin.getByRole('button', { name: 'Verify' }).click();
    await admin.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout: 15_000 });
  });

  let viewer: { ctx: BrowserContext; page: Page };

  it('creates a viewer, who cannot see or open the admin pages', async () => {
    await admin.getByRole('link', { name: 'Users & roles' }).click();
    await admin.getByRole('button', { name: 'Create user' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('Username').fill(VIEWER.username);
    await dialog.getByLabel('Email').fill(VIEWER.email);
    expect(await dialog.getByTestId('role-description').textContent()).toBe('Read-only access to resources.');
    await dialog.getByLabel('Set the password myself (otherwise a temporary one is generated)').check();
    await dialog.getByLabel(exactLabel('Password')).fill(VIEWER.password);
    await shot(admin, '04-users', 'create');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await admin.getByRole('cell', { name: /vera@example\.test/ }).waitFor();
    await shot(admin, '04-users', 'list');

    viewer = await newDevice();
    await signIn(viewer.page, VIEWER);
    // An admin-set password may have to be changed first.
    const forced = viewer.page.getByRole('heading', { name: 'Choose a new password' });
    const dashboard = viewer.page.getByRole('heading', { name: 'Dashboard' });
    await forced.or(dashboard).waitFor({ timeout: 15_000 });
    if (await forced.isVisible()) {
      await viewer.page.getByLabel('Temporary password').fill(VIEWER.password);
      VIEWER.password = 'Second-Teal-Window-Orchard-78';
      await viewer.page.getByLabel(exactLabel('New password')).fill(VIEWER.password);
      await viewer.page.getByLabel(exactLabel('Repeat new password')).fill(VIEWER.password);
      await viewer.page.getByRole('button', { name: 'Change password' }).click();
      await dashboard.waitFor({ timeout: 15_000 });
    }
    const nav = viewer.page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: 'Dashboard' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Jobs' }).isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Users & roles' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    await viewer.page.goto(`${panel.url}/users`);
    await viewer.page.getByText('You do not have access to this page').waitFor({ timeout: 15_000 });
    await shot(viewer.page, '05-viewer', 'no-access');
    await viewer.page.goto(`${panel.url}/audit`);
    await viewer.page.getByText('You do not have access to this page').waitFor();
  });

  it('runs the self-test job and shows its log lines as they arrive', async () => {
    await admin.getByRole('link', { name: 'Jobs' }).click();
    await admin.getByRole('button', { name: 'Run self-test' }).click();
    await admin.waitForURL(/\/jobs\/[0-9a-f-]+$/);
    const count = async () => admin.locator('[data-log-line]').count();
    const state = async () => (await admin.getByTestId('job-progress').locator('[data-status]').first().getAttribute('data-status')) ?? '';
    // Seen while the job still runs: some lines are already on screen, more come later.
    let seenWhileRunning = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const [n, s] = [await count(), await state().catch(() => '')];
      if (s === 'running' && n > 0 && !seenWhileRunning) {
        seenWhileRunning = n;
        await shot(admin, '06-job', 'running');
      }
      if (s === 'succeeded' || s === 'failed') break;
      await admin.waitForTimeout(100);
    }
    expect(seenWhileRunning).toBeGreaterThan(0);
    await expect.poll(state, { timeout: 30_000 }).toBe('succeeded');
    const lines = await admin.locator('[data-log-line]').allTextContents();
    expect(lines.length).toBeGreaterThan(seenWhileRunning);
    expect(lines.some((l) => l.startsWith('Database (sqlite): ok'))).toBe(true);
    await shot(admin, '06-job', 'done');
  });

  it('revokes a session from My account and that device is signed out', async () => {
    // The viewer signs in on a second device, then ends that session from the first one.
    const phone = await newDevice();
    await phone.page.setViewportSize({ width: 390, height: 800 });
    await signIn(phone.page, VIEWER);
    await phone.page.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout: 15_000 });
    await shot(phone.page, '07-sessions', 'phone-dashboard');

    await viewer.page.goto(`${panel.url}/account`);
    const otherRow = viewer.page.getByRole('row').filter({ hasNot: viewer.page.getByText('this device') }).filter({ has: viewer.page.getByRole('button', { name: /^Sign out / }) });
    await expect.poll(() => otherRow.count(), { timeout: 15_000 }).toBe(1);
    await shot(viewer.page, '07-sessions', 'list');
    await otherRow.getByRole('button', { name: /^Sign out / }).click();
    await viewer.page.getByRole('dialog').getByRole('button', { name: 'Sign out device' }).click();
    await expect.poll(() => otherRow.count(), { timeout: 15_000 }).toBe(0);

    // The revoked device's next request (its live stream, or a click) fails and it lands on sign-in.
    const signInHeading = phone.page.getByRole('heading', { name: 'Sign in' });
    const burger = phone.page.getByRole('button', { name: 'Open navigation' });
    await signInHeading.waitFor({ timeout: 5_000 }).catch(async () => {
      await burger.click();
      await phone.page.getByRole('link', { name: 'My account' }).first().click();
    });
    await signInHeading.waitFor({ timeout: 15_000 });
    expect(await phone.page.getByText('Your session ended. Sign in again.').isVisible()).toBe(true);
    await shot(phone.page, '07-sessions', 'phone-signed-out');
    await phone.ctx.close();
  });

  it('finds all of it in the audit log, with an intact hash chain', async () => {
    await admin.getByRole('link', { name: 'Audit log' }).click();
    await admin.getByTestId('audit-verify').waitFor();
    expect(await admin.getByTestId('audit-verify').textContent()).toContain('Audit chain intact');
    const table = admin.locator('table');
    await table.waitFor();
    const actions = async () => (await table.locator('tbody code').allTextContents());
    await expect.poll(async () => (await actions()).length, { timeout: 15_000 }).toBeGreaterThan(5);
    const all = await actions();
    for (const a of ['setup.complete', 'auth.2fa.confirm', 'auth.logout', 'auth.login', 'job.selftest', 'auth.session.end']) {
      expect(all, `audit has ${a}`).toContain(a);
    }
    expect(all.some((a) => a === 'user.create' || a === 'users.create')).toBe(true);
    await shot(admin, '08-audit', 'list');
    // Filter by action, then open one entry's details.
    await admin.getByLabel('Action').fill('auth.session.end');
    await expect.poll(async () => [...new Set(await actions())], { timeout: 10_000 }).toEqual(['auth.session.end']);
    await table.locator('tbody tr').first().click();
    const drawer = admin.getByRole('dialog', { name: 'Audit entry' });
    await drawer.waitFor();
    expect(await drawer.getByText('vera (user)').isVisible()).toBe(true);
    await shot(admin, '08-audit', 'detail');
    await admin.keyboard.press('Escape');
    // Dark theme, chosen from the top bar, is remembered across loads.
    await admin.getByRole('button', { name: 'Switch to dark theme' }).click();
    await admin.getByRole('link', { name: 'Dashboard' }).click();
    await admin.reload();
    await admin.getByRole('heading', { name: 'Dashboard' }).waitFor();
    expect(await admin.locator('html').getAttribute('data-mantine-color-scheme')).toBe('dark');
    await admin.getByTestId('card-audit').waitFor();
    await shot(admin, '09-theme', 'dashboard-dark');
    expect(pageErrors).toEqual([]);
    await viewer.ctx.close();
    await adminCtx.close();
  });
});
